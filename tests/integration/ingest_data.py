"""Event rows written as files or database rows for the ingestion tests, and the exactly-once check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv

from fti.features import FeatureGroup

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def events(start: int, rows: int) -> pa.Table:
    """Rows ``start`` to ``start + rows - 1``: an id, a UTC event time (one minute apart) and an amount."""
    ids = list(range(start, start + rows))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "ts": pa.array([T0 + timedelta(minutes=i) for i in ids], pa.timestamp("us", tz="UTC")),
            "amount": pa.array([i * 1.5 for i in ids], pa.float64()),
        }
    )


def event_records(start: int, rows: int) -> list[dict[str, Any]]:
    """The same rows as JSON records (times as ISO 8601 strings)."""
    return [
        {"id": row["id"], "ts": row["ts"].isoformat().replace("+00:00", "Z"), "amount": row["amount"]}
        for row in events(start, rows).to_pylist()
    ]


def write_csv(path: Path, start: int, rows: int) -> Path:
    """A CSV file of :func:`events` (times written as ISO 8601 with their zone)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pcsv.write_csv(events(start, rows), path)
    return path


def assert_exactly_once(group: FeatureGroup, ids: range) -> None:
    """The group holds every id of ``ids`` once, with its amount, and no other row."""
    frame = group.read()
    assert sorted(frame["id"].tolist()) == list(ids)
    assert frame["id"].is_unique
    assert (frame["amount"] == frame["id"] * 1.5).all()
