"""Event, pipeline and pipeline-run records on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fti.backends.kinds import create_backend
from fti.backends.ports import CatalogStore
from fti.testing.pipeline_records import PipelineRecordsContract


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CatalogStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    store = create_backend("catalog", request.param, {"url": url})
    store.open()
    yield store
    store.close()


class TestPipelineRecords(PipelineRecordsContract):
    pass
