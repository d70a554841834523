"""Windows by time and by rows, and drift over time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from fti.errors import ValidationError
from fti.monitoring.stats.drift import DriftConfig, detect_drift
from fti.monitoring.stats.reference import build_reference
from fti.monitoring.stats.windows import detect_drift_and_windows, drift_over_time, split_windows

from .traffic import traffic


def _with_time(table: pa.Table, start: datetime, step: timedelta) -> pa.Table:
    times = [start + step * index for index in range(table.num_rows)]
    return table.append_column("ts", pa.array(times, pa.timestamp("us", tz="UTC")))


def test_row_windows_cover_the_table_in_order() -> None:
    table = traffic(250, 1)
    windows = split_windows(table, rows=100)
    assert [(w.start, w.end, w.table.num_rows) for w in windows] == [(0, 100, 100), (100, 200, 100), (200, 250, 50)]
    assert pa.concat_tables([w.table for w in windows]).equals(table)


def test_time_windows_are_epoch_aligned_and_skip_empty_buckets() -> None:
    table = _with_time(traffic(6, 1), datetime(2026, 3, 1, 10, 30, tzinfo=UTC), timedelta(minutes=40))
    # rows at 10:30, 11:10, 11:50, 12:30, 13:10, 13:50 -> hours 10, 11, 12, 13
    shuffled = table.take(pa.array([5, 0, 3, 1, 4, 2]))
    windows = split_windows(shuffled, every=timedelta(hours=1), timestamp="ts")
    assert [w.start for w in windows] == [datetime(2026, 3, 1, hour, tzinfo=UTC) for hour in (10, 11, 12, 13)]
    assert [w.table.num_rows for w in windows] == [1, 2, 1, 2]
    assert windows[1].describe() == {
        "start": "2026-03-01T11:00:00+00:00",
        "end": "2026-03-01T12:00:00+00:00",
        "rows": 2,
    }


def test_naive_timestamps_give_naive_windows() -> None:
    table = traffic(3, 1).append_column("ts", pa.array([datetime(2026, 1, 1, h) for h in (0, 5, 7)]))
    windows = split_windows(table, every=timedelta(hours=6), timestamp="ts")
    assert [w.start for w in windows] == [datetime(2026, 1, 1, 0), datetime(2026, 1, 1, 6)]


def test_drift_over_time_finds_the_hours_that_drifted() -> None:
    reference = build_reference(traffic(5000, 1))
    start = datetime(2026, 3, 1, tzinfo=UTC)
    calm = _with_time(traffic(3000, 2), start, timedelta(seconds=1.2))  # one hour
    moved = _with_time(
        traffic(3000, 3, shift=frozenset({"income"})), start + timedelta(hours=1), timedelta(seconds=1.2)
    )
    reports = drift_over_time(
        reference,
        pa.concat_tables([calm, moved]),
        every=timedelta(hours=1),
        timestamp="ts",
        columns=["income", "amount", "city"],
        config=DriftConfig(drift_share=0.3),
    )
    assert [r.window["rows"] for r in reports if r.window] == [3000, 3000]
    assert [r.drifted_features for r in reports] == [[], ["income"]]
    assert [r.dataset_drift for r in reports] == [False, True]
    by_rows = drift_over_time(reference, pa.concat_tables([calm, moved]).drop_columns(["ts"]), rows=3000)
    assert [r.features["income"].drifted for r in by_rows] == [False, True]
    assert np.isclose(by_rows[1].features["income"].score, reports[1].features["income"].score)


def test_one_pass_gives_the_whole_check_and_the_windows_in_any_row_order() -> None:
    reference = build_reference(traffic(5000, 1))
    start = datetime(2026, 3, 1, tzinfo=UTC)
    step = timedelta(seconds=1.8)
    calm = _with_time(traffic(2000, 2), start, step)
    moved = _with_time(traffic(2000, 3, shift=frozenset({"income"})), start + timedelta(hours=1), step)
    table = pa.concat_tables([calm, moved])
    shuffled = table.take(pa.array(np.random.default_rng(0).permutation(table.num_rows)))
    whole, windows = detect_drift_and_windows(
        reference, shuffled, every=timedelta(hours=1), timestamp="ts", columns=["income", "amount", "city"]
    )
    columns = ["income", "amount", "city"]
    expected = [detect_drift(reference, part, columns=columns) for part in (table, calm, moved)]
    for ours, theirs in zip([whole, *windows], expected, strict=True):
        assert ours.rows == theirs.rows and ours.drifted_features == theirs.drifted_features
        for name, result in ours.features.items():  # the same sums, added in another order
            assert np.isclose(result.score, theirs.features[name].score, rtol=1e-12)
            assert result.current == pytest.approx(theirs.features[name].current, rel=1e-12)
    assert [report.drifted_features for report in windows] == [[], ["income"]]


def test_window_errors_say_what_to_pass() -> None:
    table = traffic(10, 1)
    with pytest.raises(ValidationError, match=r"Give exactly one of every= \(a time window\) or rows="):
        split_windows(table)
    with pytest.raises(ValidationError, match=r"Time windows need the timestamp column: got timestamp=None"):
        split_windows(table, every=timedelta(hours=1))
    with pytest.raises(ValidationError, match=r"Column 'income' must be a timestamp without nulls"):
        split_windows(table, every=timedelta(hours=1), timestamp="income")
    with pytest.raises(ValidationError, match=r"A row window needs at least 1 row, got rows=0"):
        split_windows(table, rows=0)
