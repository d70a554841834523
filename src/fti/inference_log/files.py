"""The data files of the inference log and its labels, read one file at a time.

A Delta table's data files never change once written, so whatever is derived from a file (its scalar columns,
the deployments' spans in it, its summary) is computed once and kept while the file belongs to the table (the
service's cache, :mod:`fti.inference_log.cache`, bounds the columns kept). A new table version adds its own files
only: the files already read are kept. The Parquet footers, read when a file joins, tell each file's rows and
time range, so a query reads only the files that meet its window: the first view of a day reads about a day of
the log.

Only scalar columns are kept, never the logged features (:meth:`DataFile.read` reads those for a window and keeps
nothing); the strings that repeat (deployment, variant, model name) stay dictionary-encoded as Parquet stores them,
which reads several times faster than plain strings.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from fti.features.sql import local_paths, parquet_scan, shared_engine

if TYPE_CHECKING:
    from fti.backends.ports import OfflineStore

__all__ = [
    "DataFile",
    "TableFiles",
    "codes",
    "data_files",
    "each",
    "is_local",
    "microseconds",
    "open_table_files",
    "read_tables",
]

#: files read at once when a query needs several (the Parquet decoder releases the interpreter)
_READERS = 2
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T = TypeVar("T")


def microseconds(moment: datetime) -> int:
    """``moment`` (timezone-aware) as microseconds since the epoch: the log's timestamps as integers."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray[Any, Any], pa.Array]:
    """A string column as integer codes and the values they stand for (the dictionary)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_dictionary(array.type):
        array = array.dictionary_encode()
    indices = array.indices.fill_null(0) if array.indices.null_count else array.indices
    return np.asarray(indices.to_numpy(zero_copy_only=False)), array.dictionary


@dataclass(frozen=True, slots=True)
class _Reader:
    """How the files of one table version are read: where from, which columns, which of them as dictionaries."""

    filesystem: pafs.FileSystem
    columns: tuple[str, ...]
    dictionary: tuple[str, ...]
    schema: pa.Schema

    def read(self, path: str, metadata: pq.FileMetaData) -> pa.Table:
        """The wanted columns of one file; a column the file lacks (added to the table later) reads as nulls."""
        names = _columns(metadata)
        present = [column for column in self.columns if column in names]
        with self.filesystem.open_input_file(path) as source:
            parquet = pq.ParquetFile(
                source,
                metadata=metadata,
                read_dictionary=[column for column in self.dictionary if column in names],
                # coalescing reads pays off for object stores; on a local disk it only allocates large buffers,
                # which costs more (in the kernel) than reading the columns
                pre_buffer=not is_local(self.filesystem),
            )
            table = parquet.read(columns=present, use_threads=False)
        for column in self.columns:
            if column not in names:
                table = table.append_column(column, pa.nulls(table.num_rows, self.schema.field(column).type))
        return table.combine_chunks()


#: told of each file whose columns were just read (the cache counts the bytes kept and may forget other files')
ReadListener = Callable[["DataFile"], None]


class DataFile:
    """One data file: what its footer says at once; its columns, and what is derived from them, on first use."""

    def __init__(
        self, reader: _Reader, path: str, metadata: pq.FileMetaData, on_read: ReadListener | None = None
    ) -> None:
        self.path = path
        self.rows = int(metadata.num_rows)
        self.first, self.last = _range(metadata, "timestamp")
        self._reader = reader
        self._metadata = metadata
        self._on_read = on_read
        self._table: pa.Table | None = None
        self._derived: dict[str, Any] = {}
        self._only: dict[str, Any] = {}
        self._lock = threading.RLock()

    @property
    def filesystem(self) -> pafs.FileSystem:
        """The file system the file is read from (the table's folder)."""
        return self._reader.filesystem

    @property
    def nbytes(self) -> int:
        """The bytes of the columns kept in memory (0 when not read)."""
        table = self._table
        return 0 if table is None else int(table.nbytes)

    def has_column(self, column: str) -> bool:
        """Whether the file holds ``column`` (a column added to the table later is absent from older files)."""
        names: list[str] = self._metadata.schema.names
        return column in names

    @property
    def is_read(self) -> bool:
        """Whether the file's columns are in memory."""
        return self._table is not None

    def only(self, column: str) -> Any:
        """The one value ``column`` holds in every row of the file, by the footer's statistics; None if unknown.

        A minimum equal to the maximum is exact: a writer that shortens long strings in its statistics rounds the
        maximum up, so a shortened pair is never equal.
        """
        if column not in self._only:
            self._only[column] = self._only_value(column)
        return self._only[column]

    def _only_value(self, column: str) -> Any:
        index = _column_index(self._metadata, column)
        if index is None or self.rows == 0:
            return None
        found: set[Any] = set()
        for group in range(self._metadata.num_row_groups):
            statistics = self._metadata.row_group(group).column(index).statistics
            if statistics is None or not statistics.has_min_max or statistics.null_count:
                return None
            if statistics.min != statistics.max:
                return None
            found.add(statistics.min)
        return found.pop() if len(found) == 1 else None

    def meets(self, start: int | None, end: int | None) -> bool:
        """Whether the file may hold rows with ``start <= timestamp < end`` (microseconds; None: unbounded)."""
        if self.first is None or self.last is None:
            return self.rows > 0
        return (start is None or self.last >= start) and (end is None or self.first < end)

    def table(self) -> pa.Table:
        """The file's scalar columns (read once, until :meth:`forget`)."""
        with self._lock:
            found = self._table
            is_new = found is None
            if found is None:
                found = self._table = self._reader.read(self.path, self._metadata)
        if is_new and self._on_read is not None:  # outside the lock: the listener may forget other files
            self._on_read(self)
        return found

    def forget(self) -> None:
        """Drop the columns kept in memory (read again on next use); what was derived from them stays."""
        with self._lock:
            self._table = None

    def read(
        self, columns: Sequence[str], rows: np.ndarray[Any, Any] | None = None, schema: pa.Schema | None = None
    ) -> pa.Table:
        """Other columns of the file (the logged features, say), read now and not kept: every row, or the rows at
        the ascending positions ``rows``; typed as in ``schema`` (default: the table's when the file joined), a
        column the file lacks as nulls.

        A text column whose every value the footer tells (the features' JSON of a file whose features are all
        typed: ``{}``) is made, not read. Other text of a local file is read by DuckDB's Parquet reader, which reads
        long strings (the features' JSON) several times faster than Arrow's, and only from the first to the last
        row asked for; the rest (the typed features' struct) by Arrow's, which reads nested columns faster.
        """
        schema = self._reader.schema if schema is None else schema
        names = _columns(self._metadata)
        count = self.rows if rows is None else len(rows)
        found: dict[str, pa.Array | pa.ChunkedArray] = {}
        text: list[str] = []
        other: list[str] = []
        for column in columns:
            data_type = schema.field(column).type
            if column not in names:
                found[column] = pa.nulls(count, data_type)
            elif not pa.types.is_string(data_type):
                other.append(column)
            elif (value := self.only(column)) is not None:
                found[column] = pa.repeat(pa.scalar(value, data_type), count)
            else:
                text.append(column)
        paths = local_paths(self.filesystem, [self.path])
        if text and paths:
            found |= _by_name(self._read_text(paths, text, rows))
        else:
            other = [*text, *other]
        if other:
            part = _Reader(self.filesystem, tuple(other), (), schema).read(self.path, self._metadata)
            found |= _by_name(part if rows is None else part.take(pa.array(rows)))
        table = pa.table({column: found[column] for column in columns})
        return table.cast(pa.schema([schema.field(column) for column in columns]))

    def _read_text(self, paths: list[str], columns: list[str], rows: np.ndarray[Any, Any] | None) -> pa.Table:
        """``columns`` of the rows asked for, read by DuckDB from the first to the last of them."""
        first, last = (0, self.rows - 1) if rows is None or len(rows) == 0 else (int(rows[0]), int(rows[-1]))
        listed = ", ".join('"' + column.replace('"', '""') + '"' for column in columns)
        with shared_engine().cursor() as connection:
            found = connection.sql(
                f"SELECT {listed} FROM {parquet_scan(paths)} WHERE file_row_number BETWEEN $first AND $last "
                "ORDER BY file_row_number",
                params={"first": first, "last": last},
            ).to_arrow_table()
        return found if rows is None else found.take(pa.array(np.asarray(rows) - first))

    def derived(self, name: str, compute: Callable[[DataFile], T]) -> T:
        """``compute(self)``, kept under ``name`` for as long as the file is (computed once)."""
        with self._lock:
            if name not in self._derived:
                self._derived[name] = compute(self)
            found: T = self._derived[name]
            return found


class TableFiles:
    """The data files of one table version (none, with version None, when the table does not exist)."""

    def __init__(self, version: int | None, reader: _Reader | None, files: tuple[DataFile, ...] = ()) -> None:
        self.version = version
        self.reader = reader
        self.files = files

    def meeting(self, start: int | None = None, end: int | None = None, **only: Any) -> list[DataFile]:
        """The files that may hold rows in ``[start, end)`` whose columns may hold the given values."""
        return [
            file
            for file in self.files
            if file.meets(start, end) and all(file.only(column) in (None, value) for column, value in only.items())
        ]


def each(files: Sequence[DataFile], compute: Callable[[DataFile], T]) -> list[T]:
    """``compute(file)`` for each of ``files`` (in order); a few at a time when some files are not read yet."""
    if sum(not file.is_read for file in files) > 1:
        with ThreadPoolExecutor(_READERS, thread_name_prefix="fti-ui-read") as pool:
            return list(pool.map(compute, files))
    return [compute(file) for file in files]


def read_tables(files: Sequence[DataFile]) -> list[pa.Table]:
    """The columns of ``files`` (in order), reading the ones not read yet a few at a time."""
    return each(files, DataFile.table)


def is_local(filesystem: pafs.FileSystem) -> bool:
    """Whether ``filesystem`` reads a local disk (directly or under a subtree)."""
    while isinstance(filesystem, pafs.SubTreeFileSystem):
        filesystem = filesystem.base_fs
    return isinstance(filesystem, pafs.LocalFileSystem)


def _by_name(table: pa.Table) -> dict[str, pa.ChunkedArray]:
    return {name: table.column(name) for name in table.column_names}


def _columns(metadata: pq.FileMetaData) -> set[str]:
    """The file's top-level columns (a struct's fields are Parquet columns of their own, not among these)."""
    return set(metadata.schema.to_arrow_schema().names)


def _column_index(metadata: pq.FileMetaData, column: str) -> int | None:
    names: list[str] = metadata.schema.names
    return names.index(column) if column in names else None


def _range(metadata: pq.FileMetaData, column: str) -> tuple[int | None, int | None]:
    """The smallest and largest value of a timestamp column in microseconds, by the footer (None if unknown)."""
    index = _column_index(metadata, column)
    if index is None:
        return None, None
    lows, highs = [], []
    for group in range(metadata.num_row_groups):
        statistics = metadata.row_group(group).column(index).statistics
        if statistics is None or not statistics.has_min_max:
            return None, None
        lows.append(_micros(statistics.min))
        highs.append(_micros(statistics.max))
    return (min(lows), max(highs)) if lows else (None, None)


def _micros(value: Any) -> int:
    if isinstance(value, datetime):
        return microseconds(value if value.tzinfo is not None else value.replace(tzinfo=UTC))
    return int(value)


def open_table_files(
    offline: OfflineStore,
    name: str,
    version: int | None,
    columns: tuple[str, ...],
    dictionary: tuple[str, ...] = (),
    *,
    previous: TableFiles | None = None,
    on_read: ReadListener | None = None,
) -> TableFiles:
    """The files of table ``name`` at ``version`` (their footers read), keeping the files (and what was read of
    them) of ``previous``; None for ``version``: the table does not exist.

    ``columns`` are the columns a file's :meth:`DataFile.table` reads (those the table has), ``dictionary`` the ones
    read dictionary-encoded; ``on_read`` is told of each file whose columns were read.
    """
    if version is None:
        return TableFiles(None, None)
    dataset = offline.read(name, version)
    if not isinstance(dataset, pads.FileSystemDataset):  # pragma: no cover - the offline stores give file datasets
        raise TypeError(f"Table '{name}' is not stored as files.")
    reader = _reader_of(dataset, columns, dictionary)
    is_same = previous is not None and previous.reader is not None and previous.reader.columns == reader.columns
    kept = {file.path: file for file in previous.files} if previous is not None and is_same else {}
    files = [kept.get(path) or _data_file(reader, path, on_read) for path in dataset.files]
    return TableFiles(version, reader, tuple(files))


def data_files(
    dataset: pads.FileSystemDataset, columns: tuple[str, ...], dictionary: tuple[str, ...] = ()
) -> list[DataFile]:
    """The files of ``dataset`` (their footers read), whose :meth:`DataFile.table` reads ``columns`` (those the
    dataset has), ``dictionary`` of them dictionary-encoded."""
    reader = _reader_of(dataset, columns, dictionary)
    return [_data_file(reader, path) for path in dataset.files]


def _reader_of(dataset: pads.FileSystemDataset, columns: tuple[str, ...], dictionary: tuple[str, ...]) -> _Reader:
    wanted = tuple(column for column in columns if column in dataset.schema.names)
    return _Reader(dataset.filesystem, wanted, dictionary, dataset.schema)


def _data_file(reader: _Reader, path: str, on_read: ReadListener | None = None) -> DataFile:
    with reader.filesystem.open_input_file(path) as source:
        return DataFile(reader, path, pq.ParquetFile(source).metadata, on_read)
