"""The Protocols every backend implements (STYLE.md B1-B8).

Interfaces are narrow and storage-level: bytes for artifacts, transactional record CRUD for the
catalog. Versioning, checksums, lineage and the other semantics live once in the services above.
Every method is required; an optional capability is a separate Protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from fti.core.features import ColumnSpec, CommitRecord, FeatureGroupRecord, FeatureViewRecord, TrainingDatasetRecord
from fti.core.records import ArtifactRecord, SchemaState

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as pads

__all__ = [
    "ArtifactRecords",
    "ArtifactStore",
    "CatalogStore",
    "CatalogTransaction",
    "Connectable",
    "FeatureGroupRecords",
    "FeatureViewRecords",
    "OfflineStore",
    "TrainingDatasetRecords",
]


@runtime_checkable
class Connectable(Protocol):
    """Anything with an explicit connection lifecycle (STYLE.md B5)."""

    def open(self) -> None:
        """Connect; may be called again after ``close``."""

    def close(self) -> None:
        """Release connections and files; idempotent."""

    def ping(self) -> None:
        """Raise BackendError unless the backend is reachable and usable."""

    def describe(self) -> str:
        """Where the backend lives, for status output (no secrets)."""


class ArtifactStore(Connectable, Protocol):
    """Bytes under relative keys. Writes are atomic: a reader never sees a partial object."""

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``, replacing any previous object atomically."""

    def put_file(self, key: str, path: Path) -> None:
        """Store the file at ``path`` under ``key``, atomically."""

    def get_bytes(self, key: str) -> bytes:
        """Return the object's bytes; NotFoundError if there is none."""

    def get_file(self, key: str, path: Path) -> None:
        """Write the object to ``path``; NotFoundError if there is none."""

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    def list_keys(self, prefix: str = "") -> list[str]:
        """Keys that start with ``prefix``, sorted."""

    def delete(self, key: str) -> None:
        """Remove the object; a missing key is not an error."""


class OfflineStore(Connectable, Protocol):
    """Versioned columnar tables under relative names; one write is one atomic transaction."""

    def write(
        self,
        table: str,
        data: pa.RecordBatchReader,
        *,
        mode: Literal["append", "overwrite"] = "append",
        version: int | None = None,
    ) -> int:
        """Stream ``data`` into ``table`` as one transaction, creating the table; return the new version.

        If reading ``data`` raises midway nothing is committed: readers keep seeing the previous version.
        ``overwrite`` replaces the table's rows and schema in a new version. With ``version``, the write
        commits exactly that version or raises ConflictError, so concurrent writers never interleave.
        """

    def read(self, table: str, version: int | None = None) -> pads.Dataset:
        """The table at ``version`` (default: latest); NotFoundError for a missing table or version."""

    def version(self, table: str) -> int | None:
        """The table's latest version, or None if there is no such table."""

    def exists(self, table: str) -> bool:
        """Whether a table is stored under ``table``."""


class ArtifactRecords(Protocol):
    """Catalog records of artifacts and their checksums."""

    def upsert(self, record: ArtifactRecord) -> None:
        """Insert or replace the record for ``record.key``."""

    def find(self, key: str) -> ArtifactRecord | None:
        """The record for ``key``, or None."""

    def list(self, prefix: str = "") -> list[ArtifactRecord]:
        """Records whose key starts with ``prefix``, sorted by key."""

    def delete(self, keys: Sequence[str]) -> None:
        """Remove the records for ``keys``."""


class FeatureGroupRecords(Protocol):
    """Catalog records of feature groups and their commits."""

    def add(self, record: FeatureGroupRecord) -> FeatureGroupRecord:
        """Insert a new feature group version; return it with its assigned id."""

    def find(self, name: str, version: int | None = None) -> FeatureGroupRecord | None:
        """The group ``name`` at ``version`` (None: the latest version), or None."""

    def find_by_id(self, group_id: int) -> FeatureGroupRecord | None:
        """The group with catalog id ``group_id``, or None."""

    def set_schema(self, group_id: int, schema: tuple[ColumnSpec, ...]) -> None:
        """Record the schema taken from the group's first insert."""

    def add_commit(self, record: CommitRecord) -> None:
        """Record one insert."""

    def set_group_statistics(self, group_id: int, commit: int, statistics: dict[str, Any]) -> None:
        """Record the statistics of the whole group as of ``commit``."""

    def commits(self, group_id: int) -> list[CommitRecord]:
        """The group's commits, oldest first."""

    def list(self) -> list[FeatureGroupRecord]:
        """Every feature group version, by name then version."""


class FeatureViewRecords(Protocol):
    """Catalog records of feature views."""

    def add(self, record: FeatureViewRecord) -> FeatureViewRecord:
        """Insert a new feature view version; return it with its assigned id."""

    def find(self, name: str, version: int | None = None) -> FeatureViewRecord | None:
        """The view ``name`` at ``version`` (None: the latest version), or None."""

    def list(self) -> list[FeatureViewRecord]:
        """Every feature view version, by name then version."""


class TrainingDatasetRecords(Protocol):
    """Catalog records of training datasets and the feature-group commits they read."""

    def add(self, record: TrainingDatasetRecord) -> TrainingDatasetRecord:
        """Insert a training dataset and its source commits; return it with its assigned id."""

    def next_version(self, feature_view_id: int) -> int:
        """One more than the view's highest training dataset version (1 for the first)."""

    def find(self, feature_view_id: int, version: int | None = None) -> TrainingDatasetRecord | None:
        """The view's training dataset ``version`` (None: the latest), or None."""

    def list(self, feature_view_id: int) -> list[TrainingDatasetRecord]:
        """The view's training datasets, oldest first."""


class CatalogTransaction(Protocol):
    """One atomic unit of catalog work; each domain's records hang off it."""

    @property
    def artifacts(self) -> ArtifactRecords:
        """Artifact records."""

    @property
    def feature_groups(self) -> FeatureGroupRecords:
        """Feature group and commit records."""

    @property
    def feature_views(self) -> FeatureViewRecords:
        """Feature view records."""

    @property
    def training_datasets(self) -> TrainingDatasetRecords:
        """Training dataset records."""


class CatalogStore(Connectable, Protocol):
    """The metadata database: schema lifecycle plus transactions."""

    def schema_state(self) -> SchemaState:
        """Compare the database's revision with the code's migrations."""

    def upgrade(self) -> SchemaState:
        """Create or migrate the schema to the code's revision; safe to run concurrently."""

    def transaction(self) -> AbstractContextManager[CatalogTransaction]:
        """A transaction committed on normal exit and rolled back on an exception."""

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables, for status output."""
