"""Four processes inserting into one feature group at once all commit, none retried by its caller: every row
once, commit numbers unique and without gaps, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fti

pytestmark = pytest.mark.integration

WORKERS = 4
BATCHES = 8
ROWS = 250


def _rows(worker: int, batch: int) -> pd.DataFrame:
    keys = np.arange(ROWS) + (worker * BATCHES + batch) * ROWS
    return pd.DataFrame(
        {
            "cc_num": keys,
            "ts": pd.to_datetime(keys, unit="s", utc=True),
            "amount": keys * 0.5,
        }
    )


def _insert(
    folder: str, overrides: dict[str, str], worker: int, barrier: mp.synchronize.Barrier, results: mp.Queue[object]
) -> None:
    try:
        with fti.connect(folder, overrides=overrides) as project:
            cards = project.get_feature_group("cards")
            barrier.wait()
            results.put([cards.insert(_rows(worker, batch)).commit for batch in range(BATCHES)])
    except Exception as exc:  # the parent reports what failed
        results.put(f"{type(exc).__name__}: {exc}")


def _race(folder: Path, overrides: dict[str, str]) -> list[object]:
    context = mp.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    results: mp.Queue[object] = context.Queue()
    processes = [
        context.Process(target=_insert, args=(str(folder), overrides, worker, barrier, results))
        for worker in range(WORKERS)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=600) for _ in range(WORKERS)]
    for process in processes:
        process.join(timeout=60)
    return outcomes


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_inserts_all_commit_once(backend: str, project_dir: Path, request: pytest.FixtureRequest) -> None:
    overrides = {} if backend == "sqlite" else {"catalog.url": request.getfixturevalue("postgres_url")}
    with fti.connect(project_dir, overrides=overrides) as project:
        project.create_feature_group("cards", primary_key=["cc_num"], event_time="ts")
    outcomes = _race(project_dir, overrides)
    failures = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert not failures, failures
    returned = sorted(number for outcome in outcomes if isinstance(outcome, list) for number in outcome)
    assert returned == list(range(WORKERS * BATCHES))
    with fti.connect(project_dir, overrides=overrides) as project:
        cards = project.get_feature_group("cards")
        assert [commit.commit for commit in cards.commits()] == list(range(WORKERS * BATCHES))
        assert len({commit.stamp for commit in cards.commits()}) == WORKERS * BATCHES
        rows = cards.read().sort_values("cc_num", ignore_index=True)
    expected = pd.concat([_rows(worker, batch) for worker in range(WORKERS) for batch in range(BATCHES)])
    assert rows["cc_num"].tolist() == sorted(expected["cc_num"].tolist())
    assert rows["amount"].tolist() == (rows["cc_num"] * 0.5).tolist()
