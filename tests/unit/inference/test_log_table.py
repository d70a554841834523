"""The inference log table: appended batches, filters, labels (latest wins) and feature parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

import fti
from fti.errors import ValidationError
from fti.inference.log_table import InferenceLogTable, parse_features
from fti.inference.request_log import REQUEST_LOG_SCHEMA

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
    log = InferenceLogTable(project.offline_store)
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
    log = InferenceLogTable(project.offline_store)
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
    log = InferenceLogTable(project.offline_store)
    assert log.read("fraud", columns=["prediction"]).column_names == ["timestamp", "prediction"]
    log.write(_batch("fraud", 0, 3))
    assert log.read("fraud", columns=["prediction"]).column_names == ["timestamp", "prediction"]
