"""Four processes logging metrics to one run at once, on SQLite and PostgreSQL: every step of every process is
stored exactly once, the latest value is the highest step's, and the run ends once, when its starter ends it."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

import fti
from fti.core.tracking import RunStatus
from fti.errors import ConflictError

pytestmark = pytest.mark.integration

WORKERS = 4
STEPS = 250


def _log(
    folder: str,
    overrides: dict[str, str],
    run_id: str,
    rank: int,
    barrier: mp.synchronize.Barrier,
    results: mp.Queue[object],
) -> None:
    try:
        with fti.connect(folder, overrides=overrides) as project:
            barrier.wait()
            with project.join_run(run_id) as run:
                for step in range(rank, WORKERS * STEPS, WORKERS):
                    run.log_metric("loss", 1.0 / (step + 1), step=step)
                    run.log_metric(f"rank_{rank}", float(step), step=step)
                run.set_tag(f"rank_{rank}", "done")
        results.put(rank)
    except Exception as exc:  # the parent reports what failed
        results.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_processes_logging_to_one_run(backend: str, project_dir: Path, request: pytest.FixtureRequest) -> None:
    overrides = {} if backend == "sqlite" else {"catalog.url": request.getfixturevalue("postgres_url")}
    with fti.connect(project_dir, overrides=overrides) as project:
        run = project.start_run("shared")
        context = mp.get_context("spawn")
        barrier = context.Barrier(WORKERS)
        results: mp.Queue[object] = context.Queue()
        processes = [
            context.Process(target=_log, args=(str(project_dir), overrides, run.id, rank, barrier, results))
            for rank in range(WORKERS)
        ]
        for process in processes:
            process.start()
        outcomes = [results.get(timeout=600) for _ in range(WORKERS)]
        for process in processes:
            process.join(timeout=60)
        assert sorted(outcomes, key=str) == list(range(WORKERS)), outcomes
        # the workers left their handles: the run is still running until its starter ends it
        assert project.get_run(run.id).status is RunStatus.RUNNING
        run.end()
        ended = project.get_run(run.id)
        assert ended.status is RunStatus.FINISHED
        # in logging order: each process's points in its order, the processes' interleaved
        assert sorted(ended.metric_history("loss")["step"]) == list(range(WORKERS * STEPS))
        for rank in range(WORKERS):
            assert ended.metric_history(f"rank_{rank}")["step"].tolist() == list(range(rank, WORKERS * STEPS, WORKERS))
        assert ended.metrics["loss"] == 1.0 / (WORKERS * STEPS)
        assert ended.tags == {f"rank_{rank}": "done" for rank in range(WORKERS)}
        with pytest.raises(ConflictError, match="has finished"):
            project.join_run(run.id)
