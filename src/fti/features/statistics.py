"""Descriptive statistics of a table, computed by DuckDB in two vectorized passes (summary, histograms).

Numbers get count, nulls, min, max, mean, std, quartiles (from a reservoir sample of 8,192 values) and a
10-bin histogram; strings and booleans
get count, nulls, approximate distinct count and top values; times and dates get count, nulls, min, max.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    import duckdb

__all__ = ["compute_statistics", "kind_of", "quote"]

_BINS = 10


def quote(name: str) -> str:
    """A SQL identifier in double quotes (names are validated identifiers; this guards keywords)."""
    return '"' + name.replace('"', '""') + '"'


def kind_of(arrow_type: pa.DataType) -> str:
    """How a column is described: ``number``, ``category``, ``time`` or ``other``."""
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "number"
    if pa.types.is_string(arrow_type) or pa.types.is_boolean(arrow_type):
        return "category"
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return "time"
    return "other"


def compute_statistics(connection: duckdb.DuckDBPyConnection, source: str, schema: pa.Schema) -> dict[str, Any]:
    """Statistics of every column of ``source`` (a relation name or a parenthesized query)."""
    expressions = ["count(*) AS rows"]
    plan = []
    for i, column in enumerate(schema):
        kind = kind_of(column.type)
        name = quote(column.name)
        parts = {"count": f"count({name})"}
        if kind == "number":
            value = f"CAST({name} AS DOUBLE)"
            parts |= {
                "min": f"min({value})",
                "max": f"max({value})",
                "mean": f"avg({value})",
                "std": f"stddev_samp({value})",
                # a reservoir of 8,192 values per column: exact up to that many rows, then sampled; about
                # 4x cheaper than approx_quantile's t-digest and bounded in memory, unlike exact quantiles
                "quantiles": f"reservoir_quantile({value}, [0.25, 0.5, 0.75])",
            }
        elif kind == "category":
            parts |= {"distinct": f"approx_count_distinct({name})", "top": f"approx_top_k(CAST({name} AS VARCHAR), 5)"}
        elif kind == "time":
            parts |= {"min": f"CAST(min({name}) AS VARCHAR)", "max": f"CAST(max({name}) AS VARCHAR)"}
        plan.append((column.name, kind, list(parts)))
        expressions += [f"{sql} AS c{i}_{key}" for key, sql in parts.items()]
    values = iter(connection.sql(f"SELECT {', '.join(expressions)} FROM {source}").fetchall()[0])
    total = int(next(values))
    columns: dict[str, dict[str, Any]] = {}
    for name, kind, keys in plan:
        stats: dict[str, Any] = {"type": kind}
        for key in keys:
            stats[key] = _plain(next(values))
        stats["nulls"] = total - int(stats["count"])
        columns[name] = stats
    _add_histograms(connection, source, columns)
    return {"rows": total, "columns": columns}


def _add_histograms(connection: duckdb.DuckDBPyConnection, source: str, columns: dict[str, dict[str, Any]]) -> None:
    bounds: dict[str, list[float]] = {}
    for name, stats in columns.items():
        low, high = stats.get("min"), stats.get("max")
        if stats["type"] != "number" or low is None or high is None or not math.isfinite(low - high):
            continue
        width = (high - low) / _BINS
        bounds[name] = [low + width * step for step in range(1, _BINS)] + [high] if width > 0 else [high]
    if not bounds:
        return
    expressions = [
        f"histogram(CAST({quote(name)} AS DOUBLE), {[float(edge) for edge in edges]}::DOUBLE[])"
        for name, edges in bounds.items()
    ]
    row = connection.sql(f"SELECT {', '.join(expressions)} FROM {source}").fetchall()[0]
    for (name, edges), counts in zip(bounds.items(), row, strict=True):
        counts = counts or {}
        columns[name]["histogram"] = {
            "edges": [columns[name]["min"], *edges],
            "counts": [int(counts.get(edge, 0)) for edge in edges],
        }


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
