"""Tracking and registry records on SQLite and on a real PostgreSQL server; migrations match the tables."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from fti.backends.catalog.schema import metadata
from fti.backends.catalog.store import SqlCatalogStore
from fti.backends.ports import CatalogStore
from fti.testing.tracking_records import TrackingRecordsContract


class TestTrackingRecords(TrackingRecordsContract):
    pass


def test_migrations_create_exactly_the_declared_tables(catalog_store: CatalogStore) -> None:
    catalog_store.upgrade()
    assert isinstance(catalog_store, SqlCatalogStore)
    with catalog_store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
