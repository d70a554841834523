"""The logged features as columns: the typed ``inputs`` struct's fields as they are, and the JSON text of what was
not typed (every feature, in logs written before typed inputs) parsed into typed columns at once."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from fti.features.sql import shared_engine
from fti.inference_log.inputs import EMPTY_JSON, typed_columns
from fti.inference_log.schema import INPUTS_COLUMN

__all__ = ["FEATURE_COLUMNS", "feature_columns", "parse_features"]

#: the log columns that hold the features: the JSON text (the rest, or every feature in older logs) and the struct
FEATURE_COLUMNS = ("features", INPUTS_COLUMN)


def feature_columns(log: pa.Table) -> pa.Table:
    """The logged features of the rows of ``log`` as columns, one per feature, in row order.

    The fields of the ``inputs`` struct are taken as they are (no parsing; a field null in every row, another
    deployment's feature, is left out); only the rows whose ``features`` JSON holds anything (rows logged before
    typed inputs, features that could not be typed) are parsed (see :func:`parse_features`), and their columns
    joined in: a feature both typed and in JSON (logged under two types) is one column, numbers as float64 and
    other mixes as strings.
    """
    if log.num_rows == 0:
        return pa.table({})
    typed = typed_columns(log.column(INPUTS_COLUMN)) if INPUTS_COLUMN in log.column_names else {}
    if "features" not in log.column_names:
        return pa.table(typed) if typed else pa.table({})
    text = log.column("features")
    has_json = pc.fill_null(pc.greater(pc.binary_length(text), len(EMPTY_JSON)), False)
    positions = np.flatnonzero(np.asarray(has_json.to_numpy(zero_copy_only=False), dtype=bool))
    if len(positions) == 0:
        return pa.table(typed) if typed else pa.table({})
    if len(positions) == log.num_rows and not typed:
        return parse_features(log)
    parsed = parse_features(pa.table({"features": text.take(pa.array(positions))}))
    columns: dict[str, pa.ChunkedArray | pa.Array] = dict(typed)
    for name in parsed.column_names:
        columns[name] = _joined(log.num_rows, positions, typed.get(name), parsed.column(name))
    return pa.table(columns)


def _joined(
    rows: int, positions: np.ndarray[Any, Any], typed: pa.ChunkedArray | None, parsed: pa.ChunkedArray
) -> pa.Array:
    """One column of ``rows`` rows: ``parsed`` at ``positions`` (the rows parsed from JSON; the typed value where
    the JSON has none), ``typed`` elsewhere."""
    base: pa.Array = pa.nulls(rows, parsed.type) if typed is None else typed.combine_chunks()
    values = parsed.combine_chunks()
    if base.type != values.type:
        numbers = all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in (base.type, values.type))
        common = pa.float64() if numbers else pa.string()
        base, values = _as(base, common), _as(values, common)
    if typed is not None:  # a row with the feature both typed and in JSON (a batch of mixed records): either
        values = pc.coalesce(values, base.take(pa.array(positions)))
    indices = np.arange(rows, dtype=np.int64)
    indices[positions] = rows + np.arange(len(positions), dtype=np.int64)
    return pa.concat_arrays([base, values]).take(pa.array(indices))


def _as(array: pa.Array, data_type: pa.DataType) -> pa.Array:
    if array.type == data_type:
        return array
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), data_type)
    if pa.types.is_boolean(array.type) and pa.types.is_string(data_type):
        return pc.if_else(array, "true", "false")
    return array.cast(data_type)


def parse_features(log: pa.Table) -> pa.Table:
    """The logged ``features`` JSON of every row as columns, parsed in one vectorized pass.

    The column types come from a sample of rows spread over the log (numbers as float64, whole-number columns
    back to int64, booleans, strings); every row is then parsed to those types at once by DuckDB's JSON
    reader, which is several times faster than inferring types over the whole log. A value that does not
    fit its column's type (a string among numbers) is read as null, so it shows up as nulls in data quality.
    Rows whose keys or types the fast path does not cover (nested values, columns null in the whole sample)
    are parsed with full type inference instead.
    """
    if log.num_rows == 0:
        return pa.table({})
    column = log.column("features")
    sample = column.take(_sample_rows(len(column)))
    try:
        schema = _infer(sample).schema
        structure, whole = _structure(schema), [field.name for field in schema if pa.types.is_integer(field.type)]
    except pa.ArrowInvalid:  # a key whose values change type between rows, logged before the server refused them
        structure, whole = _structure_of_values(sample)
    if structure is None:
        return _infer(column)
    if not structure:  # every sampled row is {}: nothing to parse
        return pa.table({})
    parsed = _transform(column, structure)
    return _whole_numbers_as_integers(parsed, whole)


_SAMPLE_ROWS = 1000
_SQL_TYPES = {"number": "DOUBLE", "boolean": "BOOLEAN", "string": "VARCHAR"}


def _sample_rows(rows: int) -> pa.Array:
    return pa.array(np.unique(np.linspace(0, rows - 1, min(rows, _SAMPLE_ROWS)).astype(np.int64)))


def _json_family(data_type: pa.DataType) -> str:
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type):
        return "number"
    if pa.types.is_boolean(data_type):
        return "boolean"
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "string"
    return "other"


def _structure(schema: pa.Schema) -> dict[str, str] | None:
    """The DuckDB type of each key seen in the sample, or None when one is not a number, boolean or string."""
    structure = {field.name: _SQL_TYPES.get(_json_family(field.type)) for field in schema}
    if any(sql_type is None for sql_type in structure.values()):
        return None
    return {name: str(sql_type) for name, sql_type in structure.items()}


def _structure_of_values(sample: pa.ChunkedArray) -> tuple[dict[str, str] | None, list[str]]:
    """The DuckDB type of each key from the sample's values themselves (a key of mixed kinds is read as text, so
    ``"a"`` among integer keys neither hides the others nor fails the read), and the keys holding only integers;
    None when a value is nested."""
    kinds: dict[str, set[str]] = {}
    for text in sample.to_pylist():
        for key, value in json.loads(text).items():
            kinds.setdefault(key, set()).add(_kind(value))
    if any("other" in found for found in kinds.values()):
        return None, []
    structure: dict[str, str] = {}
    for key, found in kinds.items():
        found.discard("null")
        numbers = found <= {"integer", "number"} and bool(found)
        structure[key] = "DOUBLE" if numbers else "BOOLEAN" if found == {"boolean"} else "VARCHAR"
    return structure, [key for key, found in kinds.items() if found == {"integer"}]


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string" if isinstance(value, str) else "other"


def _transform(column: pa.ChunkedArray, structure: dict[str, str]) -> pa.Table:
    literal = json.dumps(structure).replace("'", "''")
    with shared_engine().cursor() as connection:
        connection.register("logged", pa.table({"features": column}))
        query = f"SELECT unnest(json_transform(features, '{literal}')) FROM logged"
        parsed = connection.sql(query).to_arrow_table()
    return parsed.rename_columns(list(structure))


def _whole_numbers_as_integers(table: pa.Table, names: list[str]) -> pa.Table:
    """Columns the sample saw as integers back to int64 when every value is whole (codes, counts, keys)."""
    for name in names:
        try:
            as_integers = pc.cast(table.column(name), pa.int64())  # a safe cast refuses fractions
        except pa.ArrowInvalid:
            continue
        table = table.set_column(table.schema.get_field_index(name), name, as_integers)
    return table


def _infer(column: pa.ChunkedArray | pa.Array) -> pa.Table:
    """Parse with type inference: the rows joined into one newline-delimited JSON buffer, read at once."""
    # large strings: a long window's JSON can pass the 2 GiB that 32-bit offsets address
    lines = pc.binary_join_element_wise(
        pc.cast(column, pa.large_string()), pa.scalar("\n", pa.large_string()), pa.scalar("", pa.large_string())
    )
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], np.int64, count=len(lines) + 1, offset=lines.offset * 8)
    data = lines.buffers()[2][int(offsets[0]) : int(offsets[-1])]
    return pajson.read_json(pa.BufferReader(data))
