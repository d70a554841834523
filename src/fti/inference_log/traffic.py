"""Requests, rows and latency of a deployment over time, per time bucket and per variant.

Buckets of whole hours are summed from each data file's hourly rollup (its summary, see
:mod:`fti.inference_log.summaries`): a month of traffic reads a few small summaries, not a month of rows; their
latency percentiles are read off 5%-wide latency bins. Finer buckets are exact, from the rows of the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow.compute as pc

from fti.features.sql import shared_engine
from fti.inference_log.files import DataFile, TableFiles, each, microseconds
from fti.inference_log.queries import rows
from fti.inference_log.rollup import HOUR, FileRollup, bucket_figures, joined
from fti.inference_log.summaries import file_summary

__all__ = ["Traffic", "traffic"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Traffic:
    """Requests and latency of a deployment in ``[start, end)``, per time bucket and per variant.

    ``buckets`` rows: ``start`` (bucket start), ``variant`` (None for all non-shadow traffic together),
    ``is_shadow``, ``requests``, ``rows``, ``p50_ms``, ``p99_ms``. ``variants``: the same per variant over the
    whole window (``variant`` None: every non-shadow request). ``errors``: requests that failed, where the log
    records errors (else None).
    """

    start: datetime
    end: datetime
    bucket: timedelta
    buckets: list[dict[str, Any]]
    variants: list[dict[str, Any]]
    errors: int | None


def traffic(log: TableFiles, deployment: str, start: datetime, end: datetime, bucket: timedelta) -> Traffic:
    """Requests, rows and p50/p99 latency per bucket and variant (a request's latency counted once per model)."""
    width = max(int(bucket.total_seconds() * 1_000_000), 1)
    figures = (_rollup_rows if width % HOUR == 0 else _raw_rows)(log, deployment, start, end, width)
    errors = _errors(log, deployment, start, end)
    buckets, variants = [], []
    for index, variant, is_shadow, requests, logged, p50, p99, no_bucket, no_variant in figures:
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


def _raw_rows(log: TableFiles, deployment: str, start: datetime, end: datetime, width: int) -> list[Any]:
    """Exact per-request figures from the log rows (for windows of a few hours: buckets under an hour)."""
    columns = ["request_id", "timestamp", "variant", "is_shadow", "latency_ms"]
    window = rows(log, deployment, start, end, columns, include_shadow=True)
    with shared_engine().cursor() as connection:
        connection.register("window_rows", window)
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
    window = rows(log, deployment, start, end, ["request_id", "error"], include_shadow=True)
    failed = window.filter(pc.is_valid(window.column("error"))).column("request_id")
    return int(pc.count_distinct(failed).as_py()) if len(failed) else 0
