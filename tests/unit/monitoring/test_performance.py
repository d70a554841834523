"""Performance over time per model version: metrics equal scikit-learn's on each bucket."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from sklearn import metrics as sk

from fti.errors import ValidationError
from fti.monitoring.stats.performance import classification_metrics, performance_over_time, regression_metrics

START = datetime(2026, 3, 1, tzinfo=UTC)


def test_binary_classification_equals_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    score = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1).round(2)  # ties on purpose
    p = (score > 0.5).astype(int)
    ours = classification_metrics(y, p, scores=score)
    assert ours["accuracy"] == pytest.approx(sk.accuracy_score(y, p))
    assert ours["precision"] == pytest.approx(sk.precision_score(y, p))
    assert ours["recall"] == pytest.approx(sk.recall_score(y, p))
    assert ours["f1"] == pytest.approx(sk.f1_score(y, p))
    assert ours["roc_auc"] == pytest.approx(sk.roc_auc_score(y, score))


def test_multiclass_uses_macro_averages() -> None:
    rng = np.random.default_rng(2)
    y = rng.choice(["a", "b", "c"], 300)
    p = np.where(rng.random(300) < 0.7, y, rng.choice(["a", "b", "c"], 300))
    ours = classification_metrics(y, p)
    assert ours["precision"] == pytest.approx(sk.precision_score(y, p, average="macro"))
    assert ours["recall"] == pytest.approx(sk.recall_score(y, p, average="macro"))
    assert ours["f1"] == pytest.approx(sk.f1_score(y, p, average="macro"))
    assert "roc_auc" not in ours


def test_regression_equals_sklearn() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(10, 3, 200)
    p = y + rng.normal(0, 1, 200)
    ours = regression_metrics(y, p)
    assert ours["mse"] == pytest.approx(sk.mean_squared_error(y, p))
    assert ours["rmse"] == pytest.approx(math.sqrt(sk.mean_squared_error(y, p)))
    assert ours["mae"] == pytest.approx(sk.mean_absolute_error(y, p))
    assert ours["r2"] == pytest.approx(sk.r2_score(y, p))
    assert math.isnan(regression_metrics([1.0, 1.0], [1.0, 2.0])["r2"])


def _log(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    times = [START + timedelta(minutes=int(m)) for m in rng.integers(0, 180, rows)]
    label = rng.integers(0, 2, rows)
    version = rng.choice(["3", "4"], rows)
    # version 4 is right more often
    correct = rng.random(rows) < np.where(version == "4", 0.9, 0.7)
    prediction = np.where(correct, label, 1 - label)
    labels = pa.array(label, mask=rng.random(rows) < 0.1)  # labels not arrived yet
    return pa.table(
        {
            "ts": pa.array(times, pa.timestamp("us", tz="UTC")),
            "model_version": version,
            "prediction": prediction,
            "label": labels,
        }
    )


def test_metrics_per_version_and_hour_equal_sklearn_on_each_group() -> None:
    log = _log(3000, 4)
    points = performance_over_time(log, task="classification", timestamp="ts")
    assert [(p.version, p.start.hour) for p in points] == [("3", 0), ("3", 1), ("3", 2), ("4", 0), ("4", 1), ("4", 2)]
    frame = log.to_pandas().dropna(subset=["label"])
    assert sum(p.count for p in points) == len(frame)
    for point in points:
        group = frame[(frame.model_version == point.version) & (frame.ts.dt.hour == point.start.hour)]
        assert point.count == len(group)
        assert point.metrics["accuracy"] == pytest.approx(sk.accuracy_score(group.label, group.prediction))
        assert point.metrics["f1"] == pytest.approx(sk.f1_score(group.label, group.prediction))
        assert point.end - point.start == timedelta(hours=1)
    assert min(p.metrics["accuracy"] for p in points if p.version == "4") > max(
        p.metrics["accuracy"] for p in points if p.version == "3"
    )
    assert json.loads(json.dumps(points[0].to_dict()))["start"] == "2026-03-01T00:00:00+00:00"


def test_regression_over_time() -> None:
    times = pa.array([START, START + timedelta(minutes=10), START + timedelta(days=1)], pa.timestamp("us", tz="UTC"))
    table = pa.table(
        {"timestamp": times, "model_version": [1, 1, 1], "prediction": [1.0, 3.0, 5.0], "label": [2.0, 3.0, 4.0]}
    )
    points = performance_over_time(table, task="regression", every=timedelta(days=1))
    assert [(p.version, p.count, p.metrics["mae"]) for p in points] == [("1", 2, 0.5), ("1", 1, 1.0)]
    assert points[1].to_dict()["metrics"]["r2"] is None


def test_errors_name_the_columns() -> None:
    with pytest.raises(ValidationError, match=r"Labelled predictions have no column 'label', 'timestamp'"):
        performance_over_time(pa.table({"prediction": [1], "model_version": ["1"]}), task="classification")
    with pytest.raises(ValidationError, match=r"Unknown task 'ranking': use 'classification' or 'regression'"):
        performance_over_time(pa.table({}), task="ranking")  # type: ignore[arg-type]
