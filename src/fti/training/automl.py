"""AutoML: try several model families, each tuned briefly within a shared time budget, and rank them.

Families: linear (logistic or ridge), random forest, XGBoost, LightGBM and the PyTorch MLP (skipped, and
said so, when the ``torch`` extra is missing). Each family gets an equal share of the budget left when its
turn comes, so time a fast family does not use passes on to the next. Candidates are ranked on the
validation split's metric; the test split is only reported.

Example:
    >>> result = automl(td, AutoMLSpec(time_budget=120))  # doctest: +SKIP
    >>> result.leaderboard  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import importlib.util
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fti.errors import ValidationError
from fti.training import space
from fti.training.ports import RunLogger, SplitData
from fti.training.preprocessing import PreprocessingConfig
from fti.training.space import Distribution
from fti.training.study import Direction, TuningResult, TuningSpec
from fti.training.tasks import Task, default_metric, is_loss, validate_task
from fti.training.tuning import TrainObjective, tune

__all__ = ["FAMILIES", "AutoMLResult", "AutoMLSpec", "Candidate", "automl", "family_space"]

FAMILIES = ("linear", "random_forest", "xgboost", "lightgbm", "mlp")
#: Opens the run one trial of one family logs to, given the family and the trial number.
FamilyTrialLogger = Callable[[str, int], AbstractContextManager[RunLogger]]


@dataclass(frozen=True, slots=True)
class Candidate:
    """The best model of one family, with its tuned params and metrics."""

    family: str
    value: float
    params: dict[str, Any]
    metrics: dict[str, float]
    model: Any
    n_trials: int
    seconds: float


@dataclass(frozen=True, slots=True)
class AutoMLResult:
    """Every family's best candidate, best first, and the families that were skipped (with why)."""

    candidates: tuple[Candidate, ...]
    metric: str
    direction: str
    skipped: dict[str, str]

    @property
    def best(self) -> Candidate:
        """The best candidate over all families."""
        return self.candidates[0]

    @property
    def leaderboard(self) -> pd.DataFrame:
        """One row per family, best first: the metric, the test metrics, the trials and the seconds."""
        rows = [
            {
                "family": c.family,
                self.metric: c.value,
                **{k: v for k, v in c.metrics.items() if k.startswith("test_")},
                "trials": c.n_trials,
                "seconds": round(c.seconds, 2),
            }
            for c in self.candidates
        ]
        return pd.DataFrame(rows)


def family_space(family: str, task: Task) -> dict[str, Distribution]:
    """The small search space AutoML tunes a family over."""
    spaces: Mapping[str, dict[str, Distribution]] = {
        "linear": {"alpha": space.loguniform(1e-3, 100.0)}
        if task == "regression"
        else {"C": space.loguniform(1e-3, 100.0)},
        "random_forest": {"n_estimators": space.int(50, 300, step=50), "max_depth": space.choice([None, 4, 8, 16])},
        "xgboost": {
            "max_depth": space.int(2, 6),
            "learning_rate": space.loguniform(0.01, 0.3),
            "subsample": space.uniform(0.6, 1.0),
        },
        "lightgbm": {"num_leaves": space.int(4, 64, log=True), "learning_rate": space.loguniform(0.01, 0.3)},
        "mlp": {"lr": space.loguniform(1e-4, 3e-2), "batch_size": space.choice([32, 64, 128])},
    }
    if family not in spaces:
        raise ValidationError(f"Unknown AutoML family '{family}'. Use some of: {', '.join(FAMILIES)}.")
    return dict(spaces[family])


@dataclass(frozen=True, slots=True)
class AutoMLSpec:
    """What AutoML searches: every option, once (``project.automl`` builds one).

    Args:
        task: the learning task; inferred from the target when None.
        time_budget: seconds for the whole search; shared equally by the families still to run.
        families: which of :data:`FAMILIES` to try, in order.
        trials_per_family: at most this many trials per family.
        metric: the metric to rank on (e.g. ``validation_roc_auc``); the task's default when None.
        preprocessing: the preprocessing for every family; the trainers' default when None.
        n_jobs: threads for the families that take them (random forest, XGBoost, LightGBM).
        seed: seeds the samplers and the models.

    Raises:
        ValidationError: a family is unknown or none is given, or the budget or trials are not positive.
    """

    task: str | None = None
    time_budget: float = 300.0
    families: tuple[str, ...] = FAMILIES
    trials_per_family: int = 10
    metric: str | None = None
    preprocessing: PreprocessingConfig | None = None
    n_jobs: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [family for family in self.families if family not in FAMILIES]
        if unknown or not self.families:
            raise ValidationError(f"Unknown AutoML families {unknown}. Use some of: {', '.join(FAMILIES)}.")
        if not self.time_budget > 0:
            raise ValidationError(f"time_budget must be a positive number of seconds, got {self.time_budget}.")
        if self.trials_per_family < 1:
            raise ValidationError(f"trials_per_family must be >= 1, got {self.trials_per_family}.")


def automl(
    data: SplitData, spec: AutoMLSpec | None = None, *, trial_logger: FamilyTrialLogger | None = None
) -> AutoMLResult:
    """Tune each model family briefly within the spec's time budget and rank the families' best models.

    Args:
        data: the training dataset's splits (a validation split is used for ranking when present).
        spec: what to search (default: every family, 300 seconds, 10 trials each).
        trial_logger: opens the run of one trial, given the family and the trial number.
    """
    spec = spec or AutoMLSpec()
    resolved: Task = validate_task(spec.task, data.train[1])
    split = "validation" if data.validation is not None else "test"
    chosen_metric = spec.metric or f"{split}_{default_metric(resolved)}"
    direction: Direction = "minimize" if is_loss(chosen_metric) else "maximize"
    deadline = time.monotonic() + spec.time_budget
    candidates: list[Candidate] = []
    skipped: dict[str, str] = {}
    families = spec.families
    for index, family in enumerate(families):
        if family == "mlp" and importlib.util.find_spec("torch") is None:
            skipped[family] = "needs the 'torch' extra: pip install 'fti[torch]'"
            continue
        share = (deadline - time.monotonic()) / (len(families) - index)
        if share <= 0:
            skipped[family] = "the time budget ran out before its turn"
            continue
        started = time.monotonic()
        params = _fixed_params(family, spec.n_jobs, spec.seed)
        objective = TrainObjective(data, family, resolved, params, spec.preprocessing)
        logger = None if trial_logger is None else functools.partial(trial_logger, family)
        search = TuningSpec(
            family_space(family, resolved),
            metric=chosen_metric,
            direction=direction,
            n_trials=spec.trials_per_family,
            timeout=share,
            seed=spec.seed,
        )
        tuned = tune(objective, search, trial_logger=logger)
        candidates.append(_candidate(family, tuned, objective, time.monotonic() - started))
    if not candidates:
        raise ValidationError(f"AutoML trained no model: {skipped}. Raise time_budget or choose other families.")
    candidates.sort(key=lambda candidate: candidate.value, reverse=direction == "maximize")
    return AutoMLResult(tuple(candidates), chosen_metric, direction, skipped)


def _fixed_params(family: str, n_jobs: int | None, seed: int) -> dict[str, Any]:
    if family == "mlp":
        return {"epochs": 60, "patience": 5, "progress": False, "seed": seed}
    params: dict[str, Any] = {} if family == "linear" else {"random_state": seed}
    if n_jobs is not None and family != "linear":
        params["n_jobs"] = n_jobs
    return params


def _candidate(family: str, tuned: TuningResult, objective: TrainObjective, seconds: float) -> Candidate:
    model = tuned.best_model
    metrics: dict[str, float] = {}
    test = objective.data.test
    if test is not None and model is not None:
        from fti.training.evaluation import evaluate

        metrics = evaluate(model, test, objective.task, prefix="test_", figures=False).metrics
    return Candidate(family, tuned.best_value, tuned.best_params, metrics, model, tuned.n_complete, seconds)
