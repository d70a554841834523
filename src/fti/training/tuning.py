"""Hyperparameter tuning on Optuna: :func:`tune` searches a :class:`~fti.training.study.TuningSpec`.

With ``n_workers`` > 1 the trials run as that many tasks on an executor (the project's), sharing one study
through Optuna's journal file (or a database) in the study's folder, so no trial is lost or run twice (see
:mod:`fti.training.trials`). Iterative trainers report each iteration's validation loss, and the pruner
stops unpromising trials early.

Example:
    >>> from fti.training import space
    >>> spec = TuningSpec({"max_depth": space.int(2, 8)}, n_trials=20)
    >>> result = tune(TrainObjective(td, "xgboost"), spec)  # doctest: +SKIP
    >>> result.best_params  # doctest: +SKIP
    {'max_depth': 3}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fti.errors import ValidationError
from fti.training.ports import SplitData
from fti.training.preprocessing import PreprocessingConfig
from fti.training.study import (
    Direction,
    Objective,
    Sampler,
    StudyStorage,
    TrialHooks,
    TrialLoggerFactory,
    TuningResult,
    TuningSpec,
)
from fti.training.tasks import default_metric, is_loss, validate_task
from fti.training.trainers import TrainingResult, train
from fti.training.trials import Study, run_here, run_parallel

if TYPE_CHECKING:
    from fti.backends.ports import Executor

__all__ = [
    "Direction",
    "Objective",
    "Sampler",
    "StudyStorage",
    "TrainObjective",
    "TrialHooks",
    "TrialLoggerFactory",
    "TuningResult",
    "TuningSpec",
    "tune",
]


@dataclass(frozen=True, slots=True)
class TrainObjective:
    """An objective that trains model family ``model`` on ``data`` with the trial's params over ``params``."""

    data: SplitData
    model: str
    task: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    preprocessing: PreprocessingConfig | None = None
    #: trials log metrics only; the figures are drawn for the model one keeps
    figures: bool = False

    def __call__(self, params: dict[str, Any], hooks: TrialHooks) -> TrainingResult:
        """Train one candidate."""
        return train(
            self.data,
            self.model,
            task=self.task,
            params={**self.params, **params},
            preprocessing=self.preprocessing,
            logger=hooks.logger,
            on_iteration=hooks.on_iteration,
            figures=self.figures,
        )

    def default_metric(self) -> str:
        """The validation split's default metric for the task (the test split's when there is no validation)."""
        split = "validation" if self.data.validation is not None else "test"
        return f"{split}_{default_metric(validate_task(self.task, self.data.train[1]))}"


def tune(
    objective: Objective,
    spec: TuningSpec,
    *,
    storage: StudyStorage | None = None,
    trial_logger: TrialLoggerFactory | None = None,
    executor: Executor | None = None,
) -> TuningResult:
    """Search ``spec.space`` for the params that optimize its metric, and return the best trial's model.

    Args:
        objective: trains one candidate from a trial's params, e.g. ``TrainObjective(td, "xgboost")``.
        spec: the search (see :class:`TuningSpec`).
        storage: where the study lives (default: in memory, named 'study').
        trial_logger: opens the run each trial logs to, given the trial number.
        executor: runs the workers' shares of the trials when ``spec.n_workers`` > 1 (an open executor,
            e.g. the project's).

    Raises:
        ValidationError: the objective has no default metric and the spec names none, parallel workers lack
            a study folder or an executor, or no trial completed.
    """
    where = storage or StudyStorage()
    metric = spec.metric or _default_metric(objective)
    direction: Direction = spec.direction or ("minimize" if is_loss(metric) else "maximize")
    study = Study(objective, spec, metric, direction, where, trial_logger)
    if spec.n_workers == 1:
        return run_here(study)
    if where.folder is None:
        raise ValidationError(
            f"{spec.n_workers} workers share one study through a journal file: give the study a folder "
            "(StudyStorage(folder=...)), or use n_workers=1."
        )
    if executor is None:
        raise ValidationError(
            f"{spec.n_workers} workers run their trials as tasks on an executor: pass executor=... "
            "(project.tune passes the project's), or use n_workers=1."
        )
    return run_parallel(study, executor)


def _default_metric(objective: Objective) -> str:
    find = getattr(objective, "default_metric", None)
    if find is None:
        raise ValidationError(
            "tune() needs a metric for this objective: name the metric key it returns, "
            "e.g. TuningSpec(space, metric='validation_f1')."
        )
    return str(find())
