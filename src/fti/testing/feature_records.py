"""The contract every catalog store passes for feature-store records: groups, commits, views, training datasets.

Subclass :class:`FeatureRecordsContract` and provide a fixture ``catalog_store`` yielding an open store on an
empty database (the suite upgrades it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from fti.core.features import ColumnSpec, CommitRecord, FeatureGroupRecord, FeatureViewRecord, TrainingDatasetRecord

if TYPE_CHECKING:
    from fti.backends.ports import CatalogStore

__all__ = ["FeatureRecordsContract"]

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


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


def _dataset(view_id: int, group_id: int) -> TrainingDatasetRecord:
    return TrainingDatasetRecord(
        id=0,
        feature_view_id=view_id,
        version=1,
        description="first",
        start=NOW,
        end=None,
        split={"train": 0.8, "test": 0.2},
        split_by="random",
        seed=42,
        statistics={"rows": 3},
        sources={group_id: 4},
        created_at=NOW,
    )


class FeatureRecordsContract:
    """Behaviour shared by every catalog store's feature group, feature view and training dataset records."""

    @pytest.fixture(autouse=True)
    def _upgraded(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()

    def test_feature_groups_and_their_commits(self, catalog_store: CatalogStore) -> None:
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
            assert tx.feature_groups.find("cards", 3) is None and tx.feature_groups.find("nope") is None
            assert tx.feature_groups.find_by_id(second.id) == latest
            assert tx.feature_groups.find_by_id(10_000) is None
            listed = [(r.name, r.version) for r in tx.feature_groups.list()]
            assert listed == [("cards", 1), ("cards", 2), ("labels", 1)]
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

    def test_stamps_are_reserved_once_and_commits_numbered_in_order(self, catalog_store: CatalogStore) -> None:
        with catalog_store.transaction() as tx:
            group = tx.feature_groups.add(_group())
            other = tx.feature_groups.add(_group("labels"))
        with catalog_store.transaction() as tx:
            # a group's first stamp comes after the floor; later ones ignore it
            assert [tx.feature_groups.reserve_stamp(group.id, 6) for _ in range(3)] == [7, 8, 9]
            assert tx.feature_groups.reserve_stamp(group.id, 100) == 10
            assert tx.feature_groups.reserve_stamp(other.id, -1) == 0
            assert tx.feature_groups.next_commit(group.id) == 0
            tx.feature_groups.add_commit(CommitRecord(group.id, 0, NOW, 1, 0, {"rows": 1}, stamp=9, table_version=3))
            assert tx.feature_groups.next_commit(group.id) == 1
            tx.feature_groups.add_commit(CommitRecord(group.id, 1, NOW, 1, 0, {"rows": 1}))
        with catalog_store.transaction() as tx:
            commits = tx.feature_groups.commits(group.id)
            # a commit recorded without a stamp (as before stamps existed) has its number as both
            assert [(c.commit, c.stamp, c.table_version) for c in commits] == [(0, 9, 3), (1, 1, 1)]
            assert tx.feature_groups.delete_empty(group.id) is False
            # one insert began on it: what a failed first insert leaves
            assert tx.feature_groups.delete_empty(other.id) is True
            busy = tx.feature_groups.add(_group("busy"))
            tx.feature_groups.reserve_stamp(busy.id, -1)
            tx.feature_groups.reserve_stamp(busy.id, -1)
            # two began: the other may still be writing, so the group stays
            assert tx.feature_groups.delete_empty(busy.id) is False

    def test_a_feature_group_version_is_added_once(self, catalog_store: CatalogStore) -> None:
        with catalog_store.transaction() as tx:
            tx.feature_groups.add(_group())
        with pytest.raises(Exception, match=r"(?i)unique"), catalog_store.transaction() as tx:
            tx.feature_groups.add(_group())
        with catalog_store.transaction() as tx:
            assert len(tx.feature_groups.list()) == 1

    def test_a_feature_group_is_deleted_with_its_commits(self, catalog_store: CatalogStore) -> None:
        with catalog_store.transaction() as tx:
            first = tx.feature_groups.add(_group())
            second = tx.feature_groups.add(_group(version=2))
            for group in (first, second):
                tx.feature_groups.add_commit(CommitRecord(group.id, 0, NOW, 10, 0, {"rows": 10}))
        with catalog_store.transaction() as tx:
            tx.feature_groups.delete(second.id)
        with catalog_store.transaction() as tx:
            assert [(r.name, r.version) for r in tx.feature_groups.list()] == [("cards", 1)]
            assert tx.feature_groups.commits(second.id) == [] and len(tx.feature_groups.commits(first.id)) == 1
            again = tx.feature_groups.add(_group(version=2))  # the version can be created again
        assert again.id != first.id

    def test_feature_views_and_training_datasets(self, catalog_store: CatalogStore) -> None:
        with catalog_store.transaction() as tx:
            group = tx.feature_groups.add(_group())
            view = tx.feature_views.add(FeatureViewRecord(0, "fraud", 1, "", {"parts": []}, ("y",), NOW))
            assert tx.training_datasets.next_version(view.id) == 1
            dataset = tx.training_datasets.add(_dataset(view.id, group.id))
        with catalog_store.transaction() as tx:
            assert tx.feature_views.find("fraud") == view and tx.feature_views.find("fraud", 2) is None
            assert [v.name for v in tx.feature_views.list()] == ["fraud"]
            assert tx.training_datasets.next_version(view.id) == 2
            assert tx.training_datasets.find(view.id) == dataset
            assert tx.training_datasets.find(view.id, 2) is None
            assert tx.training_datasets.list(view.id) == [dataset]
            assert dataset.sources == {group.id: 4}
        assert catalog_store.counts()["training_dataset_sources"] == 1

    def test_training_datasets_then_their_view_are_deleted(self, catalog_store: CatalogStore) -> None:
        with catalog_store.transaction() as tx:
            group = tx.feature_groups.add(_group())
            view = tx.feature_views.add(FeatureViewRecord(0, "fraud", 1, "", {"parts": []}, ("y",), NOW))
            dataset = tx.training_datasets.add(_dataset(view.id, group.id))
        with catalog_store.transaction() as tx:
            tx.training_datasets.delete(dataset.id)
            tx.feature_views.delete(view.id)
        with catalog_store.transaction() as tx:
            assert tx.feature_views.list() == [] and tx.training_datasets.list(view.id) == []
        assert catalog_store.counts()["training_dataset_sources"] == 0
