"""Online table definitions and the checks every online store applies before touching storage.

An :class:`OnlineTable` is what ``create_table`` records: the name, the primary key columns, the event
time column and the Arrow schema. Both backends validate writes and read requests against it here, so
the error messages are the same whatever the backend (STYLE.md E2, E3).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.core.naming import validate_identifier
from fti.core.online_types import is_supported_type, online_type_problem
from fti.core.vectors import check_vector_lengths, is_vector_type
from fti.errors import ValidationError

__all__ = [
    "OnlineTable",
    "conform_keys",
    "conform_rows",
    "define_table",
    "is_supported_type",
    "latest_per_key",
    "validate_table_name",
]

_RESERVED_PREFIX = "_fti"


def _is_event_time_type(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_timestamp(data_type) or pa.types.is_date32(data_type))


@dataclass(frozen=True, slots=True)
class OnlineTable:
    """The definition of one online table."""

    name: str
    key_columns: tuple[str, ...]
    event_time_column: str
    schema: pa.Schema
    #: every column that is neither a key nor the event time, in schema order
    feature_columns: tuple[str, ...] = field(init=False)
    #: the schema of the key columns
    key_schema: pa.Schema = field(init=False)

    def __post_init__(self) -> None:
        # Derived once: lookups use them on every call.
        fixed = {*self.key_columns, self.event_time_column}
        object.__setattr__(self, "feature_columns", tuple(n for n in self.schema.names if n not in fixed))
        object.__setattr__(self, "key_schema", pa.schema([self.schema.field(n) for n in self.key_columns]))

    def same_definition(self, other: OnlineTable) -> bool:
        """Whether ``other`` defines the same keys, event time and columns (metadata ignored)."""
        return (
            self.key_columns == other.key_columns
            and self.event_time_column == other.event_time_column
            and self.schema.equals(other.schema, check_metadata=False)
        )

    def select_features(self, columns: Sequence[str] | None) -> tuple[str, ...]:
        """The feature columns a read returns; keys and the event time are always returned anyway."""
        if columns is None:
            return self.feature_columns
        if isinstance(columns, str):
            columns = [columns]
        unknown = [name for name in columns if name not in self.schema.names]
        if unknown:
            raise ValidationError(
                f"Online table '{self.name}' has no column {', '.join(repr(n) for n in unknown)}: "
                f"read one of {', '.join(self.feature_columns)}."
            )
        fixed = {*self.key_columns, self.event_time_column}
        return tuple(dict.fromkeys(name for name in columns if name not in fixed))

    def to_json(self) -> str:
        """Serialize the definition (the schema as Arrow IPC bytes, base64-encoded)."""
        return json.dumps(
            {
                "name": self.name,
                "key_columns": list(self.key_columns),
                "event_time_column": self.event_time_column,
                "schema": base64.b64encode(self.schema.serialize().to_pybytes()).decode("ascii"),
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> OnlineTable:
        """Rebuild a definition written by :meth:`to_json`."""
        data = json.loads(text)
        schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(data["schema"])))
        return cls(data["name"], tuple(data["key_columns"]), data["event_time_column"], schema)


def validate_table_name(table: str) -> str:
    """Check ``table`` is an identifier and not one the stores reserve for themselves."""
    validate_identifier(table, "online table name")
    if table.lower().startswith(_RESERVED_PREFIX):
        raise ValidationError(f"Invalid online table name {table!r}: names starting with '_fti' are reserved.")
    return table


def define_table(table: str, key_columns: Sequence[str], event_time_column: str, schema: pa.Schema) -> OnlineTable:
    """Validate a table definition.

    Raises:
        ValidationError: a bad name, a key or event time column missing from the schema, an
            unsupported column type, or an event time that is not a timestamp or date.
    """
    validate_table_name(table)
    if isinstance(key_columns, str):
        key_columns = [key_columns]
    if not key_columns:
        raise ValidationError(f"Online table '{table}' needs at least one primary key column.")
    for column in schema:
        validate_identifier(column.name, f"column name in online table '{table}'")
        problem = online_type_problem(column.type)
        if problem is not None:
            raise ValidationError(f"Column '{column.name}' of online table '{table}' {problem}")
    if len(set(schema.names)) != len(schema.names):
        raise ValidationError(f"Online table '{table}' has duplicate column names: {', '.join(schema.names)}.")
    for name in [*key_columns, event_time_column]:
        if name not in schema.names:
            raise ValidationError(
                f"Online table '{table}' has no column '{name}' for its key or event time: "
                f"the schema has {', '.join(schema.names)}."
            )
    if len(set(key_columns)) != len(key_columns) or event_time_column in key_columns:
        raise ValidationError(
            f"Online table '{table}': key columns {list(key_columns)} and event time column "
            f"'{event_time_column}' must all be different."
        )
    if not _is_event_time_type(schema.field(event_time_column).type):
        raise ValidationError(
            f"Event time column '{event_time_column}' of online table '{table}' has type "
            f"{schema.field(event_time_column).type}: use a timestamp or date column."
        )
    return OnlineTable(table, tuple(key_columns), event_time_column, pa.schema(list(schema)))


def _cast_column(table: OnlineTable, name: str, column: pa.ChunkedArray | pa.Array, what: str) -> pa.Array:
    target = table.schema.field(name).type
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if column.type == target:
        return column
    if is_vector_type(target):
        check_vector_lengths(column, target.list_size, name)
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise ValidationError(
            f"{what} '{name}' of online table '{table.name}' must be {target}, got {column.type}: cast it first."
        ) from None


def _refuse_nulls(table: OnlineTable, name: str, column: pa.Array, what: str) -> None:
    if column.null_count:
        row = column.is_null().to_pylist().index(True)
        raise ValidationError(
            f"{what} column '{name}' of online table '{table.name}' is null in row {row}: "
            "every row needs a key and an event time."
        )


def conform_rows(table: OnlineTable, rows: pa.Table) -> pa.Table:
    """Check ``rows`` has exactly the table's columns and return it in schema order and types.

    Raises:
        ValidationError: a column is missing or extra, cannot be cast, or a key or event time is null.
    """
    if not isinstance(rows, pa.Table):
        raise ValidationError(f"Rows for online table '{table.name}' must be a pyarrow.Table, got {type(rows)}.")
    missing = [name for name in table.schema.names if name not in rows.column_names]
    extra = [name for name in rows.column_names if name not in table.schema.names]
    if missing or extra:
        raise ValidationError(
            f"Rows for online table '{table.name}' must have exactly its columns: "
            f"missing {missing or 'none'}, unexpected {extra or 'none'}."
        )
    arrays = []
    for name in table.schema.names:
        array = _cast_column(table, name, rows.column(name), "Column")
        if name in table.key_columns:
            _refuse_nulls(table, name, array, "Key")
        elif name == table.event_time_column:
            _refuse_nulls(table, name, array, "Event time")
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=table.schema)


def latest_per_key(table: OnlineTable, rows: pa.Table) -> pa.Table:
    """The row each key ends with when ``rows`` are applied in order, sorted by key.

    That is the row with the newest event time, and of equal event times the last one. Stores write
    this instead of every row, so each key is written once per call (vectorized: one stable sort).
    """
    count = rows.num_rows
    if count <= 1 or _strictly_increasing(rows, table.key_columns):
        return rows  # e.g. a materialization: one row per key, in key order
    sort_keys = [(name, "ascending") for name in (*table.key_columns, table.event_time_column)]
    order = pc.sort_indices(rows.select([name for name, _ in sort_keys]), sort_keys)  # stable: ties keep order
    is_last = np.ones(count, dtype=bool)
    for name in table.key_columns:
        column = rows.column(name).take(order).combine_chunks()
        changes = pc.not_equal(column.slice(0, count - 1), column.slice(1)).to_numpy(zero_copy_only=False)
        if name == table.key_columns[0]:
            is_last[:-1] = changes
        else:
            is_last[:-1] |= changes
    return rows.take(order.filter(pa.array(is_last)))


def _strictly_increasing(rows: pa.Table, key_columns: Sequence[str]) -> bool:
    """Whether a single key column is sorted with no repeats (each key once, already in key order)."""
    if len(key_columns) != 1:
        return False
    column = rows.column(key_columns[0]).combine_chunks()
    if column.null_count:
        return False
    count = len(column)
    return bool(pc.all(pc.less(column.slice(0, count - 1), column.slice(1))).as_py())


def conform_keys(table: OnlineTable, keys: pa.Table | Sequence[Any]) -> pa.Table:
    """Turn a read request into a table of the key columns, in the table's key types.

    Raises:
        ValidationError: a key column is missing, a key has the wrong type or arity, or is null.
    """
    if not isinstance(keys, pa.Table):
        keys = _keys_from_tuples(table, keys)
    missing = [name for name in table.key_columns if name not in keys.column_names]
    if missing:
        raise ValidationError(
            f"Keys for online table '{table.name}' lack key column {', '.join(repr(n) for n in missing)}: "
            f"pass {', '.join(table.key_columns)}."
        )
    arrays = []
    for name in table.key_columns:
        array = _cast_column(table, name, keys.column(name), "Key column")
        _refuse_nulls(table, name, array, "Key")
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=table.key_schema)


def _keys_from_tuples(table: OnlineTable, keys: Sequence[tuple[Any, ...]]) -> pa.Table:
    width = len(table.key_columns)
    rows = [key if isinstance(key, tuple | list) else (key,) for key in keys]
    for position, key in enumerate(rows):
        if len(key) != width:
            raise ValidationError(
                f"Key {position} {tuple(key)!r} for online table '{table.name}' has {len(key)} values; "
                f"expected {width}: ({', '.join(table.key_columns)})."
            )
    try:
        # One conversion for all key columns: a struct array built from the tuples, then split.
        struct = pa.array([tuple(key) for key in rows], type=pa.struct(list(table.key_schema)))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        raise _key_type_error(table, rows) from None
    return pa.Table.from_arrays(struct.flatten(), schema=table.key_schema)


def _key_type_error(table: OnlineTable, rows: Sequence[Sequence[Any]]) -> ValidationError:
    for index, name in enumerate(table.key_columns):
        target = table.schema.field(name).type
        values = [key[index] for key in rows]
        try:
            pa.array(values, type=target)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            kinds = sorted({type(value).__name__ for value in values})
            return ValidationError(
                f"Key column '{name}' of online table '{table.name}' must be {target}, got {', '.join(kinds)} values."
            )
    return ValidationError(f"Keys for online table '{table.name}' do not match its key columns {table.key_columns}.")


_PLAIN_KEY_TYPES = {
    pa.int8(): (-(2**7), 2**7),
    pa.int16(): (-(2**15), 2**15),
    pa.int32(): (-(2**31), 2**31),
    pa.int64(): (-(2**63), 2**63),
    pa.uint8(): (0, 2**8),
    pa.uint16(): (0, 2**16),
    pa.uint32(): (0, 2**32),
}


def plain_key(table: OnlineTable, key: Any) -> tuple[Any, ...] | None:
    """``key`` as a tuple of Python values when every key column is an integer or string column and each
    value already is one of the right kind and range; None otherwise (the caller then takes the Arrow
    path, which converts what it can and raises the precise error for what it cannot)."""
    values = tuple(key) if isinstance(key, tuple | list) else (key,)
    if len(values) != len(table.key_columns):
        return None
    for value, key_field in zip(values, table.key_schema, strict=True):
        if pa.types.is_string(key_field.type):
            if not isinstance(value, str):
                return None
            continue
        bounds = _PLAIN_KEY_TYPES.get(key_field.type)
        if bounds is None or not isinstance(value, int) or isinstance(value, bool):
            return None
        if not bounds[0] <= value < bounds[1]:
            return None
    return values


def temporal_value(data_type: pa.DataType) -> Callable[[int], Any]:
    """Ticks (epoch units of a timestamp, days of a date) to the Python value Arrow gives for ``data_type``."""
    ticks_type = pa.int32() if pa.types.is_date32(data_type) else pa.int64()

    def convert(ticks: int) -> Any:
        return pa.array([ticks], ticks_type).view(data_type)[0].as_py()

    return convert
