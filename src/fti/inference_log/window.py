"""The slice of the inference log a monitoring check looks at: by time ("1h", start/end) or by the last N rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from fti.core.durations import parse_duration
from fti.errors import ValidationError
from fti.inference_log.features import FEATURE_COLUMNS, feature_columns

__all__ = ["CHECKED_COLUMNS", "LogWindow", "WindowBounds", "WindowSpec", "current_columns"]

WindowSpec = str | timedelta | int | None
"""A window: a duration ("15m", "1h", "7d" or a timedelta) ending at ``end`` (default now), or a row count
(the last N logged rows)."""

#: the log columns a check reads: when, which model, what it was given and what it answered
CHECKED_COLUMNS = ("timestamp", "model_name", "model_version", *FEATURE_COLUMNS, "prediction")


@dataclass(frozen=True, slots=True)
class WindowBounds:
    """A window resolved: ``[start, end)`` in UTC (None: unbounded), and at most the last ``last_rows`` rows."""

    start: datetime | None
    end: datetime | None
    last_rows: int | None = None

    @classmethod
    def of(
        cls, window: WindowSpec = None, *, start: datetime | None = None, end: datetime | None = None
    ) -> WindowBounds:
        """The bounds of a window given as a duration ending at ``end`` (default now), a row count, or
        ``start``/``end``.

        Raises:
            ValidationError: the window is malformed, or given both as a duration and as ``start``.
        """
        last_rows: int | None = None
        if isinstance(window, bool):
            raise ValidationError(f"window={window!r} is not a window: give a duration like '1h' or a row count.")
        if isinstance(window, int):
            if window < 1:
                raise ValidationError(f"A row window needs at least 1 row, got window={window}.")
            last_rows = window
        elif window is not None:
            if start is not None:
                raise ValidationError("Give either window= (a duration ending at end=) or start=, not both.")
            end = _utc(end) if end is not None else datetime.now(UTC)
            start = end - parse_duration(window, what="window")
        start = None if start is None else _utc(start)
        end = None if end is None else _utc(end)
        if start is not None and end is not None and start >= end:
            raise ValidationError(f"The window's start {start.isoformat()} must be before its end {end.isoformat()}.")
        return cls(start, end, last_rows)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class LogWindow:
    """The logged rows of one deployment in a window, with their parsed feature columns.

    ``log`` keeps the inference log columns; ``current`` holds the feature columns and ``prediction``.
    """

    deployment: str
    start: datetime | None
    end: datetime | None
    log: pa.Table
    current: pa.Table

    @classmethod
    def of(cls, deployment: str, start: datetime | None, end: datetime | None, log: pa.Table) -> LogWindow:
        """The window over logged rows (:data:`CHECKED_COLUMNS`, oldest first), their features parsed."""
        return cls(deployment, start, end, log, current_columns(log))

    @property
    def rows(self) -> int:
        """Rows in the window."""
        return int(self.log.num_rows)

    def describe(self) -> dict[str, Any]:
        """Start, end and rows as JSON-ready values (start and end of the rows when unbounded)."""
        start, end = self.start, self.end
        if self.rows:
            stamps = self.log.column("timestamp")
            start = start or stamps[0].as_py()
            end = end or stamps[-1].as_py()
        return {
            "deployment": self.deployment,
            "start": None if start is None else start.isoformat(),
            "end": None if end is None else end.isoformat(),
            "rows": self.rows,
        }


def current_columns(log: pa.Table) -> pa.Table:
    """The logged features as columns, plus the logged ``prediction``."""
    if log.num_rows == 0:
        return pa.table({"prediction": pa.array([], pa.float64())})
    features = feature_columns(log)
    if "prediction" in features.column_names:
        features = features.drop_columns(["prediction"])
    return features.append_column("prediction", log.column("prediction"))
