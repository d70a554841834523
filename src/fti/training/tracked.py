"""Tracked training: train, tune or run AutoML inside tracking runs and register the best model with lineage.

These are the functions behind ``project.train``, ``project.tune`` and ``project.automl``. Each opens one
run in the experiment (the study's or AutoML's parent run, with a nested run per trial), logs params,
metrics and figures to it, and registers the fitted pipeline (preprocessing and model) with
``run.log_model``: the version's signature comes from the training data's feature columns and its lineage
from the training dataset and the feature-group commits it read.

Example:
    >>> trained = train_tracked(project, td, "xgboost", register="fraud-detector")  # doctest: +SKIP
    >>> trained.version.lineage()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fti.core.lineage import TrainingDataRef
from fti.errors import NotFoundError, ValidationError
from fti.training.automl import FAMILIES, AutoMLResult, automl
from fti.training.evaluation import evaluate
from fti.training.explain import permutation_importance
from fti.training.ports import ModelRun, ProjectOpener, RunStarter, SplitData, Splits
from fti.training.preprocessing import PreprocessingConfig
from fti.training.space import Distribution
from fti.training.trainers import train
from fti.training.tuning import Direction, Sampler, TrainObjective, TuningResult, tune

__all__ = ["Tracked", "TrialRuns", "WorkerTrialRuns", "automl_tracked", "in_memory", "train_tracked", "tune_tracked"]


@dataclass(frozen=True, slots=True)
class Tracked:
    """What a tracked command produced: the library's result, the run it logged to, the registered version."""

    #: a TrainingResult (train), TuningResult (tune) or AutoMLResult (automl)
    result: Any
    run_id: str
    #: the registered model version (None when nothing was registered)
    version: Any = None
    metrics: Mapping[str, float] | None = None


def in_memory(data: SplitData) -> Splits:
    """The splits read once into memory (picklable, so worker processes can take them)."""
    if isinstance(data, Splits):
        return data
    return Splits(train=data.train, validation=_optional(data, "validation"), test=_optional(data, "test"))


def _optional(data: SplitData, split: str) -> Any:
    try:
        return getattr(data, split)
    except NotFoundError:  # a training dataset without that split
        return None


def _experiment(experiment: str | None, register: str | None, data: SplitData, default: str) -> str:
    if experiment:
        return experiment
    if register:
        return register.replace("-", "_")
    return str(getattr(data, "feature_view_name", default))


def _lineage(data: SplitData) -> TrainingDataRef | None:
    return data if isinstance(data, TrainingDataRef) else None


def train_tracked(
    project: RunStarter,
    data: SplitData,
    model: str | Any,
    *,
    task: str | None = None,
    params: Mapping[str, Any] | None = None,
    preprocessing: PreprocessingConfig | None = None,
    experiment: str | None = None,
    run_name: str | None = None,
    register: str | None = None,
    importance: bool = False,
) -> Tracked:
    """Train ``model`` on ``data`` in a new run, log it all, and register the pipeline as ``register``.

    Args:
        project: starts the run (a project).
        data: the training dataset (its lineage is recorded when it is a feature store training dataset).
        model: a model type name or an unfitted scikit-learn-compatible estimator (see :func:`train`).
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``; inferred when None.
        params: the model's params over the family's defaults.
        preprocessing: imputation, scaling and encoding.
        experiment: the run's experiment; the registered name (or the feature view's name) when None.
        run_name: the run's name.
        register: register the fitted pipeline under this model name.
        importance: log permutation importance on the test split (or validation) as a table and a plot.
    """
    with project.start_run(
        _experiment(experiment, register, data, "training"), run_name, training_data=_lineage(data)
    ) as run:
        splits = in_memory(data)
        result = train(splits, model, task=task, params=params, preprocessing=preprocessing, logger=run)
        if importance:
            held_out = splits.test or splits.validation or splits.train
            permutation_importance(result.model, *held_out, task=result.task, logger=run)
        version = run.log_model(result.model, register) if register else None
        return Tracked(result, run.id, version, result.metrics)


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


def tune_tracked(
    project: RunStarter,
    data: SplitData,
    model: str,
    space: Mapping[str, Distribution],
    *,
    metric: str | None = None,
    direction: Direction | None = None,
    sampler: Sampler = "tpe",
    n_trials: int | None = 20,
    timeout: float | None = None,
    n_workers: int = 1,
    pruning: bool = True,
    experiment: str | None = None,
    register: str | None = None,
    task: str | None = None,
    params: Mapping[str, Any] | None = None,
    preprocessing: PreprocessingConfig | None = None,
    storage_dir: Path | None = None,
    storage_url: str | None = None,
    opener: ProjectOpener | None = None,
    seed: int = 0,
) -> Tracked:
    """Tune ``model`` over ``space`` in a study run with a nested run per trial; register the best model.

    With ``n_workers`` > 1 the trials run in worker processes sharing one study (a journal file in
    ``storage_dir``, or the database at ``storage_url``); each worker logs its trials' runs through a
    project it opens with ``opener``.
    """
    if n_workers > 1 and opener is None:
        raise ValidationError(
            f"{n_workers} workers log their trials through the project: pass opener=..., or n_workers=1."
        )
    splits = in_memory(data)
    name = _experiment(experiment, register, data, "tuning")
    with project.start_run(name, f"tune-{model}", training_data=_lineage(data), tags={"study": "tune"}) as run:
        run.log_params(
            {"model": model, "sampler": sampler, "n_trials": n_trials, "n_workers": n_workers, "pruning": pruning}
        )
        trial_logger: Any
        if n_workers > 1:
            assert opener is not None
            trial_logger = WorkerTrialRuns(opener, name, run.id)
        else:
            trial_logger = TrialRuns(project, name, run.id)
        result = tune(
            TrainObjective(splits, model, task, dict(params or {}), preprocessing),
            space,
            metric=metric,
            direction=direction,
            sampler=sampler,
            n_trials=n_trials,
            timeout=timeout,
            pruning=pruning,
            n_workers=n_workers,
            storage_dir=storage_dir,
            storage_url=storage_url,
            study_name=f"{name}-{run.id}",
            trial_logger=trial_logger,
            seed=seed,
        )
        metrics = _log_best(run, result, splits, task)
        version = run.log_model(result.best_model, register) if register and result.best_model is not None else None
        return Tracked(result, run.id, version, metrics)


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


def automl_tracked(
    project: RunStarter,
    data: SplitData,
    *,
    task: str | None = None,
    time_budget: float = 300.0,
    families: tuple[str, ...] = FAMILIES,
    trials_per_family: int = 10,
    metric: str | None = None,
    experiment: str | None = None,
    register: str | None = None,
    seed: int = 0,
) -> Tracked:
    """Run AutoML in a parent run, each family's trials as nested runs; register the best model."""
    splits = in_memory(data)
    name = _experiment(experiment, register, data, "automl")
    with project.start_run(name, "automl", training_data=_lineage(data), tags={"study": "automl"}) as run:
        run.log_params({"time_budget": time_budget, "families": list(families), "trials_per_family": trials_per_family})
        started = time.monotonic()

        def family_trial(family: str, number: int) -> contextlib.AbstractContextManager[ModelRun]:
            return _trial_run(project, name, run.id, f"{family}-trial-{number}", number, family)

        result: AutoMLResult = automl(
            splits,
            task,
            time_budget=time_budget,
            families=families,
            trials_per_family=trials_per_family,
            metric=metric,
            trial_logger=family_trial,
            seed=seed,
        )
        best = result.best
        run.set_tag("best_family", best.family)
        run.log_dict(
            {"leaderboard": result.leaderboard.to_dict("records"), "skipped": result.skipped}, "leaderboard.json"
        )
        metrics = {f"best_{result.metric}": best.value, "seconds": time.monotonic() - started}
        if splits.test is not None:
            metrics |= evaluate(best.model, splits.test, task, run, prefix="test_").metrics
        run.log_metrics(metrics)
        version = run.log_model(best.model, register) if register else None
        return Tracked(result, run.id, version, metrics)
