"""The contract every catalog store passes for source cursors and commit lineage.

Subclass :class:`SourceRecordsContract` and provide a fixture ``catalog_store`` yielding an open store on
an empty database (the suite upgrades it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from fti.core.features import CommitRecord, FeatureGroupRecord
from fti.core.sources import CommitLineage, SourceCursorRecord, SourceInfo
from fti.core.tracking import CodeVersion
from fti.errors import ConflictError

if TYPE_CHECKING:
    from fti.backends.ports import CatalogStore

__all__ = ["SourceRecordsContract"]

T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def _group(name: str) -> FeatureGroupRecord:
    return FeatureGroupRecord(
        id=0,
        name=name,
        version=1,
        description="",
        primary_key=("id",),
        event_time="ts",
        is_online=False,
        ttl_seconds=None,
        tags={},
        schema=None,
        expectations=(),
        created_at=T0,
    )


def _cursor(group_id: int, source: str, value: int, commit: int) -> SourceCursorRecord:
    return SourceCursorRecord(
        group_id, source, "sql", "postgresql://app@db/shop table orders", {"value": value}, commit, T0
    )


class SourceRecordsContract:
    """Source cursors advance only from the cursor they were read at; commits keep their lineage."""

    def test_a_cursor_is_created_then_advanced_from_its_commit(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()
        with catalog_store.transaction() as tx:
            group = tx.feature_groups.add(_group("orders"))
            assert tx.source_cursors.find(group.id, "orders_db") is None
            tx.source_cursors.advance(_cursor(group.id, "orders_db", 10, 0), None)
            tx.source_cursors.advance(_cursor(group.id, "b_files", 1, 0), None)
        with catalog_store.transaction() as tx:
            tx.source_cursors.advance(_cursor(group.id, "orders_db", 20, 3), 0)
        with catalog_store.transaction() as tx:
            found = tx.source_cursors.find(group.id, "orders_db")
            assert found == _cursor(group.id, "orders_db", 20, 3)
            assert [item.source for item in tx.source_cursors.list(group.id)] == ["b_files", "orders_db"]

    def test_a_cursor_advanced_meanwhile_is_a_conflict(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()
        with catalog_store.transaction() as tx:
            group = tx.feature_groups.add(_group("orders"))
            tx.source_cursors.advance(_cursor(group.id, "s", 10, 0), None)
        with pytest.raises(ConflictError, match="another ingestion"), catalog_store.transaction() as tx:
            tx.source_cursors.advance(_cursor(group.id, "s", 30, 2), 1)
        with pytest.raises(ConflictError, match="another ingestion"), catalog_store.transaction() as tx:
            tx.source_cursors.advance(_cursor(group.id, "s", 30, 2), None)
        with catalog_store.transaction() as tx:
            assert tx.source_cursors.find(group.id, "s") == _cursor(group.id, "s", 10, 0)

    def test_a_commit_keeps_its_lineage(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()
        lineage = CommitLineage(
            source=SourceInfo("csv", "/data/*.csv", "cards_files"),
            span={"files": ["/data/a.csv", "/data/b.csv"]},
            code=CodeVersion("abc123", True, "pipeline.py"),
            run_id="r1",
            pipeline="hourly",
        )
        with catalog_store.transaction() as tx:
            group = tx.feature_groups.add(_group("cards"))
            tx.feature_groups.add_commit(CommitRecord(group.id, 0, T0, 5, 0, {"rows": 5}, lineage=lineage))
            tx.feature_groups.add_commit(CommitRecord(group.id, 1, T0, 1, 0, {"rows": 1}))
        with catalog_store.transaction() as tx:
            commits = tx.feature_groups.commits(group.id)
        assert [commit.lineage for commit in commits] == [lineage, None]
        assert lineage.describe_span() == "2 file(s): /data/a.csv, /data/b.csv"

    def test_only_a_group_without_commits_is_deleted_as_empty(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()
        with catalog_store.transaction() as tx:
            empty = tx.feature_groups.add(_group("empty"))
            full = tx.feature_groups.add(_group("full"))
            tx.feature_groups.add_commit(CommitRecord(full.id, 0, T0, 1, 0, {"rows": 1}))
        with catalog_store.transaction() as tx:
            assert tx.feature_groups.delete_empty(empty.id) is True
            assert tx.feature_groups.delete_empty(full.id) is False
        with catalog_store.transaction() as tx:
            assert [record.name for record in tx.feature_groups.list()] == ["full"]
