"""How the Redis online store lays a row out in one string value, and parses it back.

A stored row is the event time as 20 digits (its ticks with the sign bit flipped, so the digits sort
like the ticks), then the text of each feature column, separated by byte 0xFF; 0xFE stands for null.
Neither byte can occur in UTF-8, so no value is mistaken for one. Text is what Arrow casts back
exactly: integers and ticks in decimal, floats in their shortest round-trip form (float32 as its exact
double), bools as ``true``/``false``, float vectors as the base64 of their bytes. Writing is vectorized
with Arrow kernels; reading parses a few rows in Python and many with Arrow kernels, whichever is faster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.backends.online.tables import OnlineTable, temporal_value
from fti.backends.online.vectors import vector_text, vectors_from_text
from fti.core.vectors import is_vector_type
from fti.errors import BackendError

__all__ = [
    "NULL",
    "PYTHON_ROWS",
    "SEPARATOR",
    "RowCodec",
    "encode_rows",
    "escape_key_part",
    "key_columns_from_text",
    "key_text",
]

SEPARATOR = b"\xff"
NULL = b"\xfe"
_SIGN_BIT = np.uint64(1 << 63)
_TICK_OFFSET = 1 << 63  # stored digits minus this are the ticks
PYTHON_ROWS = 128  # up to this many rows or keys, per-value Python beats the fixed cost of Arrow kernels
_ROW_BY_ROW = 40  # up to this many rows, parsing row by row beats splitting into columns first


def _event_time_text(array: pa.Array) -> pa.Array:
    """Ticks as 20 digits that sort like the ticks (the sign bit flipped makes them unsigned)."""
    ticks = array.view(_ticks_type(array.type)).cast(pa.int64()).to_numpy()
    return pc.utf8_lpad(pa.array(ticks.view(np.uint64) ^ _SIGN_BIT).cast(pa.string()), width=20, padding="0")


def _event_time_from_text(values: pa.Array, data_type: pa.DataType) -> pa.Array:
    digits = pc.fill_null(values, "0" * 20).cast(pa.uint64()).to_numpy()
    mask = values.is_null().to_numpy(zero_copy_only=False)
    ticks = pa.array((digits ^ _SIGN_BIT).view(np.int64), type=pa.int64(), mask=mask)
    return ticks.cast(_ticks_type(data_type)).view(data_type)


def _ticks_type(data_type: pa.DataType) -> pa.DataType:
    return pa.int32() if pa.types.is_date32(data_type) else pa.int64()


def _as_text(array: pa.Array) -> pa.Array:
    """Any supported column as text (nulls stay null)."""
    if pa.types.is_string(array.type):
        return array
    if is_vector_type(array.type):
        return vector_text(array)
    if pa.types.is_timestamp(array.type) or pa.types.is_date32(array.type):
        array = array.view(_ticks_type(array.type))
    elif pa.types.is_float32(array.type):
        # The exact double of the float32: parsing it back as a double, then narrowing, is exact too.
        array = array.cast(pa.float64())
    return array.cast(pa.string())


def _from_text(values: pa.Array, data_type: pa.DataType) -> pa.Array:
    if pa.types.is_string(data_type):
        return values
    if is_vector_type(data_type):
        return vectors_from_text(values, data_type)
    if pa.types.is_timestamp(data_type) or pa.types.is_date32(data_type):
        return values.cast(_ticks_type(data_type)).view(data_type)
    if pa.types.is_float32(data_type):
        return values.cast(pa.float64()).cast(data_type)
    return values.cast(data_type)


def escape_key_part(array: pa.Array) -> pa.Array:
    text = _as_text(array)
    if pa.types.is_string(array.type):
        text = pc.replace_substring(pc.replace_substring(text, "%", "%25"), ":", "%3A")
    return text


def key_columns_from_text(entity_keys: pa.Array, prefix: str, key_schema: pa.Schema) -> list[pa.Array]:
    """The key columns of stored Redis keys (``prefix`` then the escaped parts joined by ':')."""
    texts = pc.utf8_slice_codeunits(entity_keys.cast(pa.string()), len(prefix))
    width = len(key_schema)
    parts = [texts] if width == 1 else None
    if parts is None:
        flat = pc.split_pattern(texts, ":").flatten()
        parts = [flat.take(np.arange(index, len(flat), width)) for index in range(width)]
    columns = []
    for part, key_field in zip(parts, key_schema, strict=True):
        if pa.types.is_string(key_field.type):
            part = pc.replace_substring(pc.replace_substring(part, "%3A", ":"), "%25", "%")
        columns.append(_from_text(part, key_field.type))
    return columns


def key_text(value: int | str) -> str:
    """One integer or string key value as ``escape_key_part`` writes it."""
    if isinstance(value, str):
        return value.replace("%", "%25").replace(":", "%3A")
    return str(value)


def encode_rows(definition: OnlineTable, rows: pa.Table) -> pa.Array:
    """Each row as event time digits then the feature texts, separated by 0xFF (null: 0xFE)."""
    parts = [_event_time_text(rows.column(definition.event_time_column).combine_chunks()).cast(pa.binary())]
    for name in definition.feature_columns:
        text = _as_text(rows.column(name).combine_chunks()).cast(pa.binary())
        parts.append(pc.fill_null(text, NULL))
    return pc.binary_join_element_wise(*parts, SEPARATOR)


def _python_value(data_type: pa.DataType) -> Callable[[bytes], Any]:
    """Parse one stored text into the Python value of the column's storage type."""
    if pa.types.is_string(data_type) or is_vector_type(data_type):
        return bytes.decode
    if pa.types.is_boolean(data_type):
        return lambda raw: raw == b"true"
    if pa.types.is_floating(data_type):
        return float
    return int  # integers, and the ticks of timestamps and dates


def _same(value: Any) -> Any:
    return value


def _finisher(data_type: pa.DataType) -> Callable[[Any], Any]:
    if pa.types.is_float32(data_type):
        return lambda value: float(np.float32(value))
    if pa.types.is_timestamp(data_type) or pa.types.is_date32(data_type):
        return temporal_value(data_type)
    if is_vector_type(data_type):
        return lambda text: vectors_from_text(pa.array([text], pa.string()), data_type)[0].as_py()
    return _same


def _storage_type(data_type: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(data_type) or pa.types.is_date32(data_type):
        return _ticks_type(data_type)
    if pa.types.is_float32(data_type):
        return pa.float64()
    if is_vector_type(data_type):
        return pa.string()
    return data_type


def _restore(array: pa.Array, data_type: pa.DataType) -> pa.Array:
    if array.type == data_type:
        return array
    if is_vector_type(data_type):
        return vectors_from_text(array, data_type)
    if pa.types.is_float32(data_type):
        return array.cast(data_type)
    return array.view(data_type)


@dataclass(frozen=True, slots=True)
class RowCodec:
    """How to parse rows of a table read back for some feature columns, worked out once."""

    definition: OnlineTable
    selected: tuple[str, ...]
    positions: tuple[int, ...]  # of the selected columns in a stored row; the event time is at 0
    types: tuple[pa.DataType, ...]
    parsers: tuple[Callable[[bytes], Any], ...]
    storage: pa.DataType
    schema: pa.Schema
    #: from a parsed storage value to the Python value Arrow gives for the column's type
    finishers: tuple[Callable[[Any], Any], ...]

    @classmethod
    def build(cls, definition: OnlineTable, features: tuple[str, ...]) -> RowCodec:
        fields = [definition.schema.field(name) for name in (*features, definition.event_time_column)]
        types = tuple(f.type for f in fields)
        parsers = [_python_value(t) for t in types[:-1]]
        return cls(
            definition=definition,
            selected=features,
            positions=(*(definition.feature_columns.index(name) + 1 for name in features), 0),
            types=types,
            parsers=(*parsers, lambda raw: int(raw) - _TICK_OFFSET),
            storage=pa.struct([pa.field(f.name, _storage_type(f.type)) for f in fields]),
            schema=pa.schema([*definition.key_schema, *fields]),
            finishers=tuple(_finisher(t) for t in types),
        )

    @property
    def width(self) -> int:
        return len(self.definition.feature_columns) + 1

    @property
    def missing_row(self) -> bytes:
        """What a read gives for a missing key: every field null."""
        return SEPARATOR.join([NULL] * self.width)

    def decode(self, found: Sequence[bytes | None]) -> list[pa.Array]:
        """The selected feature columns, then the event time, of rows read back (None: a missing key)."""
        if len(found) <= _ROW_BY_ROW:
            return self._decode_rows(found)
        if len(found) <= PYTHON_ROWS:
            return self._decode_few(found)
        return self._decode_many(found)

    def python_row(self, found: bytes) -> dict[str, Any]:
        """One stored row as the Python values Arrow would give: the selected features, then the event time."""
        parts = found.split(SEPARATOR)
        if len(parts) != self.width:
            raise self._corrupt()
        return {
            name: None if parts[position] == NULL else finish(parse(parts[position]))
            for name, position, parse, finish in zip(
                (*self.selected, self.definition.event_time_column),
                self.positions,
                self.parsers,
                self.finishers,
                strict=True,
            )
        }

    def _decode_few(self, found: Sequence[bytes | None]) -> list[pa.Array]:
        # For a few rows, splitting in Python and converting each column with one Arrow cast beats the fixed
        # cost of the ~20 kernel calls of ``_decode_many``.
        width = self.width
        missing = [NULL] * width
        rows = [missing if value is None else value.split(SEPARATOR) for value in found]
        if any(len(parts) != width for parts in rows):
            raise self._corrupt()
        arrays = []
        for position, data_type in zip(self.positions[:-1], self.types[:-1], strict=True):
            texts = [None if (text := parts[position]) == NULL else text for parts in rows]
            arrays.append(_from_text(pa.array(texts, pa.string()), data_type))
        ticks = [None if (text := parts[0]) == NULL else int(text) - _TICK_OFFSET for parts in rows]
        time_type = self.types[-1]
        arrays.append(pa.array(ticks, _ticks_type(time_type)).view(time_type))
        return arrays

    def _decode_rows(self, found: Sequence[bytes | None]) -> list[pa.Array]:
        # For very few rows: parsed in Python, then one conversion for all columns.
        missing = (None,) * len(self.types)
        rows = []
        for value in found:
            if value is None:
                rows.append(missing)
                continue
            parts = value.split(SEPARATOR)
            if len(parts) != self.width:
                raise self._corrupt()
            rows.append(
                tuple(
                    None if parts[position] == NULL else parse(parts[position])
                    for position, parse in zip(self.positions, self.parsers, strict=True)
                )
            )
        # One conversion for all columns: a struct array built from the row tuples, then split.
        stored = pa.array(rows, type=self.storage).flatten()
        return [_restore(array, data_type) for array, data_type in zip(stored, self.types, strict=True)]

    def _decode_many(self, found: Sequence[bytes | None]) -> list[pa.Array]:
        width, count = self.width, len(found)
        raw = pc.fill_null(pa.array(found, pa.binary()), self.missing_row)
        flat = pc.split_pattern(raw, SEPARATOR).flatten()
        if len(flat) != count * width:
            raise self._corrupt()
        flat = pc.if_else(pc.equal(flat, pa.scalar(NULL)), pa.scalar(None, pa.binary()), flat).cast(pa.string())
        arrays = [
            _from_text(flat.take(np.arange(position, count * width, width)), data_type)
            for position, data_type in zip(self.positions[:-1], self.types[:-1], strict=True)
        ]
        arrays.append(_event_time_from_text(flat.take(np.arange(0, count * width, width)), self.types[-1]))
        return arrays

    def _corrupt(self) -> BackendError:
        return BackendError(
            f"Online table '{self.definition.name}' holds rows that do not match its definition of "
            f"{self.width - 1} feature columns: delete the table and write it again."
        )
