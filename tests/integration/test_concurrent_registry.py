"""Four processes registering versions of one model and moving one alias at once, on SQLite and PostgreSQL:
versions unique and without gaps, every alias move recorded once, each move starting where the one before ended."""

from __future__ import annotations

import itertools
import multiprocessing as mp
from pathlib import Path

import pytest

import fti

pytestmark = pytest.mark.integration

WORKERS = 4
VERSIONS = 4


class Constant:
    """A model that needs nothing to load."""

    def predict(self, rows: object) -> list[float]:
        return [1.0]


def _register(
    folder: str, overrides: dict[str, str], barrier: mp.synchronize.Barrier, results: mp.Queue[object]
) -> None:
    try:
        with fti.connect(folder, overrides=overrides) as project:
            barrier.wait()
            versions = []
            with project.start_run("concurrency") as run:
                for _ in range(VERSIONS):
                    version = run.log_model(Constant(), "scorer")
                    version.set_alias("champion")
                    versions.append(version.version)
            results.put(versions)
    except Exception as exc:  # the parent reports what failed
        results.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_registrations_and_alias_moves(
    backend: str, project_dir: Path, request: pytest.FixtureRequest
) -> None:
    overrides = {} if backend == "sqlite" else {"catalog.url": request.getfixturevalue("postgres_url")}
    with fti.connect(project_dir, overrides=overrides):
        pass
    context = mp.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    results: mp.Queue[object] = context.Queue()
    processes = [
        context.Process(target=_register, args=(str(project_dir), overrides, barrier, results)) for _ in range(WORKERS)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=600) for _ in range(WORKERS)]
    for process in processes:
        process.join(timeout=60)
    failures = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert not failures, failures
    returned = sorted(number for outcome in outcomes if isinstance(outcome, list) for number in outcome)
    assert returned == list(range(1, WORKERS * VERSIONS + 1))
    with fti.connect(project_dir, overrides=overrides) as project:
        champion = project.get_model("scorer@champion")
        moves = champion.alias_history("champion")
    assert len(moves) == WORKERS * VERSIONS
    assert moves[0].from_version is None
    assert all(later.from_version == earlier.to_version for earlier, later in itertools.pairwise(moves))
    assert champion.version == moves[-1].to_version
