"""Training fixtures: scikit-learn's shipped datasets as splits, and a run logger that records calls."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from fti.training.ports import Splits


@dataclass
class RecordingRunLogger:
    """An in-memory RunLogger: keeps everything logged to it."""

    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    steps: list[tuple[str, float, int | None]] = field(default_factory=list)
    figures: dict[str, Figure] = field(default_factory=dict)
    dicts: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.params.update(params)

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        self.steps.append((key, float(value), step))
        if step is None:
            self.metrics[key] = float(value)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def log_figure(self, figure: Figure, name: str) -> None:
        self.figures[name] = figure

    def log_dict(self, data: Mapping[str, Any], name: str) -> None:
        self.dicts[name] = dict(data)

    def set_tag(self, key: str, value: str) -> None:
        self.tags[key] = value


def _splits(X: pd.DataFrame, y: pd.Series, *, stratify: bool) -> Splits:
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.2, random_state=42, stratify=y if stratify else None
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=0.2, random_state=42, stratify=y_rest if stratify else None
    )
    return Splits(train=(X_train, y_train), validation=(X_val, y_val), test=(X_test, y_test))


@pytest.fixture(scope="session")
def breast_cancer() -> Splits:
    """Binary classification: 569 rows, 30 numeric features."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return _splits(X, y, stratify=True)


@pytest.fixture(scope="session")
def wine() -> Splits:
    """Three-class classification: 178 rows, 13 numeric features."""
    X, y = load_wine(return_X_y=True, as_frame=True)
    return _splits(X, y, stratify=True)


@pytest.fixture(scope="session")
def diabetes() -> Splits:
    """Regression: 442 rows, 10 numeric features."""
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return _splits(X, y, stratify=False)


@pytest.fixture
def run() -> RecordingRunLogger:
    """A fresh recording run logger."""
    return RecordingRunLogger()


@pytest.fixture(autouse=True, scope="session")
def _one_thread_per_worker() -> Iterator[None]:
    """Tests share a few cores between workers: OpenMP pools spinning against each other only slow them."""
    try:
        import torch
    except ImportError:
        threads = None
    else:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    if threads is not None:
        torch.set_num_threads(threads)


@dataclass(frozen=True)
class FileTrialLoggers:
    """A picklable trial-logger factory: each trial's run is a JSON file in ``folder`` (works across processes)."""

    folder: Path

    @contextmanager
    def __call__(self, number: int) -> Iterator[RecordingRunLogger]:
        logger = RecordingRunLogger()
        yield logger
        record = {"number": number, "params": {k: str(v) for k, v in logger.params.items()}, "metrics": logger.metrics}
        (self.folder / f"trial-{number}-{os.getpid()}.json").write_text(json.dumps(record))

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(path.read_text()) for path in sorted(self.folder.glob("trial-*.json"))]
