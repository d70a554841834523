"""How the trials of a tuning study run: in this process, or as tasks on an executor sharing one study.

Parallel workers each run a share of the trials as one executor task, drawing trials from the same Optuna
study (a journal file in the study's folder, or a database), so none is lost or run twice. A worker keeps
the best model it trained as a file in the folder; the study's best is read back when all tasks are done.
Ties are kept too: Optuna names the lowest-numbered of equally good trials the best, and with parallel
workers that one may finish after a tie.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fti.errors import ValidationError
from fti.training.ports import NullRunLogger
from fti.training.study import (
    Direction,
    Objective,
    StudyStorage,
    TrialHooks,
    TrialLoggerFactory,
    TuningResult,
    TuningSpec,
)
from fti.training.trainers import TrainingResult

if TYPE_CHECKING:
    import optuna
    from optuna.samplers import BaseSampler
    from optuna.storages import BaseStorage

    from fti.backends.ports import Executor

__all__ = ["Share", "Study", "run_here", "run_parallel", "run_share"]


@dataclass(frozen=True, slots=True)
class Study:
    """Everything a worker needs to join the study (picklable when the objective and trial logger are)."""

    objective: Objective
    spec: TuningSpec
    metric: str
    direction: Direction
    storage: StudyStorage
    trial_logger: TrialLoggerFactory | None


@dataclass(frozen=True, slots=True)
class Share:
    """One executor task: worker ``worker`` of ``workers`` runs ``n_trials`` trials of the study."""

    study: Study
    n_trials: int
    worker: int
    workers: int


def run_here(study: Study) -> TuningResult:
    """Run every trial in this process; the best model is kept in memory."""
    kept: dict[int, Any] = {}
    with _opened(study, 0) as optuna_study:
        _optimize(study, optuna_study, study.spec.total_trials(), kept)
        return _result(study, optuna_study, kept)


def run_parallel(study: Study, executor: Executor) -> TuningResult:
    """Run the trials as one task per worker on ``executor``; a task's error is raised here."""
    total, workers = study.spec.total_trials(), study.spec.n_workers
    counts = [total // workers + (index < total % workers) for index in range(workers)]
    with _opened(study, 0):  # create the study once, before the workers race to
        pass
    executor.map(run_share, [Share(study, count, index, workers) for index, count in enumerate(counts) if count])
    with _opened(study, 0) as optuna_study:
        return _result(study, optuna_study, {})


def run_share(share: Share) -> None:
    """An executor task: a worker's share of the trials, on its share of the machine's cores.

    Workers side by side must not oversubscribe the cores, so native thread pools (BLAS, OpenMP) get
    ``cores // workers`` threads each. The best models go to files in the study's folder.
    """
    from threadpoolctl import threadpool_limits

    threads = max(1, (os.cpu_count() or 1) // share.workers)
    with threadpool_limits(limits=threads), _opened(share.study, share.worker) as optuna_study:
        _optimize(share.study, optuna_study, share.n_trials, None)


@contextlib.contextmanager
def _opened(study: Study, worker: int) -> Iterator[optuna.Study]:
    """The study (created on first use) with this worker's sampler; database connections closed after."""
    import optuna

    storage = _storage(study.storage)
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=3)
        if study.spec.pruning
        else optuna.pruners.NopPruner()
    )
    # every trial is a tracked, nested run: Optuna's own line per trial would only repeat it, under any progress bar
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield optuna.create_study(
            storage=storage,
            sampler=_sampler(study.spec, worker),
            pruner=pruner,
            study_name=study.storage.name,
            direction=study.direction,
            load_if_exists=True,
        )
    finally:
        optuna.logging.set_verbosity(verbosity)
        if isinstance(storage, optuna.storages.RDBStorage):
            storage.engine.dispose()


def _storage(where: StudyStorage) -> BaseStorage | None:
    import optuna

    if where.url is not None:
        return optuna.storages.RDBStorage(where.url)
    if where.folder is None:
        return None
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    where.folder.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(where.folder / f"{where.name}.journal")))


def _sampler(spec: TuningSpec, worker: int) -> BaseSampler:
    import optuna

    seed = spec.seed + worker
    if spec.sampler == "grid":
        grid = {name: list(distribution.grid_values()) for name, distribution in spec.space.items()}
        return optuna.samplers.GridSampler(grid, seed=seed)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _optimize(study: Study, optuna_study: optuna.Study, n_trials: int, kept: dict[int, Any] | None) -> None:
    """Run ``n_trials`` trials of the study in this process; keep the best model in ``kept`` or on disk."""
    optuna_study.optimize(
        lambda trial: _run_trial(study, optuna_study, trial, kept),
        n_trials=n_trials,
        timeout=study.spec.timeout,
        gc_after_trial=False,
    )


def _run_trial(study: Study, optuna_study: optuna.Study, trial: optuna.Trial, kept: dict[int, Any] | None) -> float:
    import optuna

    params = {name: distribution.suggest(trial, name) for name, distribution in study.spec.space.items()}
    sign = 1.0 if study.direction == "minimize" else -1.0

    def report(step: int, loss: float) -> None:
        trial.report(sign * loss, step)  # in the study's direction, so the pruner compares like with like
        if study.spec.pruning and trial.should_prune():
            raise optuna.TrialPruned(f"trial {trial.number} pruned at step {step} (validation loss {loss:.4g})")

    opened = study.trial_logger(trial.number) if study.trial_logger else contextlib.nullcontext(NullRunLogger())
    with opened as logger:
        logger.set_tag("trial", str(trial.number))
        outcome = study.objective(params, TrialHooks(trial.number, logger, report))
    value, model = _value_of(outcome, study.metric)
    if model is not None:
        standing = _standing(optuna_study, study.direction, value)
        if standing != "worse":
            _keep(study.storage, trial.number, model, kept, is_tie=standing == "tie")
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
    """How ``value`` compares with the best completed trial so far."""
    try:
        best = study.best_value
    except ValueError:  # no trial completed yet
        return "best"
    if value == best:
        return "tie"
    is_better = value < best if direction == "minimize" else value > best
    return "best" if is_better else "worse"


def _keep(storage: StudyStorage, number: int, model: Any, kept: dict[int, Any] | None, *, is_tie: bool) -> None:
    if kept is not None:
        if not is_tie:
            kept.clear()
        kept[number] = model
        return
    assert storage.folder is not None  # workers always have a study folder
    folder = storage.folder / f"{storage.name}.models"
    folder.mkdir(exist_ok=True)
    temporary = folder / f".trial-{number}.{os.getpid()}.tmp"
    temporary.write_bytes(pickle.dumps(model))
    temporary.replace(folder / f"trial-{number}.pkl")


def _result(study: Study, optuna_study: optuna.Study, kept: dict[int, Any]) -> TuningResult:
    import optuna

    states = [trial.state for trial in optuna_study.trials]
    n_complete = states.count(optuna.trial.TrialState.COMPLETE)
    if n_complete == 0:
        raise ValidationError(
            f"No trial of study '{study.storage.name}' completed ({len(states)} pruned or failed). "
            "Widen the search space, raise n_trials or timeout, or turn pruning off."
        )
    best = optuna_study.best_trial
    model = kept.get(best.number)
    if model is None and study.storage.folder is not None:
        model = _load_kept(study.storage.folder / f"{study.storage.name}.models", best.number)
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


def _load_kept(folder: Path, best: int) -> object:
    """The best trial's model from the workers' files; the others are removed."""
    model = None
    if not folder.is_dir():
        return None
    for path in folder.glob("trial-*.pkl"):
        if path.name == f"trial-{best}.pkl":
            model = pickle.loads(path.read_bytes())  # written by this study's own workers
        path.unlink()
    return model
