"""Records of the feature store kept in the catalog: feature groups, commits, views, training datasets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fti.core.sources import CommitLineage

__all__ = [
    "ColumnSpec",
    "CommitRecord",
    "FeatureGroupRecord",
    "FeatureViewRecord",
    "TableCompaction",
    "TrainingDatasetRecord",
]


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column of a feature group: its name and Arrow type as text (``int64``, ``timestamp[us, tz=UTC]``)."""

    name: str
    type: str


@dataclass(frozen=True, slots=True)
class FeatureGroupRecord:
    """A feature group version as the catalog stores it. ``id`` is 0 until the catalog assigns one."""

    id: int
    name: str
    version: int
    description: str
    primary_key: tuple[str, ...]
    event_time: str
    is_online: bool
    ttl_seconds: float | None
    tags: dict[str, str]
    schema: tuple[ColumnSpec, ...] | None
    expectations: tuple[dict[str, Any], ...]
    created_at: datetime

    @property
    def table(self) -> str:
        """The offline-store table holding the group's rows."""
        return f"feature_groups/{self.name}_v{self.version}"


@dataclass(frozen=True, slots=True)
class CommitRecord:
    """One insert into a feature group: its number, size, statistics and lineage.

    ``commit`` numbers the group's commits in the order they were recorded, without gaps. ``stamp`` is the
    number the commit's rows carry in the offline table's ``_fti_commit`` column, reserved when the insert
    began (so inserts running at once write apart and neither has to retry); ``table_version`` is the
    offline-table version that published the rows. Both default to ``commit``, as commits recorded
    before stamps existed were numbered by their table version.
    """

    feature_group_id: int
    commit: int
    committed_at: datetime
    rows_inserted: int
    rows_replaced: int
    statistics: dict[str, Any]
    group_statistics: dict[str, Any] | None = None
    lineage: CommitLineage | None = None
    stamp: int = -1
    table_version: int = -1

    def __post_init__(self) -> None:
        if self.stamp < 0:
            object.__setattr__(self, "stamp", self.commit)
        if self.table_version < 0:
            object.__setattr__(self, "table_version", self.commit)


@dataclass(frozen=True, slots=True)
class FeatureViewRecord:
    """A feature view version: the query it joins (as plain data) and its label columns."""

    id: int
    name: str
    version: int
    description: str
    query: dict[str, Any]
    labels: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TrainingDatasetRecord:
    """A materialized training dataset and the feature-group commits it was built from."""

    id: int
    feature_view_id: int
    version: int
    description: str
    start: datetime | None
    end: datetime | None
    split: dict[str, float] | None
    split_by: str
    seed: int | None
    statistics: dict[str, Any]
    sources: dict[int, int]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TableCompaction:
    """What compacting an offline table did: the version it committed (None: nothing to compact) and its files."""

    version: int | None
    files_removed: int
    files_added: int
