"""The logged features as typed columns: one struct column, ``inputs``, whose fields are the model's inputs.

The server logs each row's features in the struct column :data:`~fti.inference_log.schema.INPUTS_COLUMN`, one
field per feature (and entity key), typed as the model got them: ``int64``, ``float64``, ``bool`` or ``string``.
A monitoring check reads those fields as columns, with no parsing. The table's struct grows as deployments log new
features (the writer merges the table's schema); a feature already in the table under another type (a string where
numbers were logged), a name Delta cannot hold, or a value of another kind (a timestamp, a list) is logged in the
JSON text column ``features`` instead, which holds the rest of the row (``{}`` when every feature is typed). Logs
written before the struct existed hold every feature in ``features``; :func:`fti.inference_log.features.
feature_columns` reads both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa

from fti.features.sql import shared_engine
from fti.inference_log.schema import INPUTS_COLUMN

__all__ = ["EMPTY_JSON", "concat_logged", "conform_inputs", "inputs_type", "split_features", "typed_columns"]

#: the ``features`` text of a row whose every feature is typed
EMPTY_JSON = "{}"
#: characters a Delta column name cannot hold (without column mapping)
_UNSAFE_NAME = re.compile(r"[ ,;{}()\n\t=]")


def _logged_type(data_type: pa.DataType) -> pa.DataType | None:
    """The type a feature of ``data_type`` is logged as in the struct; None: logged as JSON."""
    if pa.types.is_boolean(data_type):
        return pa.bool_()
    if pa.types.is_integer(data_type):
        return pa.int64()
    if pa.types.is_floating(data_type):
        return pa.float64()
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type) or pa.types.is_string_view(data_type):
        return pa.string()
    return None


def _typed(series: pd.Series[Any]) -> pa.Array | None:
    """One feature as a typed Arrow array (NaN as null), or None when it is logged as JSON."""
    try:
        found = pa.array(series, from_pandas=True)
        array = found.combine_chunks() if isinstance(found, pa.ChunkedArray) else found
        if pa.types.is_dictionary(array.type):  # a pandas categorical: its values
            array = array.dictionary_decode()
        logged = _logged_type(array.type)
        return None if logged is None else array.cast(logged)  # a safe cast: uint64 past int64 is refused
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        return None


def split_features(frame: pd.DataFrame) -> pa.Table:
    """The features of ``frame`` as the log stores them: ``features`` (the JSON of what is not typed, ``{}`` when
    nothing) and, when any feature is typed, ``inputs`` (a struct of the typed ones). One pass per column."""
    names: list[str] = []
    arrays: list[pa.Array] = []
    rest: list[Any] = []
    seen: set[str] = set()
    for name in frame.columns:
        array = None
        if isinstance(name, str) and name and not _UNSAFE_NAME.search(name) and name.lower() not in seen:
            array = _typed(frame[name])
        if array is None:
            rest.append(name)
            continue
        seen.add(name.lower())
        names.append(name)
        arrays.append(array)
    rows = len(frame)
    features = _encode(frame[rest]) if rest else pa.repeat(pa.scalar(EMPTY_JSON), rows)
    columns: dict[str, pa.Array] = {"features": features}
    if names:
        columns[INPUTS_COLUMN] = pa.StructArray.from_arrays(arrays, names=names)
    return pa.table(columns)


def inputs_type(schema: pa.Schema) -> dict[str, pa.DataType]:
    """The typed features a table of ``schema`` holds, by name (none when it has no ``inputs`` column)."""
    if INPUTS_COLUMN not in schema.names:
        return {}
    struct = schema.field(INPUTS_COLUMN).type
    return {field.name: field.type for field in struct} if pa.types.is_struct(struct) else {}


def conform_inputs(table: pa.Table, known: Mapping[str, pa.DataType]) -> pa.Table:
    """``table`` with its ``inputs`` fitted to the typed features ``known`` already (the table's, the batch's
    earlier rows'): a number of the other numeric type is cast (an integer as a float, a whole float as an
    integer); a feature of another kind, or whose name differs from a known one by case only, moves into the
    row's ``features`` JSON, so the table's struct never holds two types under one name."""
    if INPUTS_COLUMN not in table.column_names or not known:
        return table
    struct = table.column(INPUTS_COLUMN).combine_chunks()
    lowered = {name.lower(): (name, data_type) for name, data_type in known.items()}
    kept: list[tuple[str, pa.Array]] = []
    moved: list[tuple[str, pa.Array]] = []
    changed = False
    for index, field in enumerate(struct.type):
        child = struct.field(index)
        match = lowered.get(field.name.lower())
        if match is None or (match[0] == field.name and match[1] == field.type):
            kept.append((field.name, child))
            continue
        changed = True
        fitted = _cast_number(child, match[1]) if match[0] == field.name else None
        if fitted is None:
            moved.append((field.name, child))
        else:
            kept.append((field.name, fitted))
    if not changed:
        return table
    mask = struct.is_null() if struct.null_count else None
    table = table.drop_columns([INPUTS_COLUMN])
    if moved:
        table = table.set_column(
            table.schema.get_field_index("features"),
            table.schema.field("features"),
            _merge_json(table.column("features"), _struct(moved, mask)),
        )
    return table.append_column(INPUTS_COLUMN, _struct(kept, mask)) if kept else table


def _cast_number(child: pa.Array, target: pa.DataType) -> pa.Array | None:
    """``child`` as the numeric ``target`` type, or None (not numbers, or a fraction where integers are kept)."""
    if not (pa.types.is_integer(child.type) or pa.types.is_floating(child.type)):
        return None
    if not (pa.types.is_integer(target) or pa.types.is_floating(target)):
        return None
    try:
        return child.cast(target)  # safe: a fraction is not cast to an integer
    except pa.ArrowInvalid:
        return None


def _struct(fields: Sequence[tuple[str, pa.Array]], mask: pa.Array | None) -> pa.StructArray:
    return pa.StructArray.from_arrays([array for _, array in fields], names=[name for name, _ in fields], mask=mask)


def _merge_json(features: pa.ChunkedArray, moved: pa.StructArray) -> pa.Array:
    """Each row's ``features`` JSON with the fields of ``moved`` added (a null value is left out)."""
    with shared_engine().cursor() as connection:
        connection.register("moved_rows", pa.table({"features": features, "moved": moved}))
        found = connection.sql(
            "SELECT coalesce(json_merge_patch(features, to_json(moved)), features)::VARCHAR FROM moved_rows"
        ).to_arrow_table()
    return found.column(0).combine_chunks().cast(pa.string())


def concat_logged(tables: Sequence[pa.Table], known: Mapping[str, pa.DataType] | None = None) -> pa.Table:
    """Log batches as one table whose ``inputs`` has one type: each batch conformed to the features known before it
    (``known`` first, then the earlier batches'), its struct cast to the union of their fields (missing ones null).
    """
    merged: dict[str, pa.DataType] = dict(known or {})
    conformed = []
    for table in tables:
        table = conform_inputs(table, merged)
        for name, data_type in inputs_type(table.schema).items():
            merged.setdefault(name, data_type)
        conformed.append(table)
    present = {name for table in conformed for name in inputs_type(table.schema)}
    if not present:
        return pa.concat_tables(conformed) if len(conformed) > 1 else conformed[0]
    union = pa.struct([pa.field(name, data_type) for name, data_type in merged.items() if name in present])
    fitted = []
    for table in conformed:
        if INPUTS_COLUMN in table.column_names:
            index = table.schema.get_field_index(INPUTS_COLUMN)
            table = table.set_column(index, INPUTS_COLUMN, table.column(INPUTS_COLUMN).cast(union))
        else:
            table = table.append_column(INPUTS_COLUMN, pa.nulls(table.num_rows, union))
        fitted.append(table)
    return pa.concat_tables(fitted) if len(fitted) > 1 else fitted[0]


def _encode(frame: pd.DataFrame) -> pa.Array:
    """The rows of ``frame`` as JSON objects (NaN as null), by DuckDB outside the interpreter lock."""
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        with shared_engine().cursor() as connection:
            connection.register("logged_rows", table)
            encoded = connection.sql("SELECT to_json(logged_rows)::VARCHAR AS features FROM logged_rows")
            found = encoded.to_arrow_table().column(0)
    except Exception:  # values Arrow or DuckDB cannot take (objects a preprocess function made): pandas' encoder
        return _encode_with_pandas(frame)
    return found.combine_chunks() if found.num_chunks != 1 else found.chunk(0)


_ENCODE_ROWS = 256


def _encode_with_pandas(frame: pd.DataFrame) -> pa.Array:
    lines: list[str] = []
    for start in range(0, len(frame), _ENCODE_ROWS):  # in slices: one C call holds the interpreter
        lines += frame.iloc[start : start + _ENCODE_ROWS].to_json(orient="records", lines=True).splitlines()
    return pa.array(lines, pa.string())


def typed_columns(inputs: pa.ChunkedArray | pa.Array) -> dict[str, pa.ChunkedArray]:
    """The fields of an ``inputs`` column as columns (null where the row's struct is null), leaving out fields null
    in every row (another deployment's features, in a table several deployments share)."""
    chunks = inputs.chunks if isinstance(inputs, pa.ChunkedArray) else [inputs]
    if not chunks:
        return {}
    struct_type = chunks[0].type
    flat = [chunk.flatten() for chunk in chunks]
    found: dict[str, pa.ChunkedArray] = {}
    for index, field in enumerate(struct_type):
        column = pa.chunked_array([children[index] for children in flat], field.type)
        if column.null_count < len(column):
            found[field.name] = column
    return found
