"""Hyperparameter tuning on Optuna: search spaces, samplers, pruning and parallel worker processes.

A study's trials can run in several processes that share one study through Optuna's journal storage
(one file in ``storage_dir``); each process draws its own trials, so none is lost or run twice. Iterative
trainers report each iteration's validation loss, and the pruner stops unpromising trials early.

Example:
    >>> from fti.training import space
    >>> result = tune(TrainObjective(td, "xgboost"), {"max_depth": space.int(2, 8)}, n_trials=20)  # doctest: +SKIP
    >>> result.best_params  # doctest: +SKIP
    {'max_depth': 3}
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from fti.errors import ValidationError
from fti.training.ports import NullRunLogger, RunLogger, SplitData
from fti.training.preprocessing import PreprocessingConfig
from fti.training.space import Distribution
from fti.training.tasks import default_metric, is_loss, validate_task
from fti.training.trainers import IterationCallback, TrainingResult, train

if TYPE_CHECKING:
    import optuna

__all__ = ["Objective", "TrainObjective", "TrialHooks", "TrialLoggerFactory", "TuningResult", "tune"]

Sampler = Literal["tpe", "random", "grid"]
Direction = Literal["maximize", "minimize"]
#: Opens the run one trial logs to, given the trial number (a nested run under the study's run).
TrialLoggerFactory = Callable[[int], AbstractContextManager[RunLogger]]


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


@dataclass(frozen=True, slots=True)
class _Study:
    """Everything a worker process needs to join the study (picklable)."""

    objective: Objective
    space: Mapping[str, Distribution]
    metric: str
    direction: Direction
    sampler: Sampler
    pruning: bool
    seed: int
    name: str
    storage_dir: Path | None
    storage_url: str | None
    trial_logger: TrialLoggerFactory | None
    timeout: float | None


def tune(
    objective: Objective,
    space: Mapping[str, Distribution],
    *,
    metric: str | None = None,
    direction: Direction | None = None,
    sampler: Sampler = "tpe",
    n_trials: int | None = 20,
    timeout: float | None = None,
    pruning: bool = True,
    n_workers: int = 1,
    storage_dir: str | Path | None = None,
    storage_url: str | None = None,
    study_name: str = "study",
    trial_logger: TrialLoggerFactory | None = None,
    seed: int = 0,
) -> TuningResult:
    """Search ``space`` for the params that optimize ``metric``, and return the best trial's model.

    Args:
        objective: trains one candidate from a trial's params, e.g. ``TrainObjective(td, "xgboost")``.
        space: parameter name -> distribution from :mod:`fti.training.space`.
        metric: the key of the result's metrics to optimize; the objective's default
            (``validation_f1``, ``validation_f1_macro`` or ``validation_rmse``) when None.
        direction: ``"maximize"`` or ``"minimize"``; minimize for losses and errors by default.
        sampler: ``"tpe"`` (default), ``"random"`` or ``"grid"`` (every combination of choices, once).
        n_trials: trials in all (over all workers); the grid's size for grid search when None.
        timeout: seconds after which no new trial starts.
        pruning: stop trials whose intermediate validation loss is worse than the median (iterative trainers).
        n_workers: processes running trials of one study at once; more than one needs ``storage_dir`` and a
            picklable objective and ``trial_logger``.
        storage_dir: folder of the study's journal file (and of the workers' best models); in memory when None.
        storage_url: a SQLAlchemy database URL to keep the study in (Optuna's RDB storage, e.g. on a
            PostgreSQL server) instead of the journal file.
        study_name: the study's name in its storage; an existing study is resumed.
        trial_logger: opens the run each trial logs to, given the trial number.
        seed: seeds the sampler (worker ``i`` uses ``seed + i``).
    """
    resolved_metric = metric or _default_metric(objective)
    resolved_direction: Direction = direction or ("minimize" if is_loss(resolved_metric) else "maximize")
    total = _check(space, sampler, n_trials, n_workers, storage_dir)
    folder = None if storage_dir is None else Path(storage_dir)
    study = _Study(
        objective,
        dict(space),
        resolved_metric,
        resolved_direction,
        sampler,
        pruning,
        seed,
        study_name,
        folder,
        storage_url,
        trial_logger,
        timeout,
    )
    if n_workers == 1:
        kept: dict[int, Any] = {}
        with _opened(study, 0) as optuna_study:
            _optimize(study, optuna_study, total, kept)
            return _result(study, optuna_study, kept)
    shares = [total // n_workers + (index < total % n_workers) for index in range(n_workers)]
    with _opened(study, 0):  # create it once, before the workers race to
        pass
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=get_context("spawn")) as pool:
        threads = max(1, (os.cpu_count() or 1) // n_workers)  # workers side by side must not oversubscribe cores
        futures = [pool.submit(_work, study, share, index, threads) for index, share in enumerate(shares) if share]
        for future in futures:
            future.result()  # re-raises a worker's error here
    with _opened(study, 0) as optuna_study:
        return _result(study, optuna_study, {})


def _default_metric(objective: Objective) -> str:
    find = getattr(objective, "default_metric", None)
    if find is None:
        raise ValidationError(
            "tune() needs metric=... for this objective: name the metric key it returns, e.g. metric='validation_f1'."
        )
    return str(find())


def _check(
    space: Mapping[str, Distribution], sampler: str, n_trials: int | None, n_workers: int, storage_dir: object
) -> int:
    if sampler not in ("tpe", "random", "grid"):
        raise ValidationError(f"Unknown sampler '{sampler}'. Use 'tpe', 'random' or 'grid'.")
    if not space:
        raise ValidationError(
            "The search space is empty: give at least one parameter, e.g. {'C': space.loguniform(1e-3, 10)}."
        )
    if n_workers < 1:
        raise ValidationError(f"n_workers must be >= 1, got {n_workers}.")
    if n_workers > 1 and storage_dir is None:
        raise ValidationError(
            f"{n_workers} workers share one study through a journal file: give storage_dir=... "
            "(a folder), or use n_workers=1."
        )
    if sampler == "grid":
        size = 1
        for name, distribution in space.items():
            try:
                size *= len(distribution.grid_values())
            except ValidationError as exc:
                raise ValidationError(f"Parameter '{name}': {exc}") from exc
        return size if n_trials is None else n_trials
    if n_trials is None or n_trials < 1:
        raise ValidationError(f"n_trials must be >= 1 for the '{sampler}' sampler, got {n_trials}.")
    return n_trials


@contextlib.contextmanager
def _opened(study: _Study, worker: int) -> Iterator[optuna.Study]:
    """The study (created on first use) with this worker's sampler; database connections closed after."""
    import optuna

    storage: Any = None
    if study.storage_url is not None:
        storage = optuna.storages.RDBStorage(study.storage_url)
    elif study.storage_dir is not None:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        study.storage_dir.mkdir(parents=True, exist_ok=True)
        storage = JournalStorage(JournalFileBackend(str(study.storage_dir / f"{study.name}.journal")))
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=3)
        if study.pruning
        else optuna.pruners.NopPruner()
    )
    try:
        yield optuna.create_study(
            storage=storage,
            sampler=_sampler(study, worker),
            pruner=pruner,
            study_name=study.name,
            direction=study.direction,
            load_if_exists=True,
        )
    finally:
        if isinstance(storage, optuna.storages.RDBStorage):
            storage.engine.dispose()


def _sampler(study: _Study, worker: int) -> Any:
    import optuna

    seed = study.seed + worker
    if study.sampler == "grid":
        grid = {name: list(distribution.grid_values()) for name, distribution in study.space.items()}
        return optuna.samplers.GridSampler(grid, seed=seed)
    if study.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _optimize(study: _Study, optuna_study: optuna.Study, n_trials: int, kept: dict[int, Any] | None) -> None:
    """Run ``n_trials`` trials of the study in this process; keep the best model in ``kept`` or on disk."""
    optuna_study.optimize(
        lambda trial: _run_trial(study, optuna_study, trial, kept),
        n_trials=n_trials,
        timeout=study.timeout,
        gc_after_trial=False,
    )


def _work(study: _Study, n_trials: int, worker: int, threads: int) -> None:
    """A worker process's share of the study (its best models go to files), on its share of the cores."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads), _opened(study, worker) as optuna_study:
        _optimize(study, optuna_study, n_trials, None)


def _run_trial(study: _Study, optuna_study: optuna.Study, trial: optuna.Trial, kept: dict[int, Any] | None) -> float:
    import optuna

    params = {name: distribution.suggest(trial, name) for name, distribution in study.space.items()}
    sign = 1.0 if study.direction == "minimize" else -1.0

    def report(step: int, loss: float) -> None:
        trial.report(sign * loss, step)  # in the study's direction, so the pruner compares like with like
        if study.pruning and trial.should_prune():
            raise optuna.TrialPruned(f"trial {trial.number} pruned at step {step} (validation loss {loss:.4g})")

    opened = study.trial_logger(trial.number) if study.trial_logger else contextlib.nullcontext(NullRunLogger())
    with opened as logger:
        logger.set_tag("trial", str(trial.number))
        outcome = study.objective(params, TrialHooks(trial.number, logger, report))
    value, model = _value_of(outcome, study.metric)
    if model is not None:
        standing = _standing(optuna_study, study.direction, value)
        if standing != "worse":
            _keep(study, trial.number, model, kept, is_tie=standing == "tie")
    return value


def _value_of(outcome: TrainingResult | float, metric: str) -> tuple[float, Any]:
    if isinstance(outcome, TrainingResult):
        if metric not in outcome.metrics:
            raise ValidationError(
                f"The trial's result has no metric '{metric}'; it has {sorted(outcome.metrics)}. "
                "Pass one of them as metric=..."
            )
        return outcome.metrics[metric], outcome.model
    return float(outcome), None


def _standing(study: optuna.Study, direction: Direction, value: float) -> Literal["best", "tie", "worse"]:
    """How ``value`` compares with the best completed trial so far.

    Ties are kept too: Optuna names the lowest-numbered of equally good trials the best, and with
    parallel workers that one may finish after a tie.
    """
    try:
        best = study.best_value
    except ValueError:  # no trial completed yet
        return "best"
    if value == best:
        return "tie"
    is_better = value < best if direction == "minimize" else value > best
    return "best" if is_better else "worse"


def _keep(study: _Study, number: int, model: Any, kept: dict[int, Any] | None, *, is_tie: bool) -> None:
    if kept is not None:
        if not is_tie:
            kept.clear()
        kept[number] = model
        return
    assert study.storage_dir is not None  # workers always have a storage folder
    folder = study.storage_dir / f"{study.name}.models"
    folder.mkdir(exist_ok=True)
    temporary = folder / f".trial-{number}.{os.getpid()}.tmp"
    temporary.write_bytes(pickle.dumps(model))
    temporary.replace(folder / f"trial-{number}.pkl")


def _result(study: _Study, optuna_study: optuna.Study, kept: dict[int, Any]) -> TuningResult:
    import optuna

    states = [trial.state for trial in optuna_study.trials]
    n_complete = states.count(optuna.trial.TrialState.COMPLETE)
    if n_complete == 0:
        raise ValidationError(
            f"No trial of study '{study.name}' completed ({len(states)} pruned or failed). "
            "Widen the search space, raise n_trials or timeout, or turn pruning off."
        )
    best = optuna_study.best_trial
    model = kept.get(best.number)
    if model is None and study.storage_dir is not None:
        model = _load_kept(study.storage_dir / f"{study.name}.models", best.number)
    return TuningResult(
        dict(best.params),
        float(best.value or 0.0),
        best.number,
        model,
        study.metric,
        study.direction,
        optuna_study.trials_dataframe(),
        n_complete,
        states.count(optuna.trial.TrialState.PRUNED),
    )


def _load_kept(folder: Path, best: int) -> Any:
    """The best trial's model from the workers' files; the others are removed."""
    model = None
    if not folder.is_dir():
        return None
    for path in folder.glob("trial-*.pkl"):
        if path.name == f"trial-{best}.pkl":
            model = pickle.loads(path.read_bytes())  # written by this study's own workers
        path.unlink()
    return model
