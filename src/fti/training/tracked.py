"""Tracked training: train, tune or run AutoML inside tracking runs and register the best model with lineage.

:class:`TrainingService` is what ``project.train``, ``project.tune`` and ``project.automl`` delegate to. Each
opens one run in the experiment (the study's or AutoML's parent run, with a nested run per trial), logs
params, metrics and figures to it, and registers the fitted pipeline (preprocessing and model) with
``run.log_model``: the version's signature comes from the training data's feature columns and its lineage
from the training dataset and the feature-group commits it read. What to train is a :class:`ModelRecipe`,
where to log it a :class:`RunSettings`, how to search a :class:`~fti.training.study.TuningSpec` or an
:class:`~fti.training.automl.AutoMLSpec`: each option is spelled out once.

Example:
    >>> trained = project.training.train(td, ModelRecipe("xgboost"), RunSettings(register="fraud"))  # doctest: +SKIP
    >>> trained.version.lineage()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from fti.core.lineage import TrainingDataRef
from fti.errors import NotFoundError, ValidationError
from fti.training.automl import AutoMLResult, AutoMLSpec, automl
from fti.training.evaluation import evaluate
from fti.training.explain import permutation_importance
from fti.training.ports import Dataset, ModelRun, ProjectOpener, RunStarter, SplitData, Splits
from fti.training.preprocessing import PreprocessingConfig
from fti.training.study import StudyStorage, TrialLoggerFactory, TuningResult, TuningSpec
from fti.training.trainers import TrainingResult, train
from fti.training.tuning import TrainObjective, tune

if TYPE_CHECKING:
    from fti.backends.ports import Executor

__all__ = ["ModelRecipe", "RunSettings", "Tracked", "TrainingService", "TrialRuns", "WorkerTrialRuns", "in_memory"]


ResultT = TypeVar("ResultT", TrainingResult, TuningResult, AutoMLResult)


@dataclass(frozen=True, slots=True)
class Tracked(Generic[ResultT]):
    """What a tracked command produced: the library's result, the run it logged to, the registered version."""

    #: a TrainingResult (train), TuningResult (tune) or AutoMLResult (automl)
    result: ResultT
    run_id: str
    #: the registered model version (None when nothing was registered)
    version: Any = None
    metrics: Mapping[str, float] | None = None


@dataclass(frozen=True, slots=True)
class ModelRecipe:
    """What to train: a model family (or an unfitted estimator), the task, params and preprocessing.

    Args:
        model: a model type (``"logistic_regression"``, ``"xgboost"``, ...) or an unfitted scikit-learn
            estimator (training only; tuning takes a type).
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``; inferred from the labels when None.
        params: the model's params over the family's defaults (fixed for every trial when tuning).
        preprocessing: imputation, scaling and encoding.
    """

    model: str | Any
    task: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    preprocessing: PreprocessingConfig | None = None


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Where a tracked command logs and what it registers.

    Args:
        experiment: the run's experiment (default: the registered name, else the feature view's name).
        run_name: the run's name (default: the command's, e.g. ``tune-xgboost``).
        register: the model name to register the fitted pipeline under (nothing is registered when None).
    """

    experiment: str | None = None
    run_name: str | None = None
    register: str | None = None

    def experiment_for(self, data: SplitData, default: str) -> str:
        """The experiment to log to."""
        if self.experiment:
            return self.experiment
        if self.register:
            return self.register.replace("-", "_")
        return str(getattr(data, "feature_view_name", default))


def in_memory(data: SplitData) -> Splits:
    """The splits read once into memory (picklable, so worker processes can take them)."""
    if isinstance(data, Splits):
        return data
    return Splits(train=data.train, validation=_optional(data, "validation"), test=_optional(data, "test"))


def _optional(data: SplitData, split: str) -> Dataset | None:
    try:
        found: Dataset | None = getattr(data, split)
        return found
    except NotFoundError:  # a training dataset without that split
        return None


def _lineage(data: SplitData) -> TrainingDataRef | None:
    return data if isinstance(data, TrainingDataRef) else None


class TrainingService:
    """Train, tune and run AutoML in tracked runs of one project.

    Args:
        runs: starts the runs (the project's tracking).
        studies: the folder of tuning studies run by parallel workers.
        opener: opens the project again in a worker process, to log its trials.
        executor: the project's executor, opened on first use; parallel trials run on it.
    """

    def __init__(
        self, runs: RunStarter, *, studies: Path, opener: ProjectOpener, executor: Callable[[], Executor]
    ) -> None:
        self._runs = runs
        self._studies = studies
        self._opener = opener
        self._executor = executor

    def train(
        self, data: SplitData, recipe: ModelRecipe, settings: RunSettings = RunSettings(), *, importance: bool = False
    ) -> Tracked[TrainingResult]:
        """Train ``recipe`` on ``data`` in a new run, log it all, and register the pipeline.

        ``importance`` also logs permutation importance on the test split (or validation) as a table and a plot.
        """
        experiment = settings.experiment_for(data, "training")
        with self._runs.start_run(experiment, settings.run_name, training_data=_lineage(data)) as run:
            splits = in_memory(data)
            result = train(
                splits,
                recipe.model,
                task=recipe.task,
                params=recipe.params,
                preprocessing=recipe.preprocessing,
                logger=run,
                executor=self._executor,
            )
            if importance:
                held_out = splits.test or splits.validation or splits.train
                permutation_importance(result.model, *held_out, task=result.task, logger=run)
            version = run.log_model(result.model, settings.register) if settings.register else None
            return Tracked(result, run.id, version, result.metrics)

    def tune(
        self, data: SplitData, recipe: ModelRecipe, spec: TuningSpec, settings: RunSettings = RunSettings()
    ) -> Tracked[TuningResult]:
        """Tune ``recipe``'s model over ``spec`` in a study run with a nested run per trial; register the best.

        With ``spec.n_workers`` > 1 the trials run as tasks on the project's executor, sharing one study (a
        journal file in the studies folder); each worker logs its trials' runs through the project it opens.
        """
        if not isinstance(recipe.model, str):
            raise ValidationError(
                f"Tuning takes a model type such as 'xgboost', got a {type(recipe.model).__name__}: "
                "train an estimator with train(), or tune a type over its params."
            )
        splits = in_memory(data)
        name = settings.experiment_for(data, "tuning")
        run_name = settings.run_name or f"tune-{recipe.model}"
        with self._runs.start_run(name, run_name, training_data=_lineage(data), tags={"study": "tune"}) as run:
            logged = {"sampler": spec.sampler, "n_trials": spec.n_trials, "n_workers": spec.n_workers}
            run.log_params({"model": recipe.model, **logged, "pruning": spec.pruning})
            trial_logger: TrialLoggerFactory
            if spec.n_workers > 1:
                trial_logger = WorkerTrialRuns(self._opener, name, run.id)
            else:
                trial_logger = TrialRuns(self._runs, name, run.id)
            objective = TrainObjective(splits, recipe.model, recipe.task, dict(recipe.params), recipe.preprocessing)
            result = tune(
                objective,
                spec,
                storage=StudyStorage(f"{name}-{run.id}", self._studies),
                trial_logger=trial_logger,
                executor=self._executor() if spec.n_workers > 1 else None,
            )
            metrics = _log_best(run, result, splits, recipe.task)
            register = settings.register
            version = run.log_model(result.best_model, register) if register and result.best_model is not None else None
            return Tracked(result, run.id, version, metrics)

    def automl(self, data: SplitData, spec: AutoMLSpec, settings: RunSettings = RunSettings()) -> Tracked[AutoMLResult]:
        """Run AutoML in a parent run, each family's trials as nested runs; register the best model."""
        splits = in_memory(data)
        name = settings.experiment_for(data, "automl")
        run_name = settings.run_name or "automl"
        with self._runs.start_run(name, run_name, training_data=_lineage(data), tags={"study": "automl"}) as run:
            families = list(spec.families)
            run.log_params(
                {"time_budget": spec.time_budget, "families": families, "trials_per_family": spec.trials_per_family}
            )
            started = time.monotonic()

            def family_trial(family: str, number: int) -> contextlib.AbstractContextManager[ModelRun]:
                return _trial_run(self._runs, name, run.id, f"{family}-trial-{number}", number, family)

            result = automl(splits, spec, trial_logger=family_trial)
            best = result.best
            run.set_tag("best_family", best.family)
            run.log_dict(
                {"leaderboard": result.leaderboard.to_dict("records"), "skipped": result.skipped}, "leaderboard.json"
            )
            metrics = {f"best_{result.metric}": best.value, "seconds": time.monotonic() - started}
            if splits.test is not None:
                metrics |= evaluate(best.model, splits.test, spec.task, run, prefix="test_").metrics
            run.log_metrics(metrics)
            version = run.log_model(best.model, settings.register) if settings.register else None
            return Tracked(result, run.id, version, metrics)


@dataclass(frozen=True, slots=True)
class TrialRuns:
    """Opens each trial's run, nested under the parent run, in this process."""

    project: RunStarter
    experiment: str
    parent_id: str
    prefix: str = "trial"

    def __call__(self, number: int) -> contextlib.AbstractContextManager[ModelRun]:
        """The run of trial ``number``."""
        return _trial_run(self.project, self.experiment, self.parent_id, f"{self.prefix}-{number}", number)


@dataclass(frozen=True, slots=True)
class WorkerTrialRuns:
    """Opens each trial's run from a worker process: the project is opened by path for each trial."""

    opener: ProjectOpener
    experiment: str
    parent_id: str

    @contextlib.contextmanager
    def __call__(self, number: int) -> Iterator[ModelRun]:
        """The run of trial ``number``; the project is closed (its metrics written) when the trial ends."""
        with (
            self.opener() as project,
            _trial_run(project, self.experiment, self.parent_id, f"trial-{number}", number) as run,
        ):
            yield run


@contextlib.contextmanager
def _trial_run(
    project: RunStarter, experiment: str, parent_id: str, name: str, number: int, family: str | None = None
) -> Iterator[ModelRun]:
    tags: dict[str, Any] = {"trial": number} if family is None else {"trial": number, "family": family}
    run = project.start_run(experiment, name, parent=parent_id, tags=tags)
    try:
        yield run
    except BaseException as exc:
        if type(exc).__name__ == "TrialPruned":  # a pruned trial ended as planned
            run.set_tag("trial_state", "pruned")
            run.end("finished")
        else:
            run.end("failed", f"{type(exc).__name__}: {exc}")
        raise
    run.set_tag("trial_state", "complete")
    run.end("finished")


def _log_best(run: ModelRun, result: TuningResult, data: Splits, task: str | None) -> dict[str, float]:
    run.log_params({f"best.{key}": value for key, value in result.best_params.items()})
    run.set_tag("best_trial", str(result.best_trial))
    metrics = {
        f"best_{result.metric}": result.best_value,
        "n_complete": float(result.n_complete),
        "n_pruned": float(result.n_pruned),
    }
    if result.best_model is not None:
        for split in ("validation", "test"):
            held_out = getattr(data, split)
            if held_out is not None:  # the kept model's figures, drawn once
                metrics |= evaluate(result.best_model, held_out, task, run, prefix=f"{split}_").metrics
    run.log_metrics(metrics)
    return metrics
