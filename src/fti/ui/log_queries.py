"""Aggregates of the inference log for the dashboard, from the log's scalar columns, one data file at a time.

A query looks only at the data files whose time range (from their Parquet footers) meets its window. Traffic
(requests and latency over time) comes from each file's summary, stored beside it when the file was logged (see
:mod:`fti.inference.log_summaries`): a month of traffic reads a few small summaries, not a month of rows. Queries
on rows (the A/B analysis's labelled predictions, windows of a few hours) read the scalar columns of the files not
read yet (request id, time, deployment, variant, model, prediction, latency; never the logged features) and keep
them (see :mod:`fti.inference.log_files`). Results are kept per table version until the table changes; versions
are checked at most every :data:`REFRESH_SECONDS`. Feature values are read by the monitoring service for a bounded
window only (see :mod:`fti.ui.monitoring`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.features.sql import local_paths, parquet_scan, shared_engine
from fti.inference import log_files
from fti.inference.log_files import REFRESH_SECONDS, DataFile, TableFiles, each, microseconds, read_tables
from fti.inference.log_rollup import HOUR, FileRollup, bucket_figures, footer_spans, joined
from fti.inference.log_summaries import LOG_COLUMNS, LOG_DICTIONARY, file_summary
from fti.inference.log_table import INFERENCE_LOG_TABLE, LABELS_TABLE

if TYPE_CHECKING:
    from fti.project import Project

__all__ = [
    "REFRESH_SECONDS",
    "LogSpan",
    "Traffic",
    "labelled_predictions",
    "log_spans",
    "nth_latest_time",
    "recheck",
    "remember",
    "traffic",
    "window_rows",
]

_LABEL_COLUMNS = ("request_id", "deployment", "label", "labelled_at")
_MAX_RESULTS = 256
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class LogSpan:
    """What one deployment logged: non-shadow rows, and the first and last request times."""

    deployment: str
    rows: int
    first: datetime
    last: datetime


@dataclass(frozen=True, slots=True)
class Traffic:
    """Requests and latency of a deployment in ``[start, end)``, per time bucket and per variant.

    ``buckets`` rows: ``start`` (bucket start), ``variant`` (None for all non-shadow traffic together),
    ``is_shadow``, ``requests``, ``rows``, ``p50_ms``, ``p99_ms``. ``variants``: the same per variant over the
    whole window (``variant`` None: every non-shadow request).
    """

    start: datetime
    end: datetime
    bucket: timedelta
    buckets: list[dict[str, Any]]
    variants: list[dict[str, Any]]
    errors: int | None


class _Results:
    """Query results kept under keys that name the table versions they read."""

    def __init__(self) -> None:
        self._items: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    def remember(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                return self._items[key]
        value = compute()
        with self._lock:
            if len(self._items) >= _MAX_RESULTS:
                self._items.clear()
            self._items[key] = value
        return value


_RESULTS = _Results()


def _log(project: Project) -> TableFiles:
    return log_files.table_files(project.offline_store, INFERENCE_LOG_TABLE, LOG_COLUMNS, LOG_DICTIONARY)


def _labels(project: Project) -> TableFiles:
    return log_files.table_files(project.offline_store, LABELS_TABLE, _LABEL_COLUMNS, ("deployment",))


def _key(project: Project, *parts: Any, labels: bool = False) -> tuple[Any, ...]:
    """A result's key: the store, the table versions it reads, and the query's name and arguments."""
    labelled = _labels(project).version if labels else None
    return (id(project.offline_store), _log(project).version, labelled, *parts)


def recheck(project: Project) -> None:
    """Make the next query look for new log rows and labels now, not within :data:`REFRESH_SECONDS`."""
    log_files.recheck(project.offline_store)


def remember(project: Project, parts: tuple[Any, ...], compute: Callable[[], Any], *, labels: bool = False) -> Any:
    """``compute()`` kept until the log (and with ``labels``, the labels) change; ``parts`` name the query."""
    return _RESULTS.remember(_key(project, *parts, labels=labels), compute)


def log_spans(project: Project) -> dict[str, LogSpan]:
    """Per deployment: non-shadow rows, first and last request times (from the files' footers where they tell)."""
    found: dict[str, LogSpan] = remember(project, ("spans",), lambda: _log_spans(_log(project)))
    return found


def nth_latest_time(project: Project, deployment: str, start: datetime, end: datetime, rows: int) -> datetime | None:
    """The time of the ``rows``-th latest non-shadow row of ``deployment`` in ``[start, end)``, or None if fewer."""
    parts = ("nth", deployment, start, end, rows)
    found: datetime | None = remember(
        project, parts, lambda: _nth_latest_time(_log(project), deployment, start, end, rows)
    )
    return found


def traffic(project: Project, deployment: str, start: datetime, end: datetime, bucket: timedelta) -> Traffic:
    """Requests, rows and p50/p99 latency per bucket and variant (a request's latency counted once per model)."""
    parts = ("traffic", deployment, start, end, bucket)
    found: Traffic = remember(project, parts, lambda: _traffic(_log(project), deployment, start, end, bucket))
    return found


def labelled_predictions(project: Project, deployment: str, start: datetime, end: datetime) -> pa.Table:
    """Non-shadow predictions in ``[start, end)`` joined with their latest label, with a ``model`` column
    (``name:version``): the input of :func:`fti.observability.ab_testing.ab_report`."""

    def compute() -> pa.Table:
        return _labelled_predictions(_log(project), _labels(project), deployment, start, end)

    found: pa.Table = remember(project, ("labelled", deployment, start, end), compute, labels=True)
    return found


def window_rows(project: Project, deployment: str, start: datetime, end: datetime, columns: list[str]) -> pa.Table:
    """The non-shadow rows of ``deployment`` in ``[start, end)``, oldest first: ``columns`` of the log (strings
    plain, not dictionary-encoded). Columns the dashboard does not keep in memory (the logged features) are read
    from the files that hold rows of the window, and not kept."""
    log = _log(project)
    low, high = microseconds(start), microseconds(end)
    parts = []
    for file in log.meeting(low, high, deployment=deployment):
        keep = _row_mask(file, deployment, low, high, include_shadow=False)
        rows = pa.array(np.arange(file.rows) if keep is None else np.flatnonzero(keep))
        if len(rows) == 0:
            continue
        kept = [column for column in columns if column in file.table().column_names]
        other = [column for column in columns if column not in kept]
        part = file.table().select(kept).take(rows)
        if other:
            read = file.read(other, rows.to_numpy())
            part = pa.table({column: (part if column in kept else read).column(column) for column in columns})
        parts.append(part)
    if not parts:
        return log.reader.schema.empty_table().select(columns) if log.reader is not None else pa.table({})
    found = pa.concat_tables([_plain(part) for part in parts])
    stamps = found.column("timestamp").cast(pa.int64()).to_numpy() if "timestamp" in columns else np.zeros(0)
    return found if bool(np.all(stamps[1:] >= stamps[:-1])) else found.sort_by("timestamp")


def _plain(table: pa.Table) -> pa.Table:
    """``table`` with its dictionary-encoded columns decoded."""
    for index, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(index, field.name, table.column(index).cast(field.type.value_type))
    return table


def _utc(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _log_spans(log: TableFiles) -> dict[str, LogSpan]:
    merged: dict[str, tuple[int, int, int]] = {}
    for file in log.files:
        for name, (rows, first, last) in _spans(file).items():
            before = merged.get(name)
            merged[name] = (
                (rows, first, last)
                if before is None
                else (before[0] + rows, min(before[1], first), max(before[2], last))
            )
    return {name: LogSpan(name, rows, _utc(first), _utc(last)) for name, (rows, first, last) in sorted(merged.items())}


def _window(
    log: TableFiles,
    deployment: str,
    start: datetime,
    end: datetime,
    columns: list[str],
    *,
    include_shadow: bool = False,
) -> pa.Table:
    """The rows of ``deployment`` in ``[start, end)`` (non-shadow unless asked), ``columns`` only, from the files that
    meet the window."""
    low, high = microseconds(start), microseconds(end)
    files = log.meeting(low, high, deployment=deployment)
    read_tables(files)
    parts = [_rows_in(file, deployment, low, high, columns, include_shadow=include_shadow) for file in files]
    if not parts:
        return log.reader.schema.empty_table().select(columns) if log.reader is not None else pa.table({})
    return pa.concat_tables(parts)


def _rows_in(
    file: DataFile, deployment: str, low: int, high: int, columns: list[str], *, include_shadow: bool
) -> pa.Table:
    """The rows of one file with ``low <= timestamp < high`` (microseconds)."""
    table = file.table().select(columns)
    keep = _row_mask(file, deployment, low, high, include_shadow=include_shadow)
    return table if keep is None else table.filter(pa.array(keep))


def _row_mask(
    file: DataFile, deployment: str, low: int, high: int, *, include_shadow: bool
) -> np.ndarray[Any, Any] | None:
    """Which rows of one file are of ``deployment`` with ``low <= timestamp < high`` (and non-shadow unless asked);
    None when the footer says every row is."""
    is_inside = file.first is not None and file.last is not None and low <= file.first and file.last < high
    if is_inside and file.only("deployment") == deployment and (include_shadow or file.only("is_shadow") is False):
        return None
    table = file.table()
    stamps = np.asarray(table.column("timestamp").cast(pa.int64()).to_numpy(), dtype=np.int64)
    keep: np.ndarray[Any, Any] = (stamps >= low) & (stamps < high) & _equals(table.column("deployment"), deployment)
    if not include_shadow:
        keep &= ~np.asarray(table.column("is_shadow").to_numpy(zero_copy_only=False), dtype=bool)
    return keep


def _equals(column: pa.ChunkedArray, value: str) -> np.ndarray[Any, Any]:
    """Whether each row of a (dictionary-encoded) string column holds ``value``."""
    indices, dictionary = log_files.codes(column)
    found = pc.index(dictionary.cast(pa.string()), value).as_py()
    if found < 0:
        return np.zeros(len(indices), dtype=bool)
    matched: np.ndarray[Any, Any] = indices == found
    if column.null_count:
        matched &= np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    return matched


def _nth_latest_time(log: TableFiles, deployment: str, start: datetime, end: datetime, rows: int) -> datetime | None:
    """Newest files first, stopping once a file ends before the ``rows``-th latest time found so far."""
    low, high = microseconds(start), microseconds(end)
    files = sorted(log.meeting(low, high, deployment=deployment), key=lambda file: file.last or 0, reverse=True)
    found = np.empty(0, dtype=np.int64)
    for file in files:
        if len(found) >= rows and file.last is not None and file.last <= _latest(found, rows):
            break
        part = _rows_in(file, deployment, low, high, ["timestamp"], include_shadow=False)
        found = np.concatenate([found, part.column("timestamp").cast(pa.int64()).to_numpy()])
    return None if len(found) < rows else _utc(_latest(found, rows))


def _latest(stamps: np.ndarray[Any, Any], rows: int) -> int:
    """The ``rows``-th largest value."""
    return int(np.partition(stamps, len(stamps) - rows)[len(stamps) - rows])


def _traffic(log: TableFiles, deployment: str, start: datetime, end: datetime, bucket: timedelta) -> Traffic:
    width = max(int(bucket.total_seconds() * 1_000_000), 1)
    rows = (_rollup_rows if width % HOUR == 0 else _raw_rows)(log, deployment, start, end, width)
    errors = _errors(log, deployment, start, end)
    buckets, variants = [], []
    for index, variant, is_shadow, requests, logged, p50, p99, no_bucket, no_variant in rows:
        if no_variant and is_shadow:
            continue  # the shadow has a single variant: its row per variant says it all
        item = {
            "variant": None if no_variant else variant,
            "is_shadow": bool(is_shadow),
            "requests": int(requests),
            "rows": int(logged),
            "p50_ms": None if p50 is None else round(float(p50), 3),
            "p99_ms": None if p99 is None else round(float(p99), 3),
        }
        if no_bucket:
            variants.append(item)
        else:
            moment = _EPOCH + timedelta(microseconds=int(index) * width)
            buckets.append({"start": moment.isoformat(timespec="seconds"), **item})
    return Traffic(start, end, bucket, buckets, variants, errors)


def _rollup_rows(log: TableFiles, deployment: str, start: datetime, end: datetime, width: int) -> list[Any]:
    """Figures per bucket from the files' hourly rollups, latency percentiles from their histogram (buckets of whole
    hours)."""
    low, high = microseconds(start), microseconds(end)
    rollup = joined(each(log.meeting(low, high, deployment=deployment), _rollup))
    return bucket_figures(rollup, deployment, low, high, width)


def _rollup(file: DataFile) -> FileRollup:
    return file_summary(file).rollup


def _spans(file: DataFile) -> dict[str, tuple[int, int, int]]:
    found = footer_spans(file)
    return file_summary(file).spans if found is None else found


def _raw_rows(log: TableFiles, deployment: str, start: datetime, end: datetime, width: int) -> list[Any]:
    """Exact per-request figures from the log rows (for windows of a few hours: buckets under an hour)."""
    columns = ["request_id", "timestamp", "variant", "is_shadow", "latency_ms"]
    rows = _window(log, deployment, start, end, columns, include_shadow=True)
    if "variant" in rows.column_names:
        rows = rows.set_column(2, "variant", rows.column("variant").cast(pa.string()))
    with shared_engine().cursor() as connection:
        connection.register("window_rows", rows)
        found: list[Any] = connection.execute(
            """
            WITH calls AS (
                SELECT request_id, variant, is_shadow, min(timestamp) AS ts, max(latency_ms) AS latency_ms,
                       count(*) AS rows
                FROM window_rows GROUP BY request_id, variant, is_shadow
            ), bucketed AS (
                SELECT *, epoch_us(ts) // $width AS bucket FROM calls
            )
            SELECT bucket, variant, is_shadow, count(*), sum(rows), quantile_cont(latency_ms, 0.5),
                   quantile_cont(latency_ms, 0.99), grouping(bucket), grouping(variant)
            FROM bucketed
            GROUP BY GROUPING SETS (
                (bucket, variant, is_shadow), (bucket, is_shadow), (variant, is_shadow), (is_shadow)
            )
            ORDER BY bucket NULLS FIRST, variant NULLS FIRST
            """,
            {"width": width},
        ).fetchall()
    return found


def _errors(log: TableFiles, deployment: str, start: datetime, end: datetime) -> int | None:
    """Requests with an error in the window, where the log has an ``error`` column."""
    if log.reader is None or "error" not in log.reader.columns:
        return None
    rows = _window(log, deployment, start, end, ["request_id", "error"], include_shadow=True)
    failed = rows.filter(pc.is_valid(rows.column("error"))).column("request_id")
    return int(pc.count_distinct(failed).as_py()) if len(failed) else 0


def _labelled_predictions(
    log: TableFiles, labels: TableFiles, deployment: str, start: datetime, end: datetime
) -> pa.Table:
    """The non-shadow rows of ``deployment`` in ``[start, end)`` with their request's latest label: one query, in
    which DuckDB reads local files with its own Parquet reader (only the columns it needs, on every core)."""
    empty = pa.table(
        {
            "model_name": pa.array([], pa.string()),
            "model": pa.array([], pa.string()),
            "prediction": pa.array([], pa.float64()),
            "label": pa.array([], pa.float64()),
        }
    )
    low, high = microseconds(start), microseconds(end)
    logged = [file for file in log.meeting(low, high, deployment=deployment) if file.rows]
    labelled = [file for file in labels.meeting(deployment=deployment) if file.rows]
    if not logged or not labelled:
        return empty
    # in no particular order: the A/B analysis depends on the rows, not on their order
    with shared_engine().cursor() as connection:
        rows = connection.sql(
            f"""
            WITH labels AS (
                SELECT request_id, arg_max(label, labelled_at) AS label
                FROM {_scan(connection, labelled, "label_rows")}
                WHERE deployment = $deployment
                GROUP BY request_id
            )
            SELECT log.model_name, log.model_version, log.prediction, labels.label
            FROM {_scan(connection, logged, "log_rows")} AS log JOIN labels USING (request_id)
            WHERE log.deployment = $deployment AND NOT log.is_shadow
              AND epoch_us(log.timestamp) >= $low AND epoch_us(log.timestamp) < $high
            """,
            params={"deployment": deployment, "low": low, "high": high},
        ).to_arrow_table()
    if rows.num_rows == 0:
        return empty
    name = rows.column("model_name").cast(pa.string())
    return pa.table(
        {
            "model_name": name,
            "model": pc.binary_join_element_wise(name, rows.column("model_version").cast(pa.string()), ":"),
            "prediction": rows.column("prediction").cast(pa.float64()),
            "label": rows.column("label").cast(pa.float64()),
        }
    )


def _scan(connection: duckdb.DuckDBPyConnection, files: Sequence[DataFile], name: str) -> str:
    """The SQL source of the rows of ``files``: DuckDB reads local files itself; files elsewhere (an object store)
    are read as Arrow (their scalar columns, kept) and registered as ``name`` on ``connection``."""
    paths = local_paths(files[0].filesystem, [file.path for file in files])
    if paths:
        return parquet_scan(paths)
    connection.register(name, pa.concat_tables([_plain(table) for table in read_tables(files)]))
    return name
