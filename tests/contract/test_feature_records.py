"""Feature-store records on SQLite and PostgreSQL, and the migrations matching the table metadata."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from fti.backends.catalog import schema
from fti.backends.catalog.store import SqlCatalogStore
from fti.backends.kinds import create_backend
from fti.backends.ports import CatalogStore
from fti.core.features import ColumnSpec, CommitRecord, FeatureGroupRecord, FeatureViewRecord, TrainingDatasetRecord

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CatalogStore]:
    url = (
        f"sqlite:///{tmp_path / 'catalog.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    )
    store = create_backend("catalog", request.param, {"url": url})
    store.open()
    store.upgrade()
    yield store
    store.close()


def _group(name: str = "cards", version: int = 1) -> FeatureGroupRecord:
    return FeatureGroupRecord(
        id=0,
        name=name,
        version=version,
        description="d",
        primary_key=("cc_num",),
        event_time="ts",
        is_online=True,
        ttl_seconds=3600.0,
        tags={"team": "risk"},
        schema=None,
        expectations=({"kind": "not_null", "column": "x", "params": {}},),
        created_at=NOW,
    )


def test_migrations_match_metadata(catalog_store: CatalogStore) -> None:
    assert isinstance(catalog_store, SqlCatalogStore)
    with catalog_store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), schema.metadata)
    assert differences == []


def test_feature_group_records(catalog_store: CatalogStore) -> None:
    with catalog_store.transaction() as tx:
        first = tx.feature_groups.add(_group())
        second = tx.feature_groups.add(_group(version=2))
        tx.feature_groups.add(_group("labels"))
    assert first.id != second.id
    specs = (ColumnSpec("cc_num", "int64"), ColumnSpec("ts", "timestamp[us, tz=UTC]"))
    with catalog_store.transaction() as tx:
        tx.feature_groups.set_schema(first.id, specs)
        tx.feature_groups.add_commit(CommitRecord(first.id, 0, NOW, 10, 0, {"rows": 10}))
        tx.feature_groups.add_commit(CommitRecord(first.id, 1, NOW, 2, 3, {"rows": 5}))
    with catalog_store.transaction() as tx:
        found = tx.feature_groups.find("cards", 1)
        assert found is not None and found.schema == specs and found.tags == {"team": "risk"}
        assert found.expectations == _group().expectations and found.ttl_seconds == 3600.0
        latest = tx.feature_groups.find("cards")
        assert latest is not None and latest.version == 2
        assert tx.feature_groups.find("cards", 3) is None
        assert tx.feature_groups.find_by_id(second.id) == latest
        assert [(r.name, r.version) for r in tx.feature_groups.list()] == [("cards", 1), ("cards", 2), ("labels", 1)]
        commits = tx.feature_groups.commits(first.id)
        assert [(c.commit, c.rows_inserted, c.rows_replaced, c.statistics) for c in commits] == [
            (0, 10, 0, {"rows": 10}),
            (1, 2, 3, {"rows": 5}),
        ]
        assert commits[0].committed_at == NOW
        assert commits[0].group_statistics is None
        tx.feature_groups.set_group_statistics(first.id, 1, {"rows": 12})
    with catalog_store.transaction() as tx:
        assert [c.group_statistics for c in tx.feature_groups.commits(first.id)] == [None, {"rows": 12}]


def test_unique_feature_group_version(catalog_store: CatalogStore) -> None:
    with catalog_store.transaction() as tx:
        tx.feature_groups.add(_group())
    with pytest.raises(Exception, match=r"(?i)unique"), catalog_store.transaction() as tx:
        tx.feature_groups.add(_group())


def test_view_and_training_dataset_records(catalog_store: CatalogStore) -> None:
    with catalog_store.transaction() as tx:
        group = tx.feature_groups.add(_group())
        view = tx.feature_views.add(FeatureViewRecord(0, "fraud", 1, "", {"parts": []}, ("y",), NOW))
        assert tx.training_datasets.next_version(view.id) == 1
        dataset = tx.training_datasets.add(
            TrainingDatasetRecord(
                id=0,
                feature_view_id=view.id,
                version=1,
                description="first",
                start=NOW,
                end=None,
                split={"train": 0.8, "test": 0.2},
                split_by="random",
                seed=42,
                statistics={"rows": 3},
                sources={group.id: 4},
                created_at=NOW,
            )
        )
    with catalog_store.transaction() as tx:
        assert tx.feature_views.find("fraud") == view
        assert [v.name for v in tx.feature_views.list()] == ["fraud"]
        assert tx.training_datasets.next_version(view.id) == 2
        assert tx.training_datasets.find(view.id) == dataset
        assert tx.training_datasets.find(view.id, 2) is None
        assert tx.training_datasets.list(view.id) == [dataset]
        assert dataset.sources == {group.id: 4}
    assert catalog_store.counts()["training_dataset_sources"] == 1


def test_schema_tables_are_registered() -> None:
    assert {"feature_groups", "feature_group_commits", "feature_views", "training_datasets"} <= set(
        schema.metadata.tables
    )
    assert isinstance(schema.feature_groups, sa.Table)
