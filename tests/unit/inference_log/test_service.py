"""The inference log service: appended batches, filters, labels (latest wins), feature parsing, how fresh a read
is, and its one cache, bounded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

import fti
from fti.errors import ValidationError
from fti.inference_log import REQUEST_LOG_SCHEMA, STORED_LOG_SCHEMA, InferenceLog
from fti.inference_log.features import parse_features

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _batch(deployment: str, start: int, rows: int, *, shadow: bool = False) -> pa.Table:
    return pa.table(
        {
            "request_id": [f"r{start + i}" for i in range(rows)],
            "timestamp": [T0 + timedelta(minutes=start + i) for i in range(rows)],
            "deployment": [deployment] * rows,
            "variant": ["m@champion"] * rows,
            "model_name": ["m"] * rows,
            "model_version": [1] * rows,
            "features": [f'{{"amount": {start + i}.5, "country": "DE"}}' for i in range(rows)],
            "prediction": [0.1] * rows,
            "latency_ms": [1.0] * rows,
            "is_shadow": [shadow] * rows,
        },
        schema=REQUEST_LOG_SCHEMA,
    )


def test_batches_append_and_filter(project: fti.Project) -> None:
    log = project.inference_log
    assert log.read("fraud").num_rows == 0
    log.write(_batch("fraud", 0, 5))
    log.write(_batch("fraud", 5, 5, shadow=True))
    log.write(_batch("other", 10, 3))
    assert log.read("fraud").num_rows == 5
    assert log.read("fraud", include_shadow=True).num_rows == 10
    window = log.read("fraud", start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3))
    assert window.column("request_id").to_pylist() == ["r1", "r2"]
    assert log.read().num_rows == 8


def test_features_parse_to_columns(project: fti.Project) -> None:
    features = parse_features(_batch("fraud", 0, 3))
    assert features.column("amount").to_pylist() == [0.5, 1.5, 2.5]
    assert features.column("country").to_pylist() == ["DE"] * 3


def test_latest_label_wins_and_bad_labels_are_refused(project: fti.Project) -> None:
    log = project.inference_log
    log.write_labels(pa.table({"request_id": ["r1", "r2"], "deployment": ["fraud"] * 2, "label": [0.0, 1.0]}))
    log.write_labels(pa.table({"request_id": ["r1"], "deployment": ["fraud"], "label": [1.0]}))
    labels = log.read_labels("fraud")
    assert dict(zip(labels.column("request_id").to_pylist(), labels.column("label").to_pylist(), strict=True)) == {
        "r1": 1.0,
        "r2": 1.0,
    }
    with pytest.raises(ValidationError, match="missing: label"):
        log.write_labels(pa.table({"request_id": ["r3"], "deployment": ["fraud"]}))


def _features_log(lines: list[str]) -> pa.Table:
    batch = _batch("fraud", 0, len(lines))
    index = batch.schema.get_field_index("features")
    return batch.set_column(index, "features", pa.array(lines, pa.string()))


def test_features_keep_their_json_types() -> None:
    lines = [
        json.dumps({"amount": 1.5, "count": 3, "is_new": True, "city": "Berlin", 'it\'s "odd"': 2.0}),
        json.dumps({"amount": 2, "count": 4, "is_new": False, "city": None, 'it\'s "odd"': 1.0}),
    ]
    features = parse_features(_features_log(lines))
    assert features.schema == pa.schema(
        [
            ("amount", pa.float64()),
            ("count", pa.int64()),
            ("is_new", pa.bool_()),
            ("city", pa.string()),
            ('it\'s "odd"', pa.float64()),
        ]
    )
    assert features.column("amount").to_pylist() == [1.5, 2.0]
    assert features.column("city").to_pylist() == ["Berlin", None]


def test_a_value_that_does_not_fit_its_column_reads_as_null() -> None:
    lines = [json.dumps({"amount": float(index), "code": index}) for index in range(2000)]
    lines[1] = json.dumps({"amount": "lots", "code": 1.5})  # row 1 is outside the sample of 1000 rows
    features = parse_features(_features_log(lines))
    assert features.column("amount").null_count == 1 and features.column("amount")[1].as_py() is None
    assert features.column("code").type == pa.float64()  # 1.5 is not whole: no silent rounding to an integer
    assert features.column("code")[1].as_py() == 1.5


def test_nested_values_fall_back_to_full_type_inference() -> None:
    features = parse_features(_features_log([json.dumps({"amount": 1.0, "tags": ["a", "b"]})]))
    assert features.column("tags").to_pylist() == [["a", "b"]]


def test_reading_some_columns(project: fti.Project) -> None:
    log = project.inference_log
    assert log.read("fraud", columns=["prediction"]).column_names == ["timestamp", "prediction"]
    log.write(_batch("fraud", 0, 3))
    assert log.read("fraud", columns=["prediction"]).column_names == ["timestamp", "prediction"]


def test_reading_every_deployment_and_unbounded_windows(project: fti.Project) -> None:
    log = project.inference_log
    log.write(_batch("fraud", 0, 4))
    log.write(_batch("other", 4, 2, shadow=True))
    assert log.read().column("request_id").to_pylist() == ["r0", "r1", "r2", "r3"]
    assert log.read(include_shadow=True).num_rows == 6
    assert log.read("fraud", end=T0 + timedelta(minutes=2)).column("request_id").to_pylist() == ["r0", "r1"]
    assert log.read("fraud").column_names == STORED_LOG_SCHEMA.names
    assert sorted(log.request_ids("other").to_pylist()) == ["r4", "r5"]


def test_the_columns_kept_in_memory_stay_within_their_budget(project: fti.Project) -> None:
    for start in range(0, 40, 10):
        project.inference_log.write(_batch("fraud", start, 10))
    whole = InferenceLog(project.offline_store)
    assert whole.read("fraud").num_rows == 40
    one_file = max(file.nbytes for file in whole.files().files)
    small = InferenceLog(project.offline_store, max_column_bytes=2 * one_file)
    assert small.read("fraud").to_pydict() == whole.read("fraud").to_pydict()
    assert 0 < small.cached_bytes <= 2 * one_file
    assert sum(file.is_read for file in small.files().files) == 2  # the files read longest ago forgot theirs
    assert small.read("fraud", T0, T0 + timedelta(minutes=5)).num_rows == 5  # read again when needed


def test_results_are_kept_until_the_log_changes_and_at_most_so_many(project: fti.Project) -> None:
    log = InferenceLog(project.offline_store, max_results=2)
    log.write(_batch("fraud", 0, 3))
    calls: list[int] = []

    def count() -> int:
        calls.append(1)
        return len(calls)

    assert log.remember(("a",), count) == log.remember(("a",), count) == 1
    log.remember(("b",), count)
    log.remember(("c",), count)  # ("a",) is the least recently used of three: out
    assert log.remember(("a",), count) == 4
    log.write(_batch("fraud", 3, 1))
    assert log.remember(("a",), count) == 5  # a new version of the log: computed anew


def test_a_log_with_a_key_of_mixed_types_stays_readable(project: fti.Project) -> None:
    # logged before the server refused such requests: one string among integer keys
    batch = _batch("fraud", 0, 6)
    texts = [json.dumps({"cc_num": index, "amount": index + 0.5}) for index in range(5)]
    texts.append(json.dumps({"cc_num": "a", "amount": 1}))
    project.inference_log.write(batch.set_column(6, "features", pa.array(texts)))
    window = project.inference_log.read_window("fraud", 6)
    assert window.current.column("cc_num").to_pylist() == ["0", "1", "2", "3", "4", "a"]
    assert window.current.column("amount").to_pylist() == [0.5, 1.5, 2.5, 3.5, 4.5, 1.0]


def test_a_log_written_before_the_score_column_takes_scores_and_reads_its_old_rows_as_null(
    project: fti.Project,
) -> None:
    # a log as an earlier version wrote it: the table has no score column at all
    old = _batch("fraud", 0, 3)
    project.offline_store.write("inference_log", pa.RecordBatchReader.from_batches(old.schema, old.to_batches()))
    log = project.inference_log
    scored = _batch("fraud", 3, 2).append_column("score", pa.array([0.25, 0.75]))
    log.write(scored)
    log.write(_batch("fraud", 5, 1))  # a batch without scores (a deployment answering labels)
    log.write_labels(
        pa.table({"request_id": [f"r{i}" for i in range(6)], "deployment": ["fraud"] * 6, "label": [1.0] * 6})
    )

    read = log.read("fraud").to_pydict()
    assert dict(zip(read["request_id"], read["score"], strict=True)) == {
        "r0": None,
        "r1": None,
        "r2": None,
        "r3": 0.25,
        "r4": 0.75,
        "r5": None,
    }
    labelled = log.labelled_predictions("fraud").to_pydict()
    assert sorted(score for score in labelled["score"] if score is not None) == [0.25, 0.75]
    assert labelled["score"].count(None) == 4
