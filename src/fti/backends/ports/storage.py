"""The backends' lifecycle and factory, the data stores (artifacts, offline, online) and the executor."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as pads

    from fti.core.features import TableCompaction

__all__ = [
    "ArtifactStore",
    "BackendFactory",
    "CompactingStore",
    "Connectable",
    "Executor",
    "OfflineStore",
    "OnlineStore",
    "ScanningStore",
    "TaskHandle",
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


T = TypeVar("T")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
ConfigT = TypeVar("ConfigT")
BackendT_co = TypeVar("BackendT_co", covariant=True)


class BackendFactory(Protocol[ConfigT, BackendT_co]):
    """A backend class: validates its own options into its config model, and is built from that config.

    The backend kind table (:mod:`fti.backends.kinds`) calls ``cls(cls.config_from(options))``; the
    constructor only stores the config (STYLE.md B5).
    """

    def config_from(self, options: Mapping[str, Any]) -> ConfigT:
        """Validate the role's options (``fti.yaml``'s section, paths made absolute) into the config model.

        Options that belong to other kinds of the role (``path`` of one online store, ``url`` of another)
        are ignored; a wrong value raises ValidationError naming ``role.key``.
        """

    def __call__(self, config: ConfigT) -> BackendT_co:
        """The backend, not yet open."""


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
        add_columns: bool = False,
    ) -> int:
        """Stream ``data`` into ``table`` as one transaction, creating the table; return the new version.

        If reading ``data`` raises midway nothing is committed: readers keep seeing the previous version.
        ``overwrite`` replaces the table's rows and schema in a new version. ``add_columns`` lets an append add
        the columns of ``data`` that the table lacks (its earlier rows read them as null). With ``version``, the write
        commits exactly that version or raises ConflictError, so concurrent writers never interleave;
        without it, appends to an existing table from several writers at once all commit, each on its own
        version, and of writers creating a table at once, all but one raise ConflictError.
        """

    def read(self, table: str, version: int | None = None) -> pads.Dataset:
        """The table at ``version`` (default: latest); NotFoundError for a missing table or version."""

    def added(self, table: str, version: int) -> pads.FileSystemDataset:
        """The data files the commit of ``version`` added, as a dataset on the file system (and with the paths) of
        :meth:`read`'s datasets: empty when the commit added none; NotFoundError for a missing table or version."""

    def version(self, table: str) -> int | None:
        """The table's latest version, or None if there is no such table."""

    def exists(self, table: str) -> bool:
        """Whether a table is stored under ``table``."""

    def delete_table(self, table: str) -> None:
        """Remove ``table`` with every version and file; a missing table is not an error."""


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

    def read_one(self, table: str, key: Any, columns: Sequence[str] | None = None) -> dict[str, Any] | None:
        """Look up one key: its stored row as Python values, or None when the key is missing.

        ``key`` is a tuple in ``key_columns`` order (a bare value for a one-column key). The dict maps
        the requested feature columns (default: all) and the event time column to exactly the values
        ``read(table, [key], columns).to_pylist()[0]`` gives for them: the single-entity path of online
        serving, without the fixed cost of building Arrow arrays for one row.
        """

    def count(self, table: str) -> int:
        """Number of keys stored in ``table``."""


@runtime_checkable
class ScanningStore(Protocol):
    """An online store that streams every stored row of a table: what a vector search scans.

    An optional capability of an :class:`OnlineStore`. Rows come in batches, in no particular order; a row
    written during the scan may or may not be seen, and a key is never returned twice.
    """

    def scan(self, table: str, columns: Sequence[str] | None = None, batch_rows: int = 20_000) -> Iterator[pa.Table]:
        """Every stored row as tables of up to ``batch_rows`` rows: the key columns, the requested feature
        columns (default: all) and the event time column, typed as ``read`` gives them."""


@runtime_checkable
class CompactingStore(Protocol):
    """An offline store that rewrites a table's small files into large ones and deletes files no read needs.

    An optional capability of an :class:`OfflineStore`: compaction commits a new version holding the same
    rows; vacuum deletes the files that only versions older than ``retain`` need, except those of
    ``keep_versions``.
    """

    def compact(self, table: str) -> TableCompaction:
        """Rewrite the newest version's small files into large ones, as one new version."""

    def small_files(self, table: str) -> int:
        """How many of the newest version's files are small enough to compact."""

    def vacuum(self, table: str, retain: timedelta, keep_versions: Sequence[int]) -> int:
        """Delete files no version newer than ``retain`` and none of ``keep_versions`` reads; how many were deleted."""

    def value_ranges(self, table: str, column: str) -> pa.Table:
        """Per file of the newest version: the least and greatest value of the integer ``column`` (``min``,
        ``max``; null where unknown) and when the file was written (``written_at``, milliseconds since 1970)."""

    def delete_rows(self, table: str, column: str, values: Sequence[int]) -> int:
        """Delete the rows whose integer ``column`` is one of ``values``, as one new version; how many."""


class TaskHandle(Protocol[R_co]):
    """One task started by :meth:`Executor.submit`."""

    def done(self) -> bool:
        """Whether the task ended (returned, raised or was stopped)."""

    def result(self, timeout: float | None = None) -> R_co:
        """The task's return value; its exception re-raised; TimeoutError when not done within ``timeout`` seconds;
        BackendError when the task was stopped or its process died."""

    def cancel(self) -> None:
        """Stop the task now (its process and every process it started); idempotent."""


class Executor(Connectable, Protocol):
    """Runs independent tasks in parallel: local processes or a cluster.

    Tasks run outside the caller's process, so ``function``, the items and the results must be picklable
    (a function defined at a module's top level, plain data). A task opens what it needs itself (a project
    by its folder, a model from the registry) rather than receiving open connections.
    """

    @property
    def workers(self) -> int:
        """How many tasks run at once."""

    @property
    def is_cluster(self) -> bool:
        """Whether the tasks run on a cluster's workers (which bring cores of their own) rather than as
        processes of this machine: work that only pays with more cores (a point-in-time join split by key)
        is split over a cluster's workers only."""

    def map(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Apply ``function`` to every item; results in input order; the first failure is raised.

        The error a task raised is raised here, with its type and message; the remaining tasks are cancelled.
        """

    def submit(self, function: Callable[[T], R], item: T) -> TaskHandle[R]:
        """Start ``function(item)`` in a process of its own (on a cluster: a task) and return at once.

        The task can be stopped (:meth:`TaskHandle.cancel`), and it dies with the process that submitted it.
        """
