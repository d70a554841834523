"""The vocabulary of a tuning study: what to search (:class:`TuningSpec`), where it lives, what a trial gets.

A :class:`TuningSpec` holds every option of a search, once: the space, the metric and its direction, the
sampler, the number of trials, the timeout, the parallel workers, pruning and the seed. ``project.tune``,
``fti tune`` (the training spec's ``tuning`` section) and AutoML all build one and hand it to
:func:`fti.training.tuning.tune`.

Example:
    >>> from fti.training import space
    >>> TuningSpec({"max_depth": space.int(2, 8)}, sampler="grid", n_trials=None).total_trials()
    7
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fti.errors import ValidationError
from fti.training.space import Distribution
from fti.training.trainers import IterationCallback

if TYPE_CHECKING:
    import pandas as pd

    from fti.training.ports import RunLogger
    from fti.training.trainers import TrainingResult

__all__ = [
    "Direction",
    "Objective",
    "Sampler",
    "StudyStorage",
    "TrialHooks",
    "TrialLoggerFactory",
    "TuningResult",
    "TuningSpec",
]

Sampler = Literal["tpe", "random", "grid"]
Direction = Literal["maximize", "minimize"]
#: Opens the run one trial logs to, given the trial number (a nested run under the study's run).
TrialLoggerFactory = Callable[[int], AbstractContextManager["RunLogger"]]


@dataclass(frozen=True, slots=True)
class TuningSpec:
    """How to search: every option of a tuning study, checked when it is made.

    Args:
        space: parameter name -> distribution from :mod:`fti.training.space`.
        metric: the key of the result's metrics to optimize; the objective's default (``validation_f1``,
            ``validation_f1_macro`` or ``validation_rmse``) when None.
        direction: ``"maximize"`` or ``"minimize"``; minimize for losses and errors by default.
        sampler: ``"tpe"`` (default), ``"random"`` or ``"grid"`` (every combination of choices, once).
        n_trials: trials in all (over all workers); the grid's size for grid search when None.
        timeout: seconds after which no new trial starts.
        n_workers: trials running at once, each share of the trials a task on an executor (more than one
            needs the study in a folder, a picklable objective and trial logger, and an executor).
        pruning: stop trials whose intermediate validation loss is worse than the median (iterative trainers).
        seed: seeds the sampler (worker ``i`` uses ``seed + i``).

    Raises:
        ValidationError: an option is out of range, the space is empty, or a grid has a continuous parameter.
    """

    space: Mapping[str, Distribution]
    metric: str | None = None
    direction: Direction | None = None
    sampler: Sampler = "tpe"
    n_trials: int | None = 20
    timeout: float | None = None
    n_workers: int = 1
    pruning: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.sampler not in ("tpe", "random", "grid"):
            raise ValidationError(f"Unknown sampler '{self.sampler}'. Use 'tpe', 'random' or 'grid'.")
        if self.direction not in (None, "maximize", "minimize"):
            raise ValidationError(f"Unknown direction '{self.direction}'. Use 'maximize' or 'minimize'.")
        if not self.space:
            raise ValidationError(
                "The search space is empty: give at least one parameter, e.g. {'C': space.loguniform(1e-3, 10)}."
            )
        if self.n_workers < 1:
            raise ValidationError(f"n_workers must be >= 1, got {self.n_workers}.")
        if self.timeout is not None and not (math.isfinite(self.timeout) and self.timeout > 0):
            raise ValidationError(f"timeout must be a positive number of seconds, got {self.timeout}.")
        if self.sampler != "grid" and (self.n_trials is None or self.n_trials < 1):
            raise ValidationError(f"n_trials must be >= 1 for the '{self.sampler}' sampler, got {self.n_trials}.")
        if self.sampler == "grid" and self.n_trials is not None and self.n_trials < 1:
            raise ValidationError(f"n_trials must be >= 1 (or None for the whole grid), got {self.n_trials}.")
        self.total_trials()  # a grid over a continuous range fails here, before any trial

    def total_trials(self) -> int:
        """How many trials the study runs: ``n_trials``, or the grid's size for a grid search without it."""
        if self.sampler != "grid":
            return int(self.n_trials or 0)
        size = 1
        for name, distribution in self.space.items():
            try:
                size *= len(distribution.grid_values())
            except ValidationError as exc:
                raise ValidationError(f"Parameter '{name}': {exc}") from exc
        return size if self.n_trials is None else self.n_trials


@dataclass(frozen=True, slots=True)
class StudyStorage:
    """Where a study lives: in memory, a journal file in ``folder``, or the database at ``url``.

    An existing study of the same ``name`` is resumed. Parallel workers need ``folder`` (their best models
    are kept there until the study ends), with or without ``url``.
    """

    name: str = "study"
    folder: Path | None = None
    #: a SQLAlchemy database URL to keep the study in (Optuna's RDB storage, e.g. on PostgreSQL)
    url: str | None = None


@dataclass(frozen=True, slots=True)
class TrialHooks:
    """What a trial's objective gets besides its params: its number, its run, and the iteration reporter."""

    number: int
    logger: RunLogger
    #: report each iteration's validation loss; raises to stop a trial the pruner gives up on
    on_iteration: IterationCallback


#: Trains with the trial's params and returns the result (or just the value of the metric).
Objective = Callable[[dict[str, Any], TrialHooks], "TrainingResult | float"]


@dataclass(frozen=True, slots=True)
class TuningResult:
    """The best trial of a study, its trained model, and every trial as a table."""

    best_params: dict[str, Any]
    best_value: float
    best_trial: int
    #: the best trial's trained model (None when the objective returned only a value)
    best_model: Any
    metric: str
    direction: Direction
    trials: pd.DataFrame
    n_complete: int
    n_pruned: int
