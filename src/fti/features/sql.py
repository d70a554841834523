"""SQL over Arrow data with DuckDB: the one home of quoting, time literals, the engines and the scans.

Every query the feature store (and the inference log, and the dashboard) runs is written with these:
identifiers go through :func:`quote`, text through :func:`text_literal`, moments through
:func:`time_literal`; a query runs either on a fresh :func:`query_engine` (it may spill, or change
settings) or on a cursor of the process's :func:`shared_engine` (short queries over data in memory).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from fti.errors import ValidationError

__all__ = [
    "local_paths",
    "parquet_scan",
    "query_engine",
    "quote",
    "register_dataset",
    "shared_engine",
    "text_literal",
    "time_literal",
]


def quote(name: str) -> str:
    """A SQL identifier in double quotes (names are validated identifiers; this guards keywords)."""
    return '"' + name.replace('"', '""') + '"'


def text_literal(text: str) -> str:
    """A SQL string literal in single quotes."""
    return "'" + text.replace("'", "''") + "'"


def time_literal(moment: datetime) -> str:
    """A SQL timestamp literal in UTC for a datetime we were given (naive means UTC)."""
    if not isinstance(moment, datetime):
        raise ValidationError(f"Expected a datetime for start/end, got {type(moment).__name__}.")
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return f"TIMESTAMP '{utc.replace(tzinfo=None).isoformat(sep=' ')}'"


def query_engine(memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB session; times compare and print in UTC.

    With ``memory_limit`` (e.g. ``"256MB"``) large aggregations spill to the temporary folder instead.
    """
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    if memory_limit is not None:
        connection.execute(f"SET memory_limit = {text_literal(memory_limit)}")
        spill = Path(tempfile.gettempdir()) / "fti-duckdb"
        connection.execute(f"SET temp_directory = {text_literal(str(spill))}")
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
    listed = ", ".join(text_literal(path) for path in files)
    connection.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet([{listed}])")


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
    listed = ", ".join(text_literal(path) for path in paths)
    return f"read_parquet([{listed}], union_by_name = true)"
