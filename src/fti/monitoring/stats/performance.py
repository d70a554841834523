"""Model performance over time per model version, from logged predictions joined with their labels.

Classification: accuracy, precision, recall, F1 (of the positive class for two classes, macro-averaged
otherwise) and ROC-AUC when a score column is given. Regression: MSE, RMSE, MAE and R². Each metric is
computed per (model version, time bucket), vectorized within the group, by :mod:`fti.monitoring.stats.metrics`,
the implementation training evaluates with.

Example:
    >>> points = performance_over_time(log, task="classification", score="proba")  # doctest: +SKIP
    >>> [(p.version, p.start, p.metrics["f1"]) for p in points]  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from fti.errors import ValidationError
from fti.monitoring.stats.columns import TableLike, as_table
from fti.monitoring.stats.metrics import (
    ArrayLike,
    accuracy,
    averaged,
    class_scores,
    confusion_matrix,
    regression_metrics,
    roc_auc,
)
from fti.monitoring.stats.windows import time_buckets

__all__ = [
    "PerformancePoint",
    "Task",
    "classification_metrics",
    "infer_task",
    "performance_over_time",
    "regression_metrics",
]

Task = Literal["classification", "regression"]
#: labels with at most this many distinct whole numbers are classes
_MAX_CLASSES = 20


def infer_task(labels: pa.ChunkedArray | pa.Array) -> Task:
    """Classification when every label is a whole number and there are at most 20 of them, else regression."""
    values = np.asarray(labels.to_numpy(zero_copy_only=False), dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size and np.all(values == np.floor(values)) and np.unique(values).size <= _MAX_CLASSES:
        return "classification"
    return "regression"


def classification_metrics(
    labels: ArrayLike, predictions: ArrayLike, *, scores: ArrayLike | None = None, positive: object = 1
) -> dict[str, float]:
    """Accuracy, precision, recall, F1 and (with ``scores`` of the positive class, two classes) ROC-AUC, computed by
    :mod:`fti.monitoring.stats.metrics` (as training's evaluation is).

    With at most two classes, precision, recall and F1 are those of ``positive``; with more, their macro
    average over the classes seen in labels or predictions. An undefined ratio (no predicted positives) is 0.
    """
    y, p = np.asarray(labels), np.asarray(predictions)
    seen = np.unique(np.concatenate([y, p]))
    found = {"accuracy": accuracy(y, p)}
    if seen.size <= 2:
        classes = list(dict.fromkeys([*seen.tolist(), positive]))
        per_class = class_scores(confusion_matrix(y, p, classes))
        at = classes.index(positive)
        found |= {
            "precision": float(per_class.precision[at]),
            "recall": float(per_class.recall[at]),
            "f1": float(per_class.f1[at]),
        }
    else:
        found |= averaged(class_scores(confusion_matrix(y, p, seen)), "macro")
    if scores is not None and seen.size <= 2:
        found["roc_auc"] = roc_auc(y == positive, np.asarray(scores, dtype=np.float64))
    return found


@dataclass(frozen=True, slots=True)
class PerformancePoint:
    """The metrics of one model version over one time bucket (``start`` <= t < ``end``)."""

    version: str
    start: datetime
    end: datetime
    count: int
    metrics: Mapping[str, float]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN metrics become null)."""
        return {
            "version": self.version,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "count": self.count,
            "metrics": {name: (None if math.isnan(value) else value) for name, value in self.metrics.items()},
        }


def performance_over_time(
    data: TableLike,
    *,
    task: Task,
    prediction: str = "prediction",
    label: str = "label",
    timestamp: str = "timestamp",
    version: str = "model_version",
    score: str | None = None,
    every: timedelta = timedelta(hours=1),
    positive: object = 1,
) -> list[PerformancePoint]:
    """Metrics per model version and time bucket over labelled predictions.

    Rows without a label (not arrived yet) are left out.

    Args:
        data: predictions with their labels: an Arrow table or a pandas/Polars DataFrame.
        task: ``classification`` or ``regression``.
        prediction: the predicted value (class or number).
        label: the ground truth.
        timestamp: when the prediction was made.
        version: the model version that made it.
        score: the positive-class score, for ROC-AUC (classification).
        every: the bucket width (buckets align to the epoch).
        positive: the positive class (classification with two classes).

    Returns:
        Points ordered by version, then time.
    """
    if task not in ("classification", "regression"):
        raise ValidationError(f"Unknown task {task!r}: use 'classification' or 'regression'.")
    table = as_table(data, what="labelled predictions")
    wanted = [prediction, label, timestamp, version, *([score] if score else [])]
    missing = [name for name in wanted if name not in table.column_names]
    if missing:
        raise ValidationError(
            f"Labelled predictions have no column {', '.join(repr(name) for name in missing)} "
            f"(columns: {', '.join(table.column_names)}). Name the columns with prediction=, label=, timestamp=, "
            "version= and score=."
        )
    table = table.filter(table.column(label).is_valid())
    buckets, start_of = time_buckets(table, timestamp, every)
    versions = np.asarray(table.column(version).cast("string").to_numpy(zero_copy_only=False), dtype=object)
    labels = table.column(label).to_numpy(zero_copy_only=False)
    predictions = table.column(prediction).to_numpy(zero_copy_only=False)
    scores = table.column(score).to_numpy(zero_copy_only=False) if score else None
    names, version_codes = np.unique(versions.astype(str), return_inverse=True)
    order = np.lexsort((buckets, version_codes))
    keys = np.stack([version_codes[order], buckets[order]], axis=1)
    cuts = np.flatnonzero(np.any(np.diff(keys, axis=0) != 0, axis=1)) + 1
    points = []
    for rows in np.split(order, cuts) if order.size else []:
        if task == "classification":
            metrics = classification_metrics(
                labels[rows], predictions[rows], scores=None if scores is None else scores[rows], positive=positive
            )
        else:
            metrics = regression_metrics(labels[rows], predictions[rows])
        start = start_of(int(buckets[rows[0]]))
        points.append(PerformancePoint(str(names[version_codes[rows[0]]]), start, start + every, rows.size, metrics))
    return points
