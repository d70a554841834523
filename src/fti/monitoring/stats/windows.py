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
from fti.monitoring.stats.columns import TableLike, as_table
from fti.monitoring.stats.drift import DriftConfig, DriftReport, checked_columns, encode_columns, report_rows
from fti.monitoring.stats.reference import ReferenceProfile

__all__ = ["Window", "detect_drift_and_windows", "drift_over_time", "split_windows", "time_buckets"]


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
    data: TableLike, *, every: timedelta | None = None, rows: int | None = None, timestamp: str | None = None
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
    ordered, bounds = _window_bounds(as_table(data, what="current data"), every, rows, timestamp)
    return [Window(first, last, ordered.slice(begin, stop - begin)) for first, last, begin, stop in bounds]


_Bounds = list[tuple[datetime | int, datetime | int, int, int]]


def _window_bounds(
    table: pa.Table, every: timedelta | None, rows: int | None, timestamp: str | None
) -> tuple[pa.Table, _Bounds]:
    """The table ordered by window, and each window's bounds with its row range ``begin:stop`` in that order."""
    if (every is None) == (rows is None):
        raise ValidationError("Give exactly one of every= (a time window) or rows= (a row window).")
    if rows is not None:
        if rows < 1:
            raise ValidationError(f"A row window needs at least 1 row, got rows={rows}.")
        return table, [
            (start, min(start + rows, table.num_rows), start, min(start + rows, table.num_rows))
            for start in range(0, table.num_rows, rows)
        ]
    assert every is not None
    buckets, start_of = time_buckets(table, timestamp, every)
    if not buckets.size:
        return table, []
    if np.all(buckets[1:] >= buckets[:-1]):  # logs are read in time order: no reordering needed
        ordered, sorted_buckets = table, buckets
    else:
        order = np.argsort(buckets, kind="stable")
        ordered, sorted_buckets = table.take(order), buckets[order]
    cuts = np.flatnonzero(np.diff(sorted_buckets)) + 1
    starts = np.concatenate([[0], cuts]).astype(np.int64).tolist()
    stops = np.concatenate([cuts, [len(sorted_buckets)]]).astype(np.int64).tolist()
    bounds: _Bounds = []
    for begin, stop in zip(starts, stops, strict=True):
        start = start_of(int(sorted_buckets[begin]))
        bounds.append((start, start + every, begin, stop))
    return ordered, bounds


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


def drift_over_time(
    reference: ReferenceProfile,
    current: TableLike,
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
    _, reports = detect_drift_and_windows(
        reference,
        current,
        every=every,
        rows=rows,
        timestamp=timestamp,
        columns=columns,
        prediction=prediction,
        config=config,
    )
    return reports


def detect_drift_and_windows(
    reference: ReferenceProfile,
    current: TableLike,
    *,
    every: timedelta | None = None,
    rows: int | None = None,
    timestamp: str | None = None,
    columns: Iterable[str] | None = None,
    prediction: str | None = None,
    config: DriftConfig | None = None,
) -> tuple[DriftReport, list[DriftReport]]:
    """The drift of the whole current data and of each of its windows, reading every column once.

    Each column is encoded against the reference once (see :mod:`fti.monitoring.stats.codes`); the whole data and
    every window are then counted from the codes, so the windows cost little beyond the one check.

    Returns:
        The report over every row (as :func:`detect_drift`) and one report per window (as
        :func:`drift_over_time`).
    """
    table = as_table(current, what="current data")
    names, wanted = checked_columns(reference, table, columns, prediction, config or DriftConfig())
    ordered, bounds = _window_bounds(table, every, rows, timestamp)
    codes = encode_columns(reference, ordered, wanted)
    options: dict[str, Any] = {"columns": names, "prediction": prediction, "config": config}
    whole = report_rows(reference, codes, 0, ordered.num_rows, **options)
    reports = []
    for first, last, begin, stop in bounds:
        window = Window(first, last, ordered.slice(begin, stop - begin)).describe()
        reports.append(replace(report_rows(reference, codes, begin, stop, **options), window=window))
    return whole, reports
