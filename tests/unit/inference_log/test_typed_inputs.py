"""Typed log columns: the server logs each row's features in the ``inputs`` struct, one typed field per feature;
what cannot be typed (another type than the table holds, a timestamp, a name Delta refuses) stays in the JSON text;
logs written before the struct (JSON only) stay readable beside new ones, and a check over the typed log finds what
it finds over the same rows logged as JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fti
from fti.errors import ValidationError
from fti.inference_log import REQUEST_LOG_SCHEMA
from fti.inference_log.features import feature_columns, parse_features
from fti.inference_log.inputs import split_features
from fti.inference_log.window import CHECKED_COLUMNS
from fti.inference_log.writer import LogRecord, to_table
from fti.monitoring.stats.reference import build_reference

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _record(index: int, features: pd.DataFrame, deployment: str = "fraud") -> LogRecord:
    predictions = np.linspace(0.0, 1.0, len(features))
    return LogRecord(
        f"r{index}", T0 + timedelta(seconds=index), deployment, "m@1", "m", 1, features, predictions, 1.0, False
    )


def _as_json_only(table: pa.Table) -> pa.Table:
    """The same rows as a log written before typed inputs: every feature in the JSON text, no struct."""
    frame = feature_columns(table).to_pandas()
    lines = frame.to_json(orient="records", lines=True).splitlines()
    return table.drop_columns(["inputs"]).set_column(6, "features", pa.array(lines, pa.string()))


def _frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": np.round(rng.normal(shift, 1.0, rows), 6),
            "count": rng.integers(0, 5, rows),
            "country": rng.choice(["DE", "FR", "IT"], rows),
            "is_new": rng.random(rows) < 0.3,
        }
    )


def test_typed_features_are_written_as_a_struct_and_read_back_as_columns(tmp_path: Path) -> None:
    frame = _frame(50, 0)
    with fti.connect(tmp_path) as project:
        project.inference_log.write(to_table([_record(0, frame)]))
        logged = project.inference_log.read("fraud", columns=CHECKED_COLUMNS)
        [file] = project.inference_log.files().files
        with file.filesystem.open_input_file(file.path) as source:
            stored = pq.ParquetFile(source).schema_arrow
    struct = stored.field("inputs").type
    assert {field.name: str(field.type) for field in struct} == {
        "amount": "double",
        "count": "int64",
        "country": "string",
        "is_new": "bool",
    }
    assert set(logged.column("features").to_pylist()) == {"{}"}  # nothing left as JSON
    assert feature_columns(logged).to_pandas().equals(frame)


def test_old_json_logs_and_typed_logs_read_together(tmp_path: Path) -> None:
    old, new = _frame(20, 1), _frame(30, 2)
    with fti.connect(tmp_path) as project:
        log = project.inference_log
        log.write(_as_json_only(to_table([_record(0, old)])))  # a log written before typed inputs
        assert "inputs" not in log.read("fraud").column_names
        assert feature_columns(log.read("fraud", columns=CHECKED_COLUMNS)).to_pandas().equals(old)
        log.write(to_table([_record(100, new)]))
        window = log.read_window("fraud")
    both = pd.concat([old, new], ignore_index=True)
    assert window.rows == 50
    assert window.current.drop_columns(["prediction"]).to_pandas().equals(both)


def test_a_feature_logged_under_another_type_goes_to_json_and_reads_as_one_column(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as project:
        log = project.inference_log
        log.write(to_table([_record(0, pd.DataFrame({"code": [1.5, 2.5], "key": [1, 2]}))]))
        # "code" as text, "Key" differing by case only, a timestamp: none can join the table's struct
        odd = pd.DataFrame({"code": ["x"], "Key": [3], "key": [4], "when": [pd.Timestamp("2026-01-01")]})
        log.write(to_table([_record(1, odd)]))
        # a whole number where floats are logged is cast, a new feature joins the struct
        log.write(to_table([_record(2, pd.DataFrame({"code": [7], "key": [5], "extra": [True]}))]))
        logged = log.read("fraud", columns=CHECKED_COLUMNS)
    struct = logged.schema.field("inputs").type
    assert {field.name: str(field.type) for field in struct} == {
        "code": "double",
        "key": "int64",
        "extra": "bool",
    }
    assert logged.column("features").to_pylist()[2] != "{}"
    columns = feature_columns(logged).to_pydict()
    assert columns["code"] == ["1.5", "2.5", "x", "7"]  # numbers and text in one column: as text
    assert columns["key"] == [1, 2, 4, 5]
    assert columns["Key"] == [None, None, 3, None]
    assert columns["extra"] == [None, None, None, True]
    assert columns["when"][2] is not None and columns["when"][0] is None


def test_records_of_different_types_in_one_batch_keep_the_first_type() -> None:
    table = to_table(
        [
            _record(0, pd.DataFrame({"a": [1, 2], "b": ["u", "v"]})),
            _record(1, pd.DataFrame({"a": ["text"], "c": [0.5]})),
            _record(2, pd.DataFrame({"a": [2.5]})),
        ]
    )
    struct = table.schema.field("inputs").type
    assert {field.name: str(field.type) for field in struct} == {"a": "int64", "b": "string", "c": "double"}
    columns = feature_columns(table).to_pydict()
    assert columns["a"] == ["1", "2", "text", "2.5"]
    assert columns["b"] == ["u", "v", None, None] and columns["c"] == [None, None, 0.5, None]


def test_features_that_cannot_be_typed_stay_json() -> None:
    frame = pd.DataFrame(
        {"has space": [1.0], "nested": [[1, 2]], "none": [None], "big": np.array([2**64 - 1], dtype=np.uint64)}
    )
    split = split_features(frame)
    assert "inputs" not in split.column_names
    assert (
        feature_columns(split).to_pydict()
        == feature_columns(pa.table({"features": split.column("features")})).to_pydict()
    )
    assert set(feature_columns(split).column_names) == {"has space", "nested", "none", "big"}


def test_a_struct_that_is_not_one_is_refused_and_nothing_written(tmp_path: Path) -> None:
    batch = to_table([_record(0, _frame(3, 0))])
    broken = batch.set_column(batch.schema.get_field_index("inputs"), "inputs", pa.array(["a", "b", "c"]))
    with fti.connect(tmp_path) as project:
        with pytest.raises(ValidationError, match="must be a struct"):
            project.inference_log.write(broken)
        assert project.inference_log.read().num_rows == 0


def test_a_replayed_typed_batch_is_logged_once(tmp_path: Path) -> None:
    batch = to_table([_record(0, _frame(5, 0)), _record(1, _frame(5, 1))])
    with fti.connect(tmp_path) as project:
        log = project.inference_log
        log.write(batch.slice(0, 5))
        assert log.write_new(batch) == 5
        logged = log.read("fraud", columns=CHECKED_COLUMNS)
    assert logged.num_rows == 10
    assert feature_columns(logged).to_pandas().equals(feature_columns(batch).to_pandas())


def test_monitoring_finds_the_same_over_typed_and_json_logs(tmp_path: Path) -> None:
    records = [_record(index, _frame(400, index, shift=0.8)) for index in range(5)]
    typed = to_table(records)
    reference = build_reference(
        pa.Table.from_pandas(_frame(3000, 99)).append_column("prediction", pa.array(np.linspace(0.0, 1.0, 3000)))
    )
    results = []
    for name, batch in (("typed", typed), ("json", _as_json_only(typed))):
        with fti.connect(tmp_path / name) as project:
            project.inference_log.write(batch)
            result = project.monitor("fraud", reference, over_time=500)
        results.append(result)
    typed_result, json_result = results
    assert "amount" in typed_result.drifted_features
    assert typed_result.drift.to_dict() == json_result.drift.to_dict()
    assert typed_result.quality.to_dict() == json_result.quality.to_dict()
    assert [r.to_dict() for r in typed_result.over_time] == [r.to_dict() for r in json_result.over_time]


def test_another_deployments_features_are_not_this_ones(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as project:
        log = project.inference_log
        log.write(to_table([_record(0, _frame(4, 0)), _record(1, pd.DataFrame({"z": [1.0]}), deployment="other")]))
        fraud = log.read_window("fraud").current
        other = log.read_window("other").current
    assert fraud.column_names == ["amount", "count", "country", "is_new", "prediction"]
    assert other.column_names == ["z", "prediction"]
    assert REQUEST_LOG_SCHEMA.field("features").type == pa.string()


def test_a_writer_that_missed_another_writers_type_retries_with_it(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as first, fti.connect(tmp_path) as second:
        first.inference_log.write(to_table([_record(0, pd.DataFrame({"k": [1]}))]))  # each has looked at the table
        second.inference_log.write(to_table([_record(1, pd.DataFrame({"k": [2]}))]))
        first.inference_log.write(to_table([_record(2, pd.DataFrame({"x": [1.5]}))]))
        # the second writer does not know "x" is a float: its string "x" is refused by the table, then logged as JSON
        second.inference_log.write(to_table([_record(3, pd.DataFrame({"x": ["text"]}))]))
        logged = first.inference_log.read("fraud", columns=CHECKED_COLUMNS)
    assert logged.schema.field("inputs").type == pa.struct([("k", pa.int64()), ("x", pa.float64())])
    assert feature_columns(logged).column("x").to_pylist() == [None, None, "1.5", "text"]


def test_rows_whose_json_is_empty_parse_to_no_columns() -> None:
    assert parse_features(pa.table({"features": ["{}", "{}"]})).num_columns == 0
