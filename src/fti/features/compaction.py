"""Compaction and vacuum of a feature group's offline table.

Every insert writes at least one file, so an hourly pipeline leaves thousands of small files that every
read opens. Compaction rewrites them into large ones as a new table version; each row keeps its commit
and row numbers, and reads of any commit scan the newest version (see :mod:`fti.features.time_travel`),
so no read, time travel or training-dataset rebuild changes. Vacuum then deletes the files that only
old versions read, except the versions training datasets pinned, which stay readable as they were, and
first the rows that inserts killed before their catalog row left behind (never visible to reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from fti.backends.ports import CompactingStore
from fti.core.features import FeatureGroupRecord, TableCompaction
from fti.errors import ValidationError
from fti.features.stores import FeatureStores
from fti.features.time_travel import describe_group

__all__ = ["Compaction", "compact", "compact_if_due", "delete_orphan_rows", "pinned_commits", "vacuum"]


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
    if done.version is not None:
        stores.audit("feature_group.compact", record, files_removed=done.files_removed, files_added=done.files_added)
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
        commits = tx.feature_groups.commits(record.id)
    store = _store(stores, record)
    delete_orphan_rows(store, record, [item.stamp for item in commits], retain)
    versions = [item.table_version for item in commits if item.commit in pinned]
    deleted = store.vacuum(record.table, retain, versions)
    if deleted:
        stores.audit("feature_group.vacuum", record, files=deleted, retain_seconds=retain.total_seconds())
    return deleted


def delete_orphan_rows(store: CompactingStore, record: FeatureGroupRecord, stamps: list[int], retain: timedelta) -> int:
    """Delete the rows of inserts killed between their table commit and their catalog row; how many.

    Such rows carry a stamp no recorded commit carries (``stamps`` are the recorded ones). Only files written
    more than ``retain`` ago are judged: a stamp that a newer file may hold can belong to an insert still
    running, whose catalog row is yet to come, so its rows stay.
    """
    ranges = store.value_ranges(record.table, "_fti_commit")
    if not ranges.num_rows:
        return 0
    lows = np.asarray(ranges.column("min").fill_null(0).to_numpy(), dtype=np.int64)
    highs = np.asarray(ranges.column("max").fill_null(np.iinfo(np.int64).max).to_numpy(), dtype=np.int64)
    cutoff = int((datetime.now(UTC) - retain).timestamp() * 1000)
    is_old = np.asarray(ranges.column("written_at").to_numpy(), dtype=np.int64) < cutoff
    if not is_old.any():
        return 0
    candidates = np.setdiff1d(np.arange(int(highs[is_old].max()) + 1), np.asarray(stamps, dtype=np.int64))
    in_old = _covering(candidates, lows[is_old], highs[is_old]) > 0
    in_new = _covering(candidates, lows[~is_old], highs[~is_old]) > 0
    orphans = candidates[in_old & ~in_new]
    return store.delete_rows(record.table, "_fti_commit", orphans.tolist()) if orphans.size else 0


def _covering(values: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
    """How many of the ranges ``[lows[i], highs[i]]`` hold each value (those starting at or below it, less those
    ending below it)."""
    started = np.searchsorted(np.sort(lows), values, side="right")
    ended = np.searchsorted(np.sort(highs), values, side="left")
    return np.asarray(started - ended)
