"""The embedded online store: one SQLite file in WAL mode, one table per online table.

Each online table is a ``WITHOUT ROWID`` table clustered on its primary key. A write keeps each key's
latest row of the batch, sorts by key (appends to the B-tree instead of random inserts; materialization
streams rows in key order, so its batches touch disjoint key ranges and each page is written about once),
and runs ``INSERT ... VALUES (64 rows) ON CONFLICT DO UPDATE ... WHERE excluded.<event time> >= <event time>``
statements in one ``BEGIN IMMEDIATE`` transaction: the newest event wins per key inside SQLite,
atomically, and a process killed mid-write leaves the previous state (WAL rollback).

Values are stored as SQLite integers and text so they come back exactly: timestamps and dates as their
ticks, floats as their IEEE-754 bit patterns (SQLite turns NaN into NULL, so storing the bits is the one
way to keep NaN, -0.0 and infinities), bools as 0/1, float vectors (embeddings) as BLOBs of their bytes.
Conversions are vectorized Arrow buffer views.
A read joins a ``VALUES`` list of the requested keys with the table, so SQLite returns the rows in
request order with NULLs for missing keys, in one statement; a scan (for a vector search) fetches the
whole table in batches.

The module runs past 400 lines: the storage conversions, the write, read and scan statements and the
connection's lifecycle are one store's single use of one connection and change together.
"""

from __future__ import annotations

import sqlite3
import struct
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict

from fti.backends.online.tables import (
    OnlineTable,
    conform_keys,
    conform_rows,
    define_table,
    latest_per_key,
    plain_key,
    temporal_value,
    validate_table_name,
)
from fti.backends.online.vectors import vector_bytes, vectors_from_bytes
from fti.backends.settings import parse_backend_config
from fti.core.vectors import is_vector_type
from fti.errors import BackendError, ConflictError, NotFoundError

__all__ = ["SqliteOnlineConfig", "SqliteOnlineStore"]

_META_TABLE = "_fti_online_tables"
_READ_PARAMETERS = 30_000  # bound values per statement, under SQLite's limit of 32,766
_ROWS_PER_STATEMENT = 64
_BUSY_TIMEOUT_MS = 60_000
_CACHE_KIB = 64 * 1024
_MMAP_BYTES = 1 << 30
#: pages of a new file: with 32 KiB instead of 4 KiB a bulk load costs ~15% less CPU (fewer page splits
#: and WAL frames) while a point lookup stays ~0.25 ms (benchmarks/online_lookup.py)
_PAGE_BYTES = 32 * 1024


class SqliteOnlineConfig(BaseModel):
    """Settings of the SQLite online store: the database file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    path: Path


def _storage_type(data_type: pa.DataType) -> pa.DataType:
    """The Arrow type whose Python values SQLite stores for ``data_type``."""
    if pa.types.is_float64(data_type) or pa.types.is_timestamp(data_type):
        return pa.int64()
    if pa.types.is_float32(data_type) or pa.types.is_date32(data_type):
        return pa.int32()
    if pa.types.is_boolean(data_type):
        return pa.int8()
    if is_vector_type(data_type):
        return pa.binary()
    return data_type


def _reinterpret(array: pa.Array, data_type: pa.DataType) -> pa.Array:
    # Same-width fixed-size types share their buffer layout; a view is exact and copies nothing.
    return array.view(data_type)


def _to_storage(array: pa.Array) -> list[Any]:
    storage = _storage_type(array.type)
    if is_vector_type(array.type):
        return list(vector_bytes(array).to_pylist())
    if pa.types.is_boolean(array.type):
        return list(array.cast(storage).to_pylist())
    if storage != array.type:
        array = _reinterpret(array, storage)
    return list(array.to_pylist())


def _from_storage(array: pa.Array, data_type: pa.DataType) -> pa.Array:
    if array.type == data_type:
        return array
    if pa.types.is_boolean(data_type):
        return pc.not_equal(array, 0)
    if is_vector_type(data_type):
        return vectors_from_bytes(array, data_type)
    return _reinterpret(array, data_type)


_INT64 = struct.Struct("<q")
_FLOAT64 = struct.Struct("<d")
_INT32 = struct.Struct("<i")
_FLOAT32 = struct.Struct("<f")


def _python_value(data_type: pa.DataType) -> Callable[[Any], Any] | None:
    """A stored SQLite value to the Python value Arrow gives for ``data_type`` (None: it is that already)."""
    if pa.types.is_float64(data_type):
        return lambda bits: _FLOAT64.unpack(_INT64.pack(bits))[0]
    if pa.types.is_float32(data_type):
        return lambda bits: _FLOAT32.unpack(_INT32.pack(bits))[0]
    if pa.types.is_boolean(data_type):
        return bool
    if pa.types.is_timestamp(data_type) or pa.types.is_date32(data_type):
        return temporal_value(data_type)
    if is_vector_type(data_type):
        return partial(_vector_value, np.dtype(data_type.value_type.to_pandas_dtype()).newbyteorder("<"))
    return None


def _vector_value(dtype: np.dtype[Any], blob: bytes) -> list[float]:
    return list(np.frombuffer(blob, dtype=dtype).tolist())


def _sql_type(data_type: pa.DataType) -> str:
    if is_vector_type(data_type):
        return "BLOB"  # the little-endian bytes of the values
    return "TEXT" if pa.types.is_string(data_type) else "INTEGER"


def _quote(name: str) -> str:
    # Names are validated identifiers before they get here; quoting keeps SQL keywords usable.
    return f'"{name}"'


def _upsert_sql(definition: OnlineTable, rows: int) -> str:
    """Upsert ``rows`` rows; the stored row stays when its event time is newer."""
    return _upsert_statement(
        definition.name, tuple(definition.schema.names), definition.key_columns, definition.event_time_column, rows
    )


@lru_cache(maxsize=256)
def _upsert_statement(table: str, names: tuple[str, ...], keys: tuple[str, ...], event_time: str, rows: int) -> str:
    row = "(" + ", ".join("?" for _ in names) + ")"
    updates = ", ".join(f"{_quote(name)} = excluded.{_quote(name)}" for name in names)
    return (
        f"INSERT INTO {_quote(table)} ({', '.join(_quote(name) for name in names)}) VALUES {', '.join([row] * rows)} "
        f"ON CONFLICT ({', '.join(_quote(name) for name in keys)}) DO UPDATE SET {updates} "
        f"WHERE excluded.{_quote(event_time)} >= {_quote(table)}.{_quote(event_time)}"
    )


def _batch_sql(definition: OnlineTable, selected: Sequence[str], count: int) -> str:
    """Look up ``count`` keys: a VALUES list of them, left-joined with the table, in request order."""
    width = len(definition.key_columns)
    request_columns = ", ".join(f"k{i}" for i in range(width))
    slots = ", ".join("?" for _ in range(width))
    # Positions are generated integers, the only literals in the statement; key values stay bound.
    values = ", ".join(f"({position}, {slots})" for position in range(count))
    join = " AND ".join(f"t.{_quote(name)} = request.k{i}" for i, name in enumerate(definition.key_columns))
    return (
        f"WITH request(position, {request_columns}) AS (VALUES {values}) "
        f"SELECT {', '.join(f't.{_quote(name)}' for name in selected)} "
        f"FROM request LEFT JOIN {_quote(definition.name)} AS t ON {join} ORDER BY request.position"
    )


@dataclass(frozen=True, slots=True)
class _ReadPlan:
    """What a read of some columns of a table needs, worked out once per table and column list."""

    definition: OnlineTable
    selected: tuple[str, ...]
    types: tuple[pa.DataType, ...]
    storage: pa.DataType
    schema: pa.Schema
    lookup_sql: str
    missing: tuple[None, ...]
    batch_sql: Callable[[int], str]
    python: tuple[Callable[[Any], Any] | None, ...]

    @classmethod
    def build(cls, definition: OnlineTable, features: tuple[str, ...]) -> _ReadPlan:
        selected = (*features, definition.event_time_column)
        fields = [definition.schema.field(name) for name in selected]
        match = " AND ".join(f"{_quote(name)} = ?" for name in definition.key_columns)
        columns = ", ".join(_quote(name) for name in selected)
        return cls(
            definition=definition,
            selected=selected,
            types=tuple(f.type for f in fields),
            storage=pa.struct([pa.field(f.name, _storage_type(f.type)) for f in fields]),
            schema=pa.schema([*definition.key_schema, *fields]),
            lookup_sql=f"SELECT {columns} FROM {_quote(definition.name)} WHERE {match}",
            missing=(None,) * len(selected),
            batch_sql=lru_cache(maxsize=64)(partial(_batch_sql, definition, selected)),
            python=tuple(_python_value(f.type) for f in fields),
        )


class SqliteOnlineStore:
    """Online store in one SQLite file (the embedded default)."""

    def __init__(self, config: SqliteOnlineConfig) -> None:
        self.config = config
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._tables: dict[str, OnlineTable] = {}
        self._plans: dict[tuple[str, tuple[str, ...]], _ReadPlan] = {}

    @classmethod
    def config_from(cls, options: Mapping[str, Any]) -> SqliteOnlineConfig:
        """Validate options: ``path`` is the database file (``url`` belongs to other backends)."""
        options = {key: value for key, value in options.items() if key != "url"}
        return parse_backend_config(SqliteOnlineConfig, options, "online_store")

    def open(self) -> None:
        """Open the file in WAL mode and create the table of table definitions."""
        if self._connection is not None:
            return
        try:
            self.config.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.config.path, isolation_level=None, check_same_thread=False, cached_statements=512
            )
            connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            connection.execute(f"PRAGMA page_size = {_PAGE_BYTES}")  # applies to a new, empty file only
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
            connection.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {_META_TABLE} (name TEXT PRIMARY KEY, definition TEXT NOT NULL)"
            )
        except (OSError, sqlite3.Error) as exc:
            raise BackendError(f"Online store {self.config.path} cannot be opened: {exc}") from exc
        self._connection = connection

    def close(self) -> None:
        """Close the connection; idempotent."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            self._tables.clear()

    def ping(self) -> None:
        """Run a trivial query."""
        with self._session("reach the database") as connection:
            connection.execute("SELECT 1").fetchone()

    def describe(self) -> str:
        """The database file."""
        return str(self.config.path)

    def create_table(self, table: str, key_columns: Sequence[str], event_time_column: str, schema: pa.Schema) -> None:
        """Create the SQL table and record its definition, in one transaction."""
        wanted = define_table(table, key_columns, event_time_column, schema)
        with self._session(f"create online table '{table}'") as connection, self._transaction(connection):
            existing = self._find(connection, table)
            if existing is not None:
                self._check_same(existing, wanted)
                return
            columns = [
                f"{_quote(field.name)} {_sql_type(field.type)}"
                + (" NOT NULL" if field.name in wanted.key_columns else "")
                for field in wanted.schema
            ]
            keys = ", ".join(_quote(name) for name in wanted.key_columns)
            connection.execute(
                f"CREATE TABLE {_quote(table)} ({', '.join(columns)}, PRIMARY KEY ({keys})) WITHOUT ROWID"
            )
            connection.execute(f"INSERT INTO {_META_TABLE} VALUES (?, ?)", (table, wanted.to_json()))
        self._tables[table] = wanted

    def delete_table(self, table: str) -> None:
        """Drop the SQL table and its definition."""
        validate_table_name(table)
        with self._session(f"delete online table '{table}'") as connection, self._transaction(connection):
            connection.execute(f"DROP TABLE IF EXISTS {_quote(table)}")
            connection.execute(f"DELETE FROM {_META_TABLE} WHERE name = ?", (table,))
        self._tables.pop(table, None)

    def write(self, table: str, rows: pa.Table) -> int:
        """Upsert every row in one transaction; rows older than the stored ones are skipped."""
        definition = self._table(table)
        # One row per key, in key order: key order turns random B-tree inserts into appends (3x faster).
        rows = latest_per_key(definition, conform_rows(definition, rows))
        if rows.num_rows == 0:
            return 0
        width = rows.num_columns
        values = list(chain.from_iterable(zip(*(_to_storage(c.combine_chunks()) for c in rows.columns), strict=True)))
        # Many rows per statement: a third less CPU per row than one statement per row.
        per_statement = max(1, min(_ROWS_PER_STATEMENT, _READ_PARAMETERS // width))
        full = rows.num_rows // per_statement * per_statement * width
        step = per_statement * width
        written = 0
        with self._session(f"write to online table '{table}'") as connection, self._transaction(connection):
            if full:
                sql = _upsert_sql(definition, per_statement)
                written += connection.executemany(sql, (values[i : i + step] for i in range(0, full, step))).rowcount
            if full < len(values):
                rest = (len(values) - full) // width
                written += connection.execute(_upsert_sql(definition, rest), values[full:]).rowcount
        return written

    def read(self, table: str, keys: pa.Table | Sequence[Any], columns: Sequence[str] | None = None) -> pa.Table:
        """Look the keys up with one statement per few thousand keys, in request order."""
        definition = self._table(table)
        request = conform_keys(definition, keys)
        plan = self._plan(definition, definition.select_features(columns))
        key_values = [_to_storage(column.combine_chunks()) for column in request.columns]
        rows: list[tuple[Any, ...]] = []
        with self._session(f"read online table '{table}'") as connection:
            if request.num_rows == 1:
                # The common single-entity lookup: a plain primary-key probe, no join or sort.
                found = connection.execute(plan.lookup_sql, [values[0] for values in key_values]).fetchone()
                rows.append(found if found is not None else plan.missing)
            else:
                step = min(4000, _READ_PARAMETERS // len(key_values))
                for start in range(0, request.num_rows, step):
                    chunk = [values[start : start + step] for values in key_values]
                    sql = plan.batch_sql(len(chunk[0]))
                    parameters = [value for row in zip(*chunk, strict=True) for value in row]
                    rows.extend(connection.execute(sql, parameters).fetchall())
        # One conversion for all columns: a struct array built from the row tuples, then split.
        stored = pa.array(rows, type=plan.storage).flatten()
        arrays = [_from_storage(column, data_type) for column, data_type in zip(stored, plan.types, strict=True)]
        return pa.Table.from_arrays([*request.columns, *arrays], schema=plan.schema)

    def read_one(self, table: str, key: Any, columns: Sequence[str] | None = None) -> dict[str, Any] | None:
        """One primary-key probe, its values converted in Python (no Arrow for a single row)."""
        definition = self._table(table)
        plan = self._plan(definition, definition.select_features(columns))
        values = plain_key(definition, key)
        if values is None:  # other key types, or a value to convert or refuse: the Arrow path decides
            request = conform_keys(definition, [key])
            values = tuple(_to_storage(column.combine_chunks())[0] for column in request.columns)
        with self._session(f"read online table '{table}'") as connection:
            found = connection.execute(plan.lookup_sql, values).fetchone()
        if found is None:
            return None
        return {
            name: value if value is None or convert is None else convert(value)
            for name, value, convert in zip(plan.selected, found, plan.python, strict=True)
        }

    def scan(self, table: str, columns: Sequence[str] | None = None, batch_rows: int = 20_000) -> Iterator[pa.Table]:
        """Every row in key order, fetched ``batch_rows`` at a time (the lock is held per batch, not between)."""
        definition = self._table(table)
        plan = self._plan(definition, definition.select_features(columns))
        fields = [*definition.key_schema, *(definition.schema.field(name) for name in plan.selected)]
        storage = pa.struct([pa.field(f.name, _storage_type(f.type)) for f in fields])
        names = ", ".join(_quote(f.name) for f in fields)
        with self._session(f"scan online table '{table}'") as connection:
            cursor = connection.execute(f"SELECT {names} FROM {_quote(table)}")
        try:
            while True:
                with self._session(f"scan online table '{table}'"):
                    rows = cursor.fetchmany(batch_rows)
                if not rows:
                    return
                stored = pa.array(rows, type=storage).flatten()
                arrays = [_from_storage(column, f.type) for column, f in zip(stored, fields, strict=True)]
                yield pa.Table.from_arrays(arrays, schema=pa.schema(fields))
        finally:
            cursor.close()

    def count(self, table: str) -> int:
        """``SELECT count(*)``."""
        self._table(table)
        with self._session(f"count online table '{table}'") as connection:
            return int(connection.execute(f"SELECT count(*) FROM {_quote(table)}").fetchone()[0])

    def _plan(self, definition: OnlineTable, features: tuple[str, ...]) -> _ReadPlan:
        cache_key = (definition.name, features)
        plan = self._plans.get(cache_key)
        if plan is None or plan.definition is not definition:
            plan = _ReadPlan.build(definition, features)
            self._plans[cache_key] = plan
        return plan

    def _table(self, table: str) -> OnlineTable:
        cached = self._tables.get(table)
        if cached is not None:
            return cached
        validate_table_name(table)
        with self._session(f"find online table '{table}'") as connection:
            found = self._find(connection, table)
        if found is None:
            raise NotFoundError(
                f"Online table '{table}' does not exist in {self.describe()}: create it with create_table() first."
            )
        self._tables[table] = found
        return found

    def _find(self, connection: sqlite3.Connection, table: str) -> OnlineTable | None:
        row = connection.execute(f"SELECT definition FROM {_META_TABLE} WHERE name = ?", (table,)).fetchone()
        return OnlineTable.from_json(row[0]) if row else None

    @staticmethod
    def _check_same(existing: OnlineTable, wanted: OnlineTable) -> None:
        if not existing.same_definition(wanted):
            raise ConflictError(
                f"Online table '{wanted.name}' already exists with key {list(existing.key_columns)}, event time "
                f"'{existing.event_time_column}' and columns {existing.schema}: delete it first or use another name."
            )

    @contextmanager
    def _session(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._connection is None:
                raise BackendError("The SQLite online store is not open: call open() first.")
            try:
                yield self._connection
            except sqlite3.Error as exc:
                raise BackendError(f"Online store {self.config.path} could not {action}: {exc}") from exc

    @staticmethod
    @contextmanager
    def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
