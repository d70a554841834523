"""The Protocols every backend implements (STYLE.md B1-B8).

Interfaces are narrow and storage-level: bytes for artifacts, transactional record CRUD for the
catalog, keyed Arrow rows for the online store. Versioning, checksums, lineage, TTL and the other
semantics live once in the services above. Every method is required; an optional capability is a separate Protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from fti.core.records import ArtifactRecord, SchemaState

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "ArtifactRecords",
    "ArtifactStore",
    "CatalogStore",
    "CatalogTransaction",
    "Connectable",
    "OnlineStore",
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


class CatalogTransaction(Protocol):
    """One atomic unit of catalog work; each domain's records hang off it."""

    @property
    def artifacts(self) -> ArtifactRecords:
        """Artifact records."""


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


class OnlineStore(Connectable, Protocol):
    """The latest row per primary key of each online table, for millisecond lookups.

    An online table holds one row per primary key: the row with the newest event time written so far.
    Writes are upserts guarded by the event time, atomic per row: an older event never overwrites a
    newer one, whatever the arrival order, and for equal event times the later write wins (within one
    ``write`` call, rows apply in order). A reader sees each key's whole old row or whole new row.

    The store knows nothing of feature groups, versions or TTL: it returns each row's event time so the
    service above can decide what is still fresh.
    """

    def create_table(self, table: str, key_columns: Sequence[str], event_time_column: str, schema: pa.Schema) -> None:
        """Create ``table`` for rows of ``schema`` keyed by ``key_columns``.

        Idempotent for the same definition; ConflictError if ``table`` exists with another one.
        ValidationError for an invalid name, a missing column or an unsupported type.
        """

    def delete_table(self, table: str) -> None:
        """Drop ``table`` and all its rows; a missing table is not an error."""

    def write(self, table: str, rows: pa.Table) -> int:
        """Upsert ``rows`` (every column of the table's schema) per key; return how many keys were written.

        Per key, the row with the newest event time (of equal ones, the last) replaces the stored row
        unless that one is newer. ValidationError (before any
        write) if a column is missing or of the wrong type, or a key or event time is null.
        """

    def read(self, table: str, keys: pa.Table | Sequence[Any], columns: Sequence[str] | None = None) -> pa.Table:
        """Look up many keys in one round trip.

        ``keys`` is a table with the key columns, or key tuples in ``key_columns`` order (bare values
        for a one-column key). The result has
        one row per requested key, in request order: the key columns, the requested feature columns
        (default: all) and the event time column; every value but the keys is null for a missing key.
        """

    def count(self, table: str) -> int:
        """Number of keys stored in ``table``."""
