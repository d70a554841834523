"""Aggregates of the inference log for the dashboard, computed by DuckDB over the log's scalar columns.

Only the scalar columns are read (request id, time, variant, latency, prediction), never the logged
features, and they are kept in memory per table version, checked at most every
:data:`REFRESH_SECONDS`, so pages query memory rather than reopening the table. Feature values are read by
the monitoring service for a bounded window only (see :mod:`fti.ui.monitoring`).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads

from fti.inference.log_table import INFERENCE_LOG_TABLE, LABELS_TABLE

if TYPE_CHECKING:
    from fti.project import Project

__all__ = [
    "LogSpan",
    "Traffic",
    "labelled_predictions",
    "log_spans",
    "nth_latest_time",
    "recheck",
    "remember",
    "traffic",
]

REFRESH_SECONDS = 5.0
_LOG_COLUMNS = (
    "request_id",
    "timestamp",
    "deployment",
    "variant",
    "model_name",
    "model_version",
    "prediction",
    "latency_ms",
    "is_shadow",
)
_MAX_RESULTS = 256
#: latency histogram: bin b holds [floor * step**b, floor * step**(b + 1)) milliseconds
_LATENCY_FLOOR = 0.01
_LATENCY_STEP = 1.05
_LATENCY_BINS = 500
_ROLLUP_SECONDS = 3600
_MICROSECONDS = 1_000_000
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


class _Snapshot:
    """The scalar columns of one offline table at one version, the files they came from, and when that version
    was last confirmed."""

    def __init__(
        self, version: int | None, table: pa.Table | None, paths: frozenset[str], rollup: pa.Table | None = None
    ) -> None:
        self.version = version
        self.table = table
        self.paths = paths
        self.rollup = rollup
        self.checked = time.monotonic()


class _Snapshots:
    """In-memory copies of the log's scalar columns and of the labels, per offline store and table, and the
    aggregates computed from them (kept until the table changes).

    A new version of an append-only table is read incrementally: only its new files are loaded.
    """

    def __init__(self) -> None:
        self._items: weakref.WeakKeyDictionary[Any, dict[str, _Snapshot]] = weakref.WeakKeyDictionary()
        self._results: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    def table(self, project: Project, name: str, columns: tuple[str, ...] | None) -> pa.Table | None:
        return self.snapshot(project, name, columns).table

    def snapshot(self, project: Project, name: str, columns: tuple[str, ...] | None) -> _Snapshot:
        offline = project.offline_store
        with self._lock:
            tables = self._items.setdefault(offline, {})
            found = tables.get(name)
            if found is not None and time.monotonic() - found.checked < REFRESH_SECONDS:
                return found
            version = offline.version(name)
            if found is not None and found.version == version:
                found.checked = time.monotonic()
                return found
            made = (
                _Snapshot(None, None, frozenset()) if version is None else _load(offline, name, version, columns, found)
            )
            tables[name] = made
            return made

    def recheck(self, project: Project) -> None:
        """Check the tables' versions on the next read, however recently they were confirmed."""
        with self._lock:
            for snapshot in self._items.get(project.offline_store, {}).values():
                snapshot.checked = float("-inf")

    def remember(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """``compute()``, kept under ``key`` (which names the table versions it read)."""
        with self._lock:
            if key in self._results:
                return self._results[key]
        value = compute()
        with self._lock:
            if len(self._results) >= _MAX_RESULTS:
                self._results.clear()
            self._results[key] = value
        return value


def _load(
    offline: Any, name: str, version: int, columns: tuple[str, ...] | None, previous: _Snapshot | None
) -> _Snapshot:
    dataset = offline.read(name, version)
    wanted = [column for column in columns or dataset.schema.names if column in dataset.schema.names]
    if columns is not None and "error" in dataset.schema.names:
        wanted.append("error")
    if not isinstance(dataset, pads.FileSystemDataset):
        return _snapshot(name, version, dataset.to_table(columns=wanted), frozenset(), None)
    fragments = {fragment.path: fragment for fragment in dataset.get_fragments()}
    paths = frozenset(fragments)
    is_append = (
        previous is not None
        and previous.table is not None
        and previous.paths
        and previous.paths <= paths
        and previous.table.column_names == wanted
    )
    if not is_append or previous is None or previous.table is None:
        return _snapshot(name, version, dataset.to_table(columns=wanted), paths, None)
    added = [fragments[path] for path in sorted(paths - previous.paths)]
    if not added:
        return _Snapshot(version, previous.table, paths, previous.rollup)
    fresh = pads.FileSystemDataset(added, dataset.schema, dataset.format, dataset.filesystem)
    new_rows = fresh.to_table(columns=wanted).cast(previous.table.schema)
    return _snapshot(name, version, new_rows, paths, previous)


def _snapshot(name: str, version: int, rows: pa.Table, paths: frozenset[str], previous: _Snapshot | None) -> _Snapshot:
    """A snapshot of ``rows`` appended to ``previous`` (if any), with the log's rollup brought up to date."""
    table = rows if previous is None or previous.table is None else pa.concat_tables([previous.table, rows])
    if name != INFERENCE_LOG_TABLE:
        return _Snapshot(version, table, paths)
    rollup = _rollup(rows)
    if previous is not None and previous.rollup is not None:
        rollup = pa.concat_tables([previous.rollup, rollup])
    return _Snapshot(version, table, paths, rollup)


def _rollup(rows: pa.Table) -> pa.Table:
    """Requests and rows per deployment, variant, hour and latency bin, for the rows of some log commits.

    A request's rows are written in one commit, so grouping them by request id here is exact; the rollup
    is then small and purely numeric, and latency percentiles come from its histogram (bins 5% wide).
    """
    with _database().cursor() as connection:
        connection.register("batch", rows)
        return connection.sql(
            f"""
            WITH calls AS (
                SELECT deployment, variant, is_shadow, min(timestamp) AS ts, max(latency_ms) AS latency_ms,
                       count(*) AS rows
                FROM batch GROUP BY deployment, request_id, variant, is_shadow
            )
            SELECT deployment, variant, is_shadow, epoch_us(ts) // {_ROLLUP_SECONDS * _MICROSECONDS} AS hour,
                   CAST(least(greatest(floor(ln(greatest(latency_ms, {_LATENCY_FLOOR}) / {_LATENCY_FLOOR})
                        / ln({_LATENCY_STEP})), 0), {_LATENCY_BINS - 1}) AS INTEGER) AS bin,
                   count(*) AS requests, sum(rows) AS rows
            FROM calls GROUP BY ALL
            """
        ).to_arrow_table()


_SNAPSHOTS = _Snapshots()
_DATABASE: list[duckdb.DuckDBPyConnection] = []
_DATABASE_LOCK = threading.Lock()


def _database() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB database for the process; each query runs on its own cursor."""
    with _DATABASE_LOCK:
        if not _DATABASE:
            database = duckdb.connect()
            database.execute("SET threads TO 2")
            _DATABASE.append(database)
        return _DATABASE[0]


def _connect(project: Project, *tables: str) -> duckdb.DuckDBPyConnection | None:
    """A DuckDB connection over in-memory copies of the named tables; None if the log is missing."""
    log = _SNAPSHOTS.table(project, INFERENCE_LOG_TABLE, _LOG_COLUMNS)
    if log is None:
        return None
    connection = _database().cursor()  # a cursor costs nothing; a new database costs ~100 ms
    connection.register(INFERENCE_LOG_TABLE, log)
    if LABELS_TABLE in tables:
        labels = _SNAPSHOTS.table(project, LABELS_TABLE, None)
        if labels is None:
            connection.close()
            return None
        connection.register(LABELS_TABLE, labels)
    return connection


def _key(project: Project, *parts: Any, labels: bool = False) -> tuple[Any, ...]:
    """A result's key: the store, the table versions it reads, and the query's name and arguments."""
    log = _SNAPSHOTS.snapshot(project, INFERENCE_LOG_TABLE, _LOG_COLUMNS).version
    labelled = _SNAPSHOTS.snapshot(project, LABELS_TABLE, None).version if labels else None
    return (id(project.offline_store), log, labelled, *parts)


def recheck(project: Project) -> None:
    """Make the next query look for new log rows and labels now, not within :data:`REFRESH_SECONDS`."""
    _SNAPSHOTS.recheck(project)


def remember(project: Project, parts: tuple[Any, ...], compute: Callable[[], Any], *, labels: bool = False) -> Any:
    """``compute()`` kept until the log (and with ``labels``, the labels) change; ``parts`` name the query."""
    return _SNAPSHOTS.remember(_key(project, *parts, labels=labels), compute)


def log_spans(project: Project) -> dict[str, LogSpan]:
    """Per deployment: non-shadow rows, first and last request times (one scan of the log)."""
    found: dict[str, LogSpan] = _SNAPSHOTS.remember(_key(project, "spans"), lambda: _log_spans(project))
    return found


def nth_latest_time(project: Project, deployment: str, start: datetime, end: datetime, rows: int) -> datetime | None:
    """The time of the ``rows``-th latest non-shadow row of ``deployment`` in ``[start, end)``, or None if fewer."""
    key = _key(project, "nth", deployment, start, end, rows)
    found: datetime | None = _SNAPSHOTS.remember(key, lambda: _nth_latest_time(project, deployment, start, end, rows))
    return found


def traffic(project: Project, deployment: str, start: datetime, end: datetime, bucket: timedelta) -> Traffic:
    """Requests, rows and p50/p99 latency per bucket and variant (a request's latency counted once per model)."""
    key = _key(project, "traffic", deployment, start, end, bucket)
    found: Traffic = _SNAPSHOTS.remember(key, lambda: _traffic(project, deployment, start, end, bucket))
    return found


def labelled_predictions(project: Project, deployment: str, start: datetime, end: datetime) -> pa.Table:
    """Non-shadow predictions in ``[start, end)`` joined with their latest label, with a ``model`` column
    (``name:version``): the input of :func:`fti.observability.ab_testing.ab_report`."""
    key = _key(project, "labelled", deployment, start, end, labels=True)
    found: pa.Table = _SNAPSHOTS.remember(key, lambda: _labelled_predictions(project, deployment, start, end))
    return found


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _log_spans(project: Project) -> dict[str, LogSpan]:
    connection = _connect(project, INFERENCE_LOG_TABLE)
    if connection is None:
        return {}
    with connection:
        found = connection.execute(
            f"""
            SELECT deployment, count(*), min(timestamp), max(timestamp)
            FROM {INFERENCE_LOG_TABLE} WHERE NOT is_shadow GROUP BY deployment
            """
        ).fetchall()
    return {name: LogSpan(name, int(rows), _utc(first), _utc(last)) for name, rows, first, last in found}


def _nth_latest_time(project: Project, deployment: str, start: datetime, end: datetime, rows: int) -> datetime | None:
    connection = _connect(project, INFERENCE_LOG_TABLE)
    if connection is None:
        return None
    with connection:
        found = connection.execute(
            f"""
            SELECT timestamp FROM {INFERENCE_LOG_TABLE}
            WHERE deployment = $deployment AND NOT is_shadow AND timestamp >= $start AND timestamp < $end
            ORDER BY timestamp DESC LIMIT 1 OFFSET $skip
            """,
            {"deployment": deployment, "start": start, "end": end, "skip": rows - 1},
        ).fetchone()
    return None if found is None else _utc(found[0])


def _traffic(project: Project, deployment: str, start: datetime, end: datetime, bucket: timedelta) -> Traffic:
    width = max(int(bucket.total_seconds() * _MICROSECONDS), 1)
    hourly = width % (_ROLLUP_SECONDS * _MICROSECONDS) == 0
    rows, errors = (_rollup_rows if hourly else _raw_rows)(project, deployment, start, end, width)
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


def _rollup_rows(
    project: Project, deployment: str, start: datetime, end: datetime, width: int
) -> tuple[list[Any], int | None]:
    """Figures per bucket from the hourly rollup, latency percentiles from its histogram (buckets of whole hours)."""
    log = _SNAPSHOTS.snapshot(project, INFERENCE_LOG_TABLE, _LOG_COLUMNS)
    if log.table is None or log.rollup is None:
        return [], None
    hour = _ROLLUP_SECONDS * _MICROSECONDS
    with _database().cursor() as connection:
        connection.register("rollup", log.rollup)
        rows = connection.execute(
            """
            WITH h AS (
                SELECT (hour * $hour) // $width AS bucket, variant, is_shadow, bin, requests, rows FROM rollup
                WHERE deployment = $deployment AND hour >= $start AND hour < $end
            ), g AS (
                SELECT bucket, variant, is_shadow, bin, sum(requests) AS n, sum(rows) AS r,
                       grouping(bucket) AS nb, grouping(variant) AS nv
                FROM h
                GROUP BY GROUPING SETS (
                    (bucket, variant, is_shadow, bin), (bucket, is_shadow, bin), (variant, is_shadow, bin),
                    (is_shadow, bin)
                )
            ), c AS (
                SELECT *, sum(n) OVER (w ORDER BY bin ROWS UNBOUNDED PRECEDING) AS cum, sum(n) OVER w AS total,
                       sum(r) OVER w AS total_rows
                FROM g WINDOW w AS (PARTITION BY bucket, variant, is_shadow, nb, nv)
            )
            SELECT bucket, variant, is_shadow, any_value(total), any_value(total_rows),
                   $floor * pow($step, min(bin) FILTER (WHERE cum >= 0.5 * total) + 0.5),
                   $floor * pow($step, min(bin) FILTER (WHERE cum >= 0.99 * total) + 0.5),
                   any_value(nb), any_value(nv)
            FROM c GROUP BY bucket, variant, is_shadow, nb, nv
            ORDER BY bucket NULLS FIRST, variant NULLS FIRST
            """,
            {
                "deployment": deployment,
                "start": int(start.timestamp()) * _MICROSECONDS // hour,
                "end": -(-int(end.timestamp()) * _MICROSECONDS // hour),
                "hour": hour,
                "width": width,
                "floor": _LATENCY_FLOOR,
                "step": _LATENCY_STEP,
            },
        ).fetchall()
        errors = None
        if "error" in log.table.column_names:
            connection.register(INFERENCE_LOG_TABLE, log.table)
            errors = _errors(connection, deployment, start, end)
    return rows, errors


def _raw_rows(
    project: Project, deployment: str, start: datetime, end: datetime, width: int
) -> tuple[list[Any], int | None]:
    """Exact per-request figures from the log rows (for windows of a few hours: buckets under an hour)."""
    connection = _connect(project, INFERENCE_LOG_TABLE)
    if connection is None:
        return [], None
    with connection:
        columns = {column[0] for column in connection.execute(f"DESCRIBE {INFERENCE_LOG_TABLE}").fetchall()}
        rows = connection.execute(
            f"""
            WITH calls AS (
                SELECT request_id, variant, is_shadow, min(timestamp) AS ts, max(latency_ms) AS latency_ms,
                       count(*) AS rows
                FROM {INFERENCE_LOG_TABLE}
                WHERE deployment = $deployment AND timestamp >= $start AND timestamp < $end
                GROUP BY request_id, variant, is_shadow
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
            {
                "deployment": deployment,
                "start": start,
                "end": end,
                "width": width,
            },
        ).fetchall()
        errors = _errors(connection, deployment, start, end) if "error" in columns else None
    return rows, errors


def _errors(connection: duckdb.DuckDBPyConnection, deployment: str, start: datetime, end: datetime) -> int:
    found = connection.execute(
        f"""
        SELECT count(DISTINCT request_id) FROM {INFERENCE_LOG_TABLE}
        WHERE deployment = $deployment AND timestamp >= $start AND timestamp < $end AND error IS NOT NULL
        """,
        {"deployment": deployment, "start": start, "end": end},
    ).fetchone()
    return 0 if found is None else int(found[0])


def _labelled_predictions(project: Project, deployment: str, start: datetime, end: datetime) -> pa.Table:
    empty = pa.table(
        {
            "model_name": pa.array([], pa.string()),
            "model": pa.array([], pa.string()),
            "prediction": pa.array([], pa.float64()),
            "label": pa.array([], pa.float64()),
        }
    )
    connection = _connect(project, INFERENCE_LOG_TABLE, LABELS_TABLE)
    if connection is None:
        return empty
    with connection:
        table = connection.sql(
            f"""
            WITH labels AS (
                SELECT request_id, arg_max(label, labelled_at) AS label FROM {LABELS_TABLE}
                WHERE deployment = $deployment GROUP BY request_id
            )
            SELECT log.model_name, log.model_name || ':' || CAST(log.model_version AS VARCHAR) AS model,
                   log.prediction, labels.label
            FROM {INFERENCE_LOG_TABLE} AS log JOIN labels USING (request_id)
            WHERE log.deployment = $deployment AND NOT log.is_shadow AND log.timestamp >= $start
                  AND log.timestamp < $end
            """,
            params={"deployment": deployment, "start": start, "end": end},
        ).to_arrow_table()
    return table if table.num_rows else empty
