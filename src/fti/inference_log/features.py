"""The logged features: each row's model inputs, logged as one JSON object, parsed into typed columns at once."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from fti.features.sql import shared_engine

__all__ = ["parse_features"]


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
