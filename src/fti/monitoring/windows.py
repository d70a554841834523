"""Windows over current data (by time or by row count) and drift over time, one report per window.

Example:
    >>> reports = drift_over_time(profile, log, every=timedelta(hours=1), timestamp="ts")  # doctest: +SKIP
    >>> [(r.window["start"], r.share_drifted) for r in reports]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.errors import ValidationError
from fti.monitoring.columns import as_table
from fti.monitoring.drift import DriftConfig, DriftReport, detect_drift
from fti.monitoring.reference import ReferenceProfile

__all__ = ["Window", "drift_over_time", "split_windows", "time_buckets"]


@dataclass(frozen=True, slots=True)
class Window:
    """One slice of the current data: by time (``start`` <= t < ``end``) or by rows (offsets)."""

    start: datetime | int
    end: datetime | int
    table: pa.Table

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description of the window's bounds and size."""

        def text(bound: datetime | int) -> str | int:
            return bound.isoformat() if isinstance(bound, datetime) else bound

        return {"start": text(self.start), "end": text(self.end), "rows": self.table.num_rows}


def split_windows(
    data: Any, *, every: timedelta | None = None, rows: int | None = None, timestamp: str | None = None
) -> list[Window]:
    """Split the current data into windows: fixed time buckets (aligned to the epoch) or runs of rows.

    Args:
        data: an Arrow table or a pandas/Polars DataFrame.
        every: the width of a time window (needs ``timestamp``); empty buckets are left out.
        rows: the rows of a row window (the last one may be shorter); exclusive with ``every``.
        timestamp: the timestamp column that time windows read.

    Returns:
        The windows in order.
    """
    table = as_table(data, what="current data")
    if (every is None) == (rows is None):
        raise ValidationError("Give exactly one of every= (a time window) or rows= (a row window).")
    if rows is not None:
        if rows < 1:
            raise ValidationError(f"A row window needs at least 1 row, got rows={rows}.")
        return [
            Window(start, min(start + rows, table.num_rows), table.slice(start, rows))
            for start in range(0, table.num_rows, rows)
        ]
    assert every is not None
    return _time_windows(table, every, timestamp)


def time_buckets(table: pa.Table, timestamp: str | None, every: timedelta) -> tuple[np.ndarray[Any, Any], Any]:
    """The epoch-aligned bucket of each row's timestamp, and a function from a bucket to its start time.

    Buckets of timezone-aware timestamps start at UTC datetimes; naive timestamps give naive datetimes.
    """
    if timestamp is None or timestamp not in table.column_names:
        raise ValidationError(
            f"Time windows need the timestamp column: got timestamp={timestamp!r} "
            f"(columns: {', '.join(table.column_names)}). Pass timestamp='<column>'."
        )
    column = table.column(timestamp)
    if not pa.types.is_timestamp(column.type) or column.null_count:
        raise ValidationError(
            f"Column '{timestamp}' must be a timestamp without nulls to window by time (got {column.type}, "
            f"{column.null_count} nulls). Cast it or drop those rows."
        )
    step = int(every / timedelta(microseconds=1))
    if step < 1:
        raise ValidationError(f"A time window must last at least 1 microsecond, got {every}.")
    micros = pc.cast(pc.cast(column, pa.timestamp("us", column.type.tz)), pa.int64()).to_numpy()
    epoch = datetime(1970, 1, 1, tzinfo=UTC if column.type.tz else None)

    def start_of(bucket: int) -> datetime:
        return epoch + timedelta(microseconds=bucket * step)

    return np.floor_divide(micros, step), start_of


def _time_windows(table: pa.Table, every: timedelta, timestamp: str | None) -> list[Window]:
    buckets, start_of = time_buckets(table, timestamp, every)
    if not buckets.size:
        return []
    order = np.argsort(buckets, kind="stable")
    ordered = table.take(order)
    sorted_buckets = buckets[order]
    cuts = np.flatnonzero(np.diff(sorted_buckets)) + 1
    starts = np.concatenate([[0], cuts]).astype(np.int64)
    stops = np.concatenate([cuts, [len(order)]]).astype(np.int64)
    windows = []
    for begin, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        start = start_of(int(sorted_buckets[begin]))
        windows.append(Window(start, start + every, ordered.slice(begin, stop - begin)))
    return windows


def drift_over_time(
    reference: ReferenceProfile,
    current: Any,
    *,
    every: timedelta | None = None,
    rows: int | None = None,
    timestamp: str | None = None,
    columns: Iterable[str] | None = None,
    prediction: str | None = None,
    config: DriftConfig | None = None,
) -> list[DriftReport]:
    """Drift of each window of the current data (see :func:`split_windows` and :func:`detect_drift`).

    Each report's ``window`` holds the window's start, end and row count.
    """
    chosen = None if columns is None else list(columns)
    reports = []
    for window in split_windows(current, every=every, rows=rows, timestamp=timestamp):
        report = detect_drift(reference, window.table, columns=chosen, prediction=prediction, config=config)
        reports.append(replace(report, window=window.describe()))
    return reports
