"""Reading the fields of stream events (text, as a broker delivers them) as typed columns, with each refused
event's reason: a required field missing, or a value that does not read as its type."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.features.sql import quote

__all__ = ["TypedEvents", "sql_type", "typed_events"]

_SQL_TYPES = {
    "float64": "DOUBLE",
    "double": "DOUBLE",
    "float32": "FLOAT",
    "float": "FLOAT",
    "int64": "BIGINT",
    "int32": "INTEGER",
    "int16": "SMALLINT",
    "int8": "TINYINT",
    "uint8": "UTINYINT",
    "bool": "BOOLEAN",
    "boolean": "BOOLEAN",
}


def sql_type(kind: str) -> str:
    """The DuckDB type an event field of dtype ``kind`` is read as (text for anything not a number or bool)."""
    return _SQL_TYPES.get(kind.lower(), "VARCHAR")


@dataclass(frozen=True, slots=True)
class TypedEvents:
    """The events that read well (their positions in the batch and typed columns), and the refused ones."""

    positions: np.ndarray
    columns: pa.Table
    refused: list[tuple[int, str]]


def typed_events(events: pa.Table, kinds: Mapping[str, str], required: Sequence[str]) -> TypedEvents:
    """Cast each column of ``kinds`` (column -> dtype name) of ``events`` (text) to its type, in one query.

    An event missing a ``required`` column, or with a value that does not read as its column's type, is
    refused with the reason (``missing field 'cc_num'``, ``'amount' is not float64: lots``); a column the batch
    lacks counts as missing.
    """
    names = list(kinds)
    raw = {
        name: events.column(name) if name in events.column_names else pa.nulls(events.num_rows, pa.string())
        for name in names
    }
    connection = duckdb.connect()
    try:
        connection.register("__raw", pa.table(raw) if raw else pa.table({"__none": pa.nulls(events.num_rows)}))
        select = ", ".join(f"TRY_CAST({quote(name)} AS {sql_type(kinds[name])}) AS {quote(name)}" for name in names)
        typed = connection.sql(f"SELECT {select or '1 AS __none'} FROM __raw").to_arrow_table()
    finally:
        connection.close()
    # only refused events get a reason: a dictionary by position, no pass over every event
    reasons: dict[int, list[str]] = {}
    for name in names:
        given = pc.is_valid(raw[name]).to_numpy(zero_copy_only=False)
        read = pc.is_valid(typed.column(name)).to_numpy(zero_copy_only=False)
        if name in required:
            for position in np.flatnonzero(~given):
                reasons.setdefault(int(position), []).append(f"missing field {name!r}")
        bad = np.flatnonzero(given & ~read)
        if len(bad):
            values = raw[name].take(pa.array(bad)).to_pylist()
            for position, value in zip(bad, values, strict=True):
                reasons.setdefault(int(position), []).append(f"{name!r} is not {kinds[name]}: {value}")
    refused = sorted((position, "; ".join(found)) for position, found in reasons.items())
    keep = np.ones(events.num_rows, dtype=bool)
    keep[[position for position, _ in refused]] = False
    positions = np.flatnonzero(keep)
    columns = typed.select(names).take(pa.array(positions, pa.int64())) if names else pa.table({})
    return TypedEvents(positions, columns, refused)
