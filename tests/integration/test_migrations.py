"""Alembic migrations build exactly the tables declared in the catalog schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from fti.backends.catalog import store as catalog_store
from fti.backends.catalog.migrations import HEADS
from fti.backends.catalog.schema import metadata
from fti.backends.catalog.store import SqlCatalogConfig, SqlCatalogStore


def test_heads_name_the_newest_migration() -> None:
    # opening a current catalog compares its recorded revision with HEADS, without reading the scripts
    assert tuple(sorted(ScriptDirectory(str(catalog_store._MIGRATIONS)).get_heads())) == HEADS


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_match_declared_tables(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    store = SqlCatalogStore(SqlCatalogConfig(url=url))
    store.open()
    try:
        store.upgrade()
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        store.close()
