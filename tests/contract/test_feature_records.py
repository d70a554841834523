"""Feature-store records on SQLite and PostgreSQL, and the migrations matching the table metadata."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from fti.backends.catalog import schema
from fti.backends.catalog.store import SqlCatalogStore
from fti.backends.ports import CatalogStore
from fti.testing.feature_records import FeatureRecordsContract


class TestFeatureRecords(FeatureRecordsContract):
    pass


def test_migrations_match_metadata(catalog_store: CatalogStore) -> None:
    catalog_store.upgrade()
    assert isinstance(catalog_store, SqlCatalogStore)
    with catalog_store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), schema.metadata)
    assert differences == []


def test_schema_tables_are_registered() -> None:
    assert {"feature_groups", "feature_group_commits", "feature_views", "training_datasets"} <= set(
        schema.metadata.tables
    )
    assert isinstance(schema.feature_groups, sa.Table)
