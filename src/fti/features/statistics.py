"""Descriptive statistics of a table, computed by DuckDB in two vectorized passes (summary, histograms), and
of what feature groups hold: the rows one commit wrote, or all of a group's rows at a commit.

Numbers get count, nulls, min, max, mean, std, quartiles (from a reservoir sample of 8,192 values) and a
10-bin histogram; strings and booleans
get count, nulls, approximate distinct count and top values; times and dates get count, nulls, min, max.

A heavy-tailed column (amounts, say: most values small, a few huge) would put nearly every row in the first
of ten equal bins; when one bin holds more than half the rows, the bins are drawn again (see
:func:`tail_edges`): log-spaced for positive values, else equal up to the upper fence (Q3 + 3 IQR) with one
bin for the tail. The histogram's ``scale`` says which: ``linear``, ``log`` or ``fenced``.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from fti.features.schema import schema_from_specs
from fti.features.sql import query_engine, quote, register_dataset

if TYPE_CHECKING:
    import duckdb

    from fti.backends.ports import OfflineStore
    from fti.core.features import CommitRecord, FeatureGroupRecord
    from fti.features.time_travel import Snapshot

__all__ = [
    "compute_statistics",
    "equal_edges",
    "has_current_bins",
    "kind_of",
    "measure_commit",
    "measure_snapshot",
    "tail_edges",
    "times_overlap",
]

#: statistics of a large commit or group spill to disk rather than grow the measuring process
_MEASURE_MEMORY = "256MB"

_BINS = 10


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


def equal_edges(low: float, high: float) -> list[float]:
    """The upper edges of ten equal bins over ``[low, high]`` (one edge when they are equal)."""
    width = (high - low) / _BINS
    return [low + width * step for step in range(1, _BINS)] + [high] if width > 0 else [high]


def tail_edges(low: float, high: float, quartiles: list[float] | None) -> tuple[list[float], str] | None:
    """Upper bin edges for a heavy-tailed column and their scale (``log`` or ``fenced``), or None when neither
    applies: log-spaced when every value is positive and the range spans two decades, else equal bins up to the
    upper fence (Q3 + 3 IQR) and one bin from there to the maximum."""
    if low > 0 and high / low >= 100:
        ratio = (high / low) ** (1 / _BINS)
        return [low * ratio**step for step in range(1, _BINS)] + [high], "log"
    if quartiles and len(quartiles) == 3:
        fence = quartiles[2] + 3 * (quartiles[2] - quartiles[0])
        if low < fence < high:
            width = (fence - low) / (_BINS - 1)
            return [low + width * step for step in range(1, _BINS)] + [high], "fenced"
    return None


def has_current_bins(statistics: dict[str, Any]) -> bool:
    """Whether every histogram of ``statistics`` says its ``scale``: kept statistics from before heavy tails got
    their own bins do not, and a group's are measured again rather than shown with one bar."""
    columns = statistics.get("columns", {}).values()
    return all("scale" in stats["histogram"] for stats in columns if "histogram" in stats)


def _is_heavy(counts: list[int]) -> bool:
    total = sum(counts)
    return len(counts) > 1 and total > 0 and max(counts) > total / 2


def _add_histograms(connection: duckdb.DuckDBPyConnection, source: str, columns: dict[str, dict[str, Any]]) -> None:
    bounds: dict[str, list[float]] = {}
    for name, stats in columns.items():
        low, high = stats.get("min"), stats.get("max")
        if stats["type"] != "number" or low is None or high is None or not math.isfinite(low - high):
            continue
        bounds[name] = equal_edges(low, high)
    _count_bins(connection, source, columns, bounds, "linear")
    redrawn: dict[str, list[float]] = {}
    scales: dict[str, str] = {}
    for name in bounds:
        stats = columns[name]
        tail = (
            tail_edges(stats["min"], stats["max"], stats.get("quantiles"))
            if _is_heavy(stats["histogram"]["counts"])
            else None
        )
        if tail is not None:
            redrawn[name], scales[name] = tail
    for scale in set(scales.values()):
        _count_bins(connection, source, columns, {n: e for n, e in redrawn.items() if scales[n] == scale}, scale)


def _count_bins(
    connection: duckdb.DuckDBPyConnection,
    source: str,
    columns: dict[str, dict[str, Any]],
    bounds: dict[str, list[float]],
    scale: str,
) -> None:
    """Count each column's values per bin (one pass over ``source`` for every column)."""
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
            "scale": scale,
        }


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def measure_commit(
    offline: OfflineStore,
    record: FeatureGroupRecord,
    commits: list[CommitRecord],
    written: tuple[int, int],
    schema: pa.Schema,
    *,
    gathered: dict[str, Any] | None = None,
    unique_keys: bool = False,
) -> tuple[dict[str, Any], int]:
    """Statistics of the rows an insert wrote (``written``: their stamp and the table version that published
    them), with their repeated (key, event time) pairs as ``duplicate_keys``, and how many rows of the visible
    ``commits`` they replaced.

    ``gathered`` is what was measured while the rows streamed to storage (see
    :mod:`fti.features.stream_statistics`): then the rows are read back only for what it lacks, the
    string and boolean columns. ``unique_keys`` says each (key, event time) pair occurs once (the caller
    built the rows so, or saw the pairs strictly increase), which skips counting distinct pairs. The
    replaced count joins the new rows with the visible ones only when their event-time ranges (from the
    commits' statistics) overlap: appending newer data, the common case, skips the join.
    """
    statistics = gathered
    pending = [field for field in schema if gathered is None or kind_of(field.type) == "category"]
    overlaps = bool(commits) and (statistics is None or times_overlap(record.event_time, statistics, commits))
    if statistics is not None and unique_keys and not overlaps and not pending:
        return statistics | {"duplicate_keys": 0}, 0
    keys = ", ".join(quote(name) for name in (*record.primary_key, record.event_time))
    connection = query_engine(memory_limit=_MEASURE_MEMORY)
    try:
        stamp, version = written
        register_dataset(connection, "written", offline.read(record.table, version=version))
        new_rows = f"(SELECT * FROM written WHERE _fti_commit = {stamp})"
        if pending:
            measured = compute_statistics(connection, new_rows, pa.schema(pending))
            statistics = (
                measured
                if statistics is None
                else statistics | {"columns": {**statistics["columns"], **measured["columns"]}}
            )
        assert statistics is not None
        distinct = (
            statistics["rows"]
            if unique_keys
            else _scalar(connection, f"SELECT count(*) FROM (SELECT DISTINCT {keys} FROM {new_rows})")
        )
        statistics["duplicate_keys"] = statistics["rows"] - distinct
        replaced = 0
        if commits and times_overlap(record.event_time, statistics, commits):
            visible = ", ".join(str(item.stamp) for item in commits)
            replaced = _scalar(
                connection,
                f"SELECT count(*) FROM {new_rows} AS n SEMI JOIN "
                f"(SELECT {keys} FROM written WHERE _fti_commit IN ({visible})) AS o USING ({keys})",
            )
    finally:
        connection.close()
    return statistics, replaced


def measure_snapshot(offline: OfflineStore, view: Snapshot) -> dict[str, Any]:
    """Statistics of every visible row of a feature group at the commit of ``view``."""
    schema = schema_from_specs(view.record.schema or ())
    connection = query_engine(memory_limit=_MEASURE_MEMORY)
    try:
        source = view.register(connection, offline, "group_rows")
        if schema is None:
            schema = connection.sql(f"SELECT * FROM {source} LIMIT 0").to_arrow_table().schema
        return compute_statistics(connection, source, schema)
    finally:
        connection.close()


def _time_range(statistics: dict[str, Any], column: str) -> tuple[datetime, datetime] | None:
    """The (min, max) event time a commit's statistics recorded, or None when unknown."""
    stats = statistics.get("columns", {}).get(column, {})
    try:
        return datetime.fromisoformat(str(stats["min"])), datetime.fromisoformat(str(stats["max"]))
    except (KeyError, TypeError, ValueError):
        return None


def times_overlap(event_time: str, new: dict[str, Any], commits: list[CommitRecord]) -> bool:
    """Whether the new rows' event times may meet a visible commit's (unknown ranges count as overlapping)."""
    if not new.get("rows"):
        return False
    fresh = _time_range(new, event_time)
    if fresh is None:
        return True
    for item in commits:
        old = _time_range(item.statistics, event_time)
        if old is None:
            return True
        try:
            if fresh[0] <= old[1] and old[0] <= fresh[1]:
                return True
        except TypeError:  # a date against a timestamp: do not guess
            return True
    return False


def _scalar(connection: duckdb.DuckDBPyConnection, sql: str) -> int:
    rows = connection.sql(sql).fetchall()
    return int(rows[0][0]) if rows else 0
