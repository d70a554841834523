"""The two stores the feature store works on, and the DuckDB sessions that query them."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow.dataset as pads
import pyarrow.fs as pafs

if TYPE_CHECKING:
    from fti.backends.ports import CatalogStore, OfflineStore, OnlineStore
    from fti.core.sources import CommitLineage, SourceOpener

__all__ = ["FeatureStores", "local_paths", "parquet_scan", "query_engine", "register_dataset", "shared_engine"]


@dataclass(frozen=True, slots=True)
class FeatureStores:
    """The catalog (metadata), the offline store (rows) and the online store behind feature groups and views.

    ``online`` returns the project's online store, opening it on first use, so projects that never
    serve features never connect to it. ``open_source`` turns a path or URL given to ``insert`` into a
    source; ``provenance`` tells the code version and run a commit's lineage records; ``compact_after``
    is how many small files a feature group gathers before an insert compacts it (None: never).
    """

    catalog: CatalogStore
    offline: OfflineStore
    online: Callable[[], OnlineStore] | None = None
    open_source: SourceOpener | None = None
    provenance: Callable[[], CommitLineage] | None = None
    compact_after: int | None = None


def query_engine(memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB session of its own; times compare and print in UTC. Close it when done.

    Without ``memory_limit`` it is a cursor of the process's shared database (its registrations and
    settings are its own; a new database costs ~45 ms, about what reading a small feature group does).
    With ``memory_limit`` (e.g. ``"256MB"``, a database-wide setting) it is a fresh database whose large
    aggregations spill to the temporary folder instead.
    """
    if memory_limit is None:
        connection = shared_engine().cursor()
        connection.execute("SET TimeZone = 'UTC'")
    else:
        connection = duckdb.connect()
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(f"SET memory_limit = '{memory_limit}'")
        spill = Path(tempfile.gettempdir()) / "fti-duckdb"
        connection.execute(f"SET temp_directory = '{spill}'")
    # Arrow scans carry no row-count estimate; without this DuckDB may plan an ASOF join as a nested loop.
    connection.execute("SET asof_loop_join_threshold = 0")
    return connection


_SHARED: list[duckdb.DuckDBPyConnection] = []
_SHARED_LOCK = threading.Lock()


def shared_engine() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB database for the process, made on first use: run each query on its own
    ``shared_engine().cursor()`` (a cursor costs nothing and is safe in any thread; a new database costs ~25 ms).
    For short queries over data in memory; queries that spill or change settings want :func:`query_engine`.
    """
    with _SHARED_LOCK:
        if not _SHARED:
            _SHARED.append(duckdb.connect())
        return _SHARED[0]


def register_dataset(connection: duckdb.DuckDBPyConnection, name: str, dataset: pads.Dataset) -> None:
    """Make ``dataset`` queryable as ``name``.

    Local Parquet files are read by DuckDB itself, which streams them within its memory limit and
    plans joins with their row counts; other datasets are scanned through Arrow.
    """
    files = _local_files(dataset)
    if not files:
        connection.register(name, dataset)
        return
    listed = ", ".join("'" + path.replace("'", "''") + "'" for path in files)
    # a temporary view belongs to this session alone, also on a cursor of the shared database
    connection.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_parquet([{listed}])")


def _local_files(dataset: pads.Dataset) -> list[str]:
    filesystem = getattr(dataset, "filesystem", None)
    return local_paths(filesystem, dataset.files) if filesystem is not None else []


def local_paths(filesystem: pafs.FileSystem, paths: Sequence[str]) -> list[str]:
    """``paths`` on ``filesystem`` as paths of the local disk, for DuckDB to read itself; empty when the file system
    is not the local disk (an object store)."""
    if isinstance(filesystem, pafs.SubTreeFileSystem) and isinstance(filesystem.base_fs, pafs.LocalFileSystem):
        base = filesystem.base_path.rstrip("/")
        return [f"{base}/{path.lstrip('/')}" for path in paths]
    if isinstance(filesystem, pafs.LocalFileSystem):
        return list(paths)
    return []


def parquet_scan(paths: Sequence[str]) -> str:
    """The SQL that scans local Parquet ``paths`` with DuckDB's own reader (columns matched by name)."""
    listed = ", ".join("'" + path.replace("'", "''") + "'" for path in paths)
    return f"read_parquet([{listed}], union_by_name = true)"
