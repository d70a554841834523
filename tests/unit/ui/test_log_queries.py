"""The dashboard's inference-log aggregates: per-request latency, time buckets, and new rows seen after a recheck."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fti
from fti.inference.request_log import LogRecord, to_table
from fti.ui import log_queries

START = datetime(2026, 3, 1, tzinfo=UTC)


def _log(project: fti.Project, first: int, count: int, *, rows_per_request: int = 1) -> None:
    records = [
        LogRecord(
            f"req-{index}",
            START + timedelta(minutes=index),
            "fraud",
            "fraud@champion" if index % 4 else "fraud@challenger",
            "fraud",
            1 if index % 4 else 2,
            pd.DataFrame({"amount": np.full(rows_per_request, float(index))}),
            np.zeros(rows_per_request),
            float(index),
            False,
        )
        for index in range(first, first + count)
    ]
    project.monitoring.log.write(to_table(records))


def test_a_request_counts_once_however_many_rows_it_holds(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as project:
        _log(project, 0, 120, rows_per_request=3)
        found = log_queries.traffic(project, "fraud", START, START + timedelta(hours=2), timedelta(hours=1))
    served = [item for item in found.buckets if item["variant"] is None]
    assert [(item["start"], item["requests"], item["rows"]) for item in served] == [
        ("2026-03-01T00:00:00+00:00", 60, 180),
        ("2026-03-01T01:00:00+00:00", 60, 180),
    ]
    assert served[0]["p50_ms"] == pytest.approx(29.5, rel=0.05)  # latencies 0..59, once per request, binned
    totals = {item["variant"]: item["requests"] for item in found.variants}
    assert totals == {None: 120, "fraud@champion": 90, "fraud@challenger": 30}
    assert found.errors is None


def test_new_rows_show_after_a_recheck(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as project:
        assert log_queries.log_spans(project) == {}
        _log(project, 0, 10)
        log_queries.recheck(project)
        assert log_queries.log_spans(project)["fraud"].rows == 10
        _log(project, 10, 5)
        log_queries.recheck(project)
        span = log_queries.log_spans(project)["fraud"]
    assert span.rows == 15
    assert span.last == START + timedelta(minutes=14)


def test_nth_latest_time_bounds_a_window_by_rows(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as project:
        _log(project, 0, 30)
        end = START + timedelta(hours=1)
        assert log_queries.nth_latest_time(project, "fraud", START, end, 10) == START + timedelta(minutes=20)
        assert log_queries.nth_latest_time(project, "fraud", START, end, 31) is None


def test_buckets_under_an_hour_read_the_rows_exactly(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as project:
        _log(project, 0, 60)
        found = log_queries.traffic(project, "fraud", START, START + timedelta(hours=1), timedelta(minutes=15))
    served = [item for item in found.buckets if item["variant"] is None]
    assert [item["requests"] for item in served] == [15, 15, 15, 15]
    assert served[0]["p50_ms"] == 7.0 and served[0]["p99_ms"] == pytest.approx(13.86)
