"""The inference log's queries: per-request latency, time buckets, spans, windows, labelled predictions, and new
rows seen after a recheck."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import fti
from fti.backends.offline.delta import TARGET_FILE_BYTES
from fti.inference_log import InferenceLog, LogSpan
from fti.inference_log.files import microseconds
from fti.inference_log.writer import LogRecord, to_table
from tests.inference_log_data import START, log_requests


def test_a_request_counts_once_however_many_rows_it_holds(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as project:
        log_requests(project, 0, 120, rows_per_request=3)
        found = project.inference_log.traffic("fraud", START, START + timedelta(hours=2), timedelta(hours=1))
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
        log = project.inference_log
        assert log.spans(max_age=60) == {}
        log_requests(project, 0, 10)  # written through this log: its next read sees them
        assert log.spans(max_age=60)["fraud"].rows == 10
        other = InferenceLog(project.offline_store)  # another writer (a model server's process, say)
        other.write(log.read("fraud").slice(0, 5).set_column(0, "request_id", pa.array([f"x{i}" for i in range(5)])))
        assert log.spans(max_age=60)["fraud"].rows == 10  # a look at the tables at most a minute old
        assert log.spans()["fraud"].rows == 15  # max_age=0: looks for new commits now
        other.write(log.read("fraud").slice(0, 1).set_column(0, "request_id", pa.array(["y"])))
        log.recheck()
        span = log.spans(max_age=60)["fraud"]
    assert span.rows == 16
    assert span.last == START + timedelta(minutes=9)


def test_nth_latest_time_bounds_a_window_by_rows(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as project:
        log_requests(project, 0, 30)
        end = START + timedelta(hours=1)
        log = project.inference_log
        assert log.nth_latest_time("fraud", START, end, 10) == START + timedelta(minutes=20)
        assert log.nth_latest_time("fraud", START, end, 31) is None
        assert log.nth_latest_time("fraud", None, None, 30) == START


def test_buckets_under_an_hour_read_the_rows_exactly(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as project:
        log_requests(project, 0, 60)
        found = project.inference_log.traffic("fraud", START, START + timedelta(hours=1), timedelta(minutes=15))
    served = [item for item in found.buckets if item["variant"] is None]
    assert [item["requests"] for item in served] == [15, 15, 15, 15]
    assert served[0]["p50_ms"] == 7.0 and served[0]["p99_ms"] == pytest.approx(13.86)


def _records(deployment: str, first: int, count: int, *, is_shadow: bool = False) -> list[LogRecord]:
    return [
        LogRecord(
            f"{deployment}-{index}",
            START + timedelta(minutes=index),
            deployment,
            f"{deployment}@shadow" if is_shadow else f"{deployment}@champion",
            deployment,
            1,
            pd.DataFrame({"amount": [float(index)]}),
            np.zeros(1),
            1.0,
            is_shadow,
        )
        for index in range(first, first + count)
    ]


def test_spans_of_files_that_mix_deployments_or_shadow_rows_count_non_shadow_rows(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as project:
        # one commit mixing two deployments and a shadow (its span needs its rows), one of fraud only (its footer)
        mixed = _records("fraud", 0, 10) + _records("fraud", 0, 10, is_shadow=True) + _records("other", 5, 3)
        project.inference_log.write(to_table(mixed))
        project.inference_log.write(to_table(_records("fraud", 10, 5)))
        spans = project.inference_log.spans()
    assert spans["fraud"] == LogSpan("fraud", 15, START, START + timedelta(minutes=14))
    assert spans["other"] == LogSpan("other", 3, START + timedelta(minutes=5), START + timedelta(minutes=7))


def test_a_request_split_between_the_files_of_one_commit_counts_once(tmp_path: Path) -> None:
    # a commit bigger than a data file is written as several files: one request ends up in two of them
    requests = 4
    rows = TARGET_FILE_BYTES * 5 // 4 // (requests * 120)
    noise = np.random.default_rng(0).bytes(requests * rows * 60).hex()  # incompressible, 120 characters a row
    text = [noise[start : start + 120] for start in range(0, len(noise), 120)]
    records = [
        LogRecord(
            f"big-{index}",
            START + timedelta(minutes=index),
            "fraud",
            "fraud@champion",
            "fraud",
            1,
            pd.DataFrame({"text": text[index * rows : (index + 1) * rows]}),
            np.zeros(rows),
            float(index + 1),
            False,
        )
        for index in range(requests)
    ]
    with fti.connect(tmp_path) as project:
        project.inference_log.write(to_table(records))
        assert len(project.offline_store.read("inference_log").files) > 1
        found = project.inference_log.traffic("fraud", START, START + timedelta(hours=1), timedelta(hours=1))
    totals = {item["variant"]: (item["requests"], item["rows"]) for item in found.variants}
    assert totals == {None: (requests, requests * rows), "fraud@champion": (requests, requests * rows)}


def test_the_latest_label_of_a_request_wins(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as project:
        log_requests(project, 0, 8)
        first = datetime(2026, 3, 2, tzinfo=UTC)
        labels = pa.table(
            {
                "request_id": [f"req-{index}" for index in range(8)],
                "deployment": ["fraud"] * 8,
                "label": [0.0] * 8,
                "labelled_at": [first] * 8,
            }
        )
        project.inference_log.write_labels(labels)
        relabelled = (
            labels.slice(0, 2)
            .set_column(2, "label", pa.array([1.0, 1.0]))
            .set_column(3, "labelled_at", pa.array([first + timedelta(hours=1)] * 2, pa.timestamp("us", tz="UTC")))
        )
        project.inference_log.write_labels(relabelled)
        found = project.inference_log.labelled_predictions("fraud", START, START + timedelta(hours=1))
    assert found.num_rows == 8
    assert sorted(found.column("label").to_pylist()) == [0.0] * 6 + [1.0] * 2
    assert set(found.column("model").to_pylist()) == {"fraud:1", "fraud:2"}


def test_hourly_traffic_reads_summaries_and_a_finer_query_only_the_files_of_its_window(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as project:
        for hour in range(3):
            log_requests(project, 60 * hour, 60)
        log = InferenceLog(project.offline_store)  # a reader that has read nothing yet
        whole = log.traffic("fraud", START, START + timedelta(hours=3), timedelta(hours=1))
        assert not any(file.is_read for file in log.files().files)  # from the summaries the log writer stored
        last_hour = START + timedelta(hours=2)
        fine = log.traffic("fraud", last_hour, last_hour + timedelta(hours=1), timedelta(minutes=5))
        read = sorted(file.first for file in log.files().files if file.is_read)
    assert [item["requests"] for item in whole.buckets if item["variant"] is None] == [60, 60, 60]
    assert sum(item["requests"] for item in fine.buckets if item["variant"] is None) == 60
    assert read == [microseconds(last_hour)]


def test_window_rows_are_the_rows_a_check_reads(tmp_path: Path) -> None:
    columns = ["timestamp", "model_name", "model_version", "features", "inputs", "prediction"]
    with fti.connect(tmp_path) as project:
        mixed = _records("fraud", 0, 10) + _records("fraud", 0, 10, is_shadow=True) + _records("other", 5, 3)
        project.inference_log.write(to_table(mixed))
        project.inference_log.write(to_table(_records("fraud", 10, 5)))
        start, end = START + timedelta(minutes=3), START + timedelta(minutes=12)
        found = project.inference_log.read("fraud", start, end, columns=columns)
        window = project.inference_log.read_window("fraud", start=start, end=end)
        last = project.inference_log.read_window("fraud", 4, start=start, end=end)
    assert found.num_rows == 9
    assert found.to_pydict() == window.log.select(columns).to_pydict()
    assert last.log.to_pydict() == found.slice(5).to_pydict() and last.start == START + timedelta(minutes=8)
    assert window.current.column("amount").to_pylist() == [float(index) for index in range(3, 12)]
