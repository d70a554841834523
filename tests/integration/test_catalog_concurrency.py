"""Four processes connecting at once to a new catalog create its schema exactly once."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from fti.config import load_config
from fti.project import ensure_schema, open_catalog

WORKERS = 4


def _connect(folder: str, url: str, barrier: mp.synchronize.Barrier, results: mp.Queue[tuple[str, ...]]) -> None:
    loaded = load_config(folder, env={}, overrides={"catalog.url": url})
    catalog = open_catalog(loaded)
    barrier.wait()
    state = catalog.schema_state()
    if state.current == ():
        state = catalog.upgrade()
    ensure_schema(catalog)
    catalog.close()
    results.put(state.applied)


def _race(folder: Path, url: str) -> list[tuple[str, ...]]:
    context = mp.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    results: mp.Queue[tuple[str, ...]] = context.Queue()
    processes = [context.Process(target=_connect, args=(str(folder), url, barrier, results)) for _ in range(WORKERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    return [results.get(timeout=5) for _ in range(WORKERS)]


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_schema_is_created_exactly_once(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    applied = _race(tmp_path, url)
    creators = [revisions for revisions in applied if revisions]
    assert len(creators) == 1, applied
    catalog = open_catalog(load_config(tmp_path, env={}, overrides={"catalog.url": url}))
    try:
        state = catalog.schema_state()
        assert state.current == state.expected
        assert creators[0][-1] in state.expected
        assert set(catalog.counts().values()) == {0}
    finally:
        catalog.close()
