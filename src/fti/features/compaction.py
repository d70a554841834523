"""Compaction and vacuum of a feature group's offline table.

Every insert writes at least one file, so an hourly pipeline leaves thousands of small files that every
read opens. Compaction rewrites them into large ones as a new table version; each row keeps its commit
and row numbers, and reads of any commit scan the newest version (see :mod:`fti.features.time_travel`),
so no read, time travel or training-dataset rebuild changes. Vacuum then deletes the files that only
old versions read, except the versions training datasets pinned, which stay readable as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fti.backends.ports import CompactingStore
from fti.core.features import FeatureGroupRecord, TableCompaction
from fti.errors import ValidationError
from fti.features.stores import FeatureStores
from fti.features.time_travel import describe_group

__all__ = ["Compaction", "compact", "compact_if_due", "pinned_commits", "vacuum"]


@dataclass(frozen=True, slots=True)
class Compaction:
    """What ``compact()`` did: the table version it wrote (None: nothing to compact) and the files it rewrote."""

    version: int | None
    files_removed: int
    files_added: int


def _store(stores: FeatureStores, record: FeatureGroupRecord) -> CompactingStore:
    offline = stores.offline
    if not isinstance(offline, CompactingStore):
        raise ValidationError(
            f"The offline store {offline.describe()} of {describe_group(record)} cannot compact or vacuum tables."
        )
    return offline


def compact(stores: FeatureStores, record: FeatureGroupRecord) -> Compaction:
    """Rewrite the group's small files into large ones (a new table version with the same rows)."""
    if not stores.offline.exists(record.table):
        return Compaction(None, 0, 0)
    done: TableCompaction = _store(stores, record).compact(record.table)
    return Compaction(done.version, done.files_removed, done.files_added)


def compact_if_due(stores: FeatureStores, record: FeatureGroupRecord, commits: int) -> Compaction | None:
    """Compact once the group has gathered ``stores.compact_after`` small files; None when not due.

    A group of fewer commits than that cannot have as many small files: its table is not even opened.
    """
    limit = stores.compact_after
    offline = stores.offline
    if limit is None or commits < limit or not isinstance(offline, CompactingStore):
        return None
    if offline.small_files(record.table) < limit:
        return None
    return compact(stores, record)


def pinned_commits(stores: FeatureStores, record: FeatureGroupRecord) -> dict[int, list[str]]:
    """The group's commits that training datasets read, each with the datasets (``view vN #M``) reading it."""
    pinned: dict[int, list[str]] = {}
    with stores.catalog.transaction() as tx:
        for view in tx.feature_views.list():
            for dataset in tx.training_datasets.list(view.id):
                commit = dataset.sources.get(record.id)
                if commit is not None:
                    pinned.setdefault(commit, []).append(f"'{view.name}' v{view.version} #{dataset.version}")
    return pinned


def vacuum(stores: FeatureStores, record: FeatureGroupRecord, retain: timedelta) -> int:
    """Delete files only table versions older than ``retain`` read, keeping those of pinned commits.

    Raises:
        ValidationError: ``retain`` is not a non-negative timedelta.
    """
    if not isinstance(retain, timedelta) or retain < timedelta(0):
        raise ValidationError(f"retain must be a timedelta of zero or more, e.g. timedelta(days=7); got {retain!r}.")
    if not stores.offline.exists(record.table):
        return 0
    pinned = pinned_commits(stores, record)
    with stores.catalog.transaction() as tx:
        versions = [item.table_version for item in tx.feature_groups.commits(record.id) if item.commit in pinned]
    return _store(stores, record).vacuum(record.table, retain, versions)
