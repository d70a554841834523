"""A real project for the closed-loop tests: feature groups, a feature view, a training dataset, and a
LogisticRegression registered as v1 with alias champion; inference-log rows written like the server's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.linear_model import LogisticRegression

import fti
from fti.inference_log import REQUEST_LOG_SCHEMA
from fti.registry.version import ModelVersion

FEATURES = [f"x{index}" for index in range(8)]
DEPLOYMENT = "scoring"
MODEL = "scorer"
START = datetime(2026, 3, 1, tzinfo=UTC)


def make_frames(rows: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(rows), unit="min")
    values = rng.normal(0.0, 1.0, (rows, len(FEATURES)))
    features = pd.DataFrame(values, columns=FEATURES).assign(entity=np.arange(rows), ts=ts)
    target = (values[:, 0] + values[:, 1] + 0.5 * rng.normal(size=rows) > 0).astype(np.int64)
    labels = pd.DataFrame({"entity": np.arange(rows), "ts": ts + pd.Timedelta(seconds=1), "target": target})
    return features, labels


def build_project(project: fti.Project) -> ModelVersion:
    """Features -> feature view -> training dataset -> LogisticRegression v1 as champion."""
    features, labels = make_frames()
    group = project.create_feature_group("signals", primary_key=["entity"], event_time="ts")
    group.insert(features)
    outcomes = project.create_feature_group("outcomes", primary_key=["entity"], event_time="ts")
    outcomes.insert(labels)
    view = project.create_feature_view(
        MODEL, query=outcomes.select(["target"]).join(group.select(FEATURES)), labels=["target"]
    )
    td = view.create_training_data(split={"train": 0.8, "test": 0.2}, split_by="random", seed=1)
    X, y = td.train
    with project.start_run(MODEL, training_data=td) as run:
        version = run.log_model(LogisticRegression().fit(X[FEATURES], y), MODEL)
    version.set_alias("champion")
    return version


def traffic(rows: int, *, seed: int, shift: dict[str, float] | None = None) -> pd.DataFrame:
    """Model inputs like the training data, with the named features shifted by that many std."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(0.0, 1.0, (rows, len(FEATURES))), columns=FEATURES)
    for name, amount in (shift or {}).items():
        frame[name] = frame[name] + amount
    return frame


def true_labels(inputs: pd.DataFrame, seed: int) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed + 1000)
    noise = 0.5 * rng.normal(size=len(inputs))
    return np.asarray(inputs["x0"] + inputs["x1"] + noise > 0, dtype=np.int64)


def log_rows(
    project: fti.Project,
    model: ModelVersion,
    inputs: pd.DataFrame,
    *,
    start: datetime = START,
    prefix: str = "r",
    predictions: np.ndarray[Any, Any] | None = None,
    is_shadow: bool = False,
    scores: np.ndarray[Any, Any] | None = None,
) -> list[str]:
    """Write one batch to the inference log with the server's exact schema; returns the request ids."""
    rows = len(inputs)
    predicted = np.asarray(model.predict(inputs) if predictions is None else predictions, dtype=np.float64)
    ids = [f"{prefix}-{index}" for index in range(rows)]
    table = pa.table(
        {
            "request_id": ids,
            "timestamp": pa.array(
                [start + timedelta(seconds=index) for index in range(rows)], pa.timestamp("us", "UTC")
            ),
            "deployment": [DEPLOYMENT] * rows,
            "variant": [f"{model.name}:{model.version}"] * rows,
            "model_name": [model.name] * rows,
            "model_version": pa.array([model.version] * rows, pa.int64()),
            "features": [json.dumps(record) for record in inputs.to_dict(orient="records")],
            "prediction": predicted,
            "latency_ms": pa.array(np.full(rows, 1.5)),
            "is_shadow": [is_shadow] * rows,
        },
        schema=REQUEST_LOG_SCHEMA,
    )
    if scores is not None:  # the positive-class score, as a deployment answering class scores logs it
        table = table.append_column("score", pa.array(np.asarray(scores, dtype=np.float64)))
    project.inference_log.write(table)
    return ids
