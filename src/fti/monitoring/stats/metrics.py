"""Classification and regression metrics: the one implementation that training's evaluation and monitoring's
performance over time both compute with, so a model's test metrics and its live metrics mean the same thing.

Everything is counted from a confusion matrix or from ranks in numpy (no per-row Python), with scikit-learn's
definitions: precision, recall and F1 are 0 where their denominator is (``zero_division=0``); a macro average
weighs every class alike, a weighted one by its support; ROC-AUC averages tied scores' ranks (one-vs-rest and
macro-averaged for several classes); log loss clips probabilities to ``[eps, 1 - eps]``. Tests hold them to
scikit-learn's results. Monitoring computes them per model version and time bucket, thousands of small groups,
where scikit-learn's input checks would cost more than the counting.

Example:
    >>> counts = confusion_matrix([0, 1, 1, 0], [0, 1, 0, 0], classes=[0, 1])
    >>> counts.tolist()
    [[2, 0], [1, 1]]
    >>> round(class_scores(counts).f1[1], 3)
    0.667
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "ClassScores",
    "accuracy",
    "averaged",
    "class_scores",
    "confusion_matrix",
    "log_loss",
    "regression_metrics",
    "roc_auc",
    "roc_auc_ovr",
]

ArrayLike = npt.ArrayLike
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def accuracy(labels: ArrayLike, predictions: ArrayLike) -> float:
    """The share of predictions equal to their label (NaN for no rows)."""
    y, p = np.asarray(labels), np.asarray(predictions)
    return float(np.mean(y == p)) if y.size else math.nan


def confusion_matrix(
    labels: ArrayLike, predictions: ArrayLike, classes: ArrayLike | None = None
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Counts of (true class, predicted class): rows are true classes, columns predicted ones, in the order of
    ``classes`` (default: every value seen in labels or predictions, sorted). Rows whose label or prediction is not
    among ``classes`` are left out."""
    y, p = np.asarray(labels), np.asarray(predictions)
    chosen = np.unique(np.concatenate([y, p])) if classes is None else np.asarray(classes)
    order = np.argsort(chosen, kind="stable")
    ranked = chosen[order]
    true_at, predicted_at = _positions(ranked, y), _positions(ranked, p)
    known = (true_at >= 0) & (predicted_at >= 0)
    size = len(chosen)
    cells = order[true_at[known]] * size + order[predicted_at[known]]
    counts: np.ndarray[Any, np.dtype[np.int64]] = np.bincount(cells, minlength=size * size).reshape(size, size)
    return counts.astype(np.int64)


def _positions(ranked: np.ndarray[Any, Any], values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Each value's index in the sorted ``ranked``, or -1 where it is not there."""
    if not len(ranked):
        return np.full(len(values), -1)
    found = np.clip(np.searchsorted(ranked, values), 0, len(ranked) - 1)
    return np.where(ranked[found] == values, found, -1)


@dataclass(frozen=True, slots=True)
class ClassScores:
    """Precision, recall, F1 and support (true rows) of each class of a confusion matrix, in its order."""

    precision: FloatArray
    recall: FloatArray
    f1: FloatArray
    support: FloatArray


def class_scores(counts: np.ndarray[Any, Any]) -> ClassScores:
    """Precision, recall and F1 per class of a confusion matrix (0 where a denominator is 0)."""
    matrix = np.asarray(counts, dtype=np.float64)
    hits = np.diag(matrix)
    actual, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    return ClassScores(
        precision=_ratio(hits, predicted),
        recall=_ratio(hits, actual),
        f1=_ratio(2 * hits, actual + predicted),
        support=actual,
    )


def _ratio(top: FloatArray, bottom: FloatArray) -> FloatArray:
    found: FloatArray = np.divide(top, bottom, out=np.zeros_like(top), where=bottom > 0)
    return found


def averaged(scores: ClassScores, average: str) -> dict[str, float]:
    """``precision``, ``recall`` and ``f1`` averaged over the classes: ``macro`` (every class alike) or
    ``weighted`` (by support)."""
    if average == "macro":
        weights = np.ones_like(scores.support)
    elif average == "weighted":
        weights = scores.support
    else:
        raise ValueError(f"Unknown average {average!r}: use 'macro' or 'weighted'.")
    total = weights.sum()
    values = {"precision": scores.precision, "recall": scores.recall, "f1": scores.f1}
    return {name: float(np.dot(value, weights) / total) if total else 0.0 for name, value in values.items()}


def roc_auc(is_positive: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve of one class from its scores: the Mann-Whitney statistic over ranks, tied scores
    sharing their average rank; NaN when only one class is present."""
    positive = np.asarray(is_positive, dtype=bool)
    values = np.asarray(scores, dtype=np.float64)
    positives = int(positive.sum())
    negatives = positive.size - positives
    if not positives or not negatives:
        return math.nan
    ranks = _average_ranks(values)
    return float((ranks[positive].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _average_ranks(values: FloatArray) -> FloatArray:
    """1-based ranks of ``values``, tied values sharing the average of their ranks."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)
    average: FloatArray = (last - (counts - 1) / 2.0)[inverse.reshape(-1)]
    return average


def roc_auc_ovr(labels: ArrayLike, probabilities: ArrayLike, classes: ArrayLike) -> float:
    """The macro average of each class's ROC-AUC against the rest, ``probabilities`` holding one column per class
    of ``classes``; a class without rows of its own (or with only its own) does not count."""
    y = np.asarray(labels)
    matrix = np.asarray(probabilities, dtype=np.float64)
    areas = [roc_auc(y == value, matrix[:, index]) for index, value in enumerate(np.asarray(classes))]
    defined = [area for area in areas if not math.isnan(area)]
    return float(np.mean(defined)) if defined else math.nan


def log_loss(labels: ArrayLike, probabilities: ArrayLike, classes: ArrayLike) -> float:
    """The mean negative log-likelihood of the labels under ``probabilities`` (one column per class of ``classes``),
    probabilities clipped to ``[eps, 1 - eps]``.

    Raises:
        ValueError: a label is not among ``classes``.
    """
    y = np.asarray(labels)
    matrix = np.asarray(probabilities, dtype=np.float64)
    chosen = np.asarray(classes)
    order = np.argsort(chosen, kind="stable")
    found = _positions(chosen[order], y)
    if np.any(found < 0):
        raise ValueError("Some labels are not among the classes of the probabilities.")
    eps = np.finfo(np.float64).eps
    likelihood = np.clip(matrix[np.arange(len(y)), order[found]], eps, 1 - eps)
    return float(-np.mean(np.log(likelihood)))


def regression_metrics(labels: ArrayLike, predictions: ArrayLike) -> dict[str, float]:
    """MSE, RMSE, MAE and R² (NaN when there are no rows; R² NaN when the labels do not vary)."""
    y, p = np.asarray(labels, dtype=np.float64), np.asarray(predictions, dtype=np.float64)
    error = p - y
    mse = float(np.mean(error**2)) if y.size else math.nan
    spread = float(np.sum((y - y.mean()) ** 2)) if y.size else 0.0
    return {
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": float(np.mean(np.abs(error))) if y.size else math.nan,
        "r2": 1.0 - float(np.sum(error**2)) / spread if spread else math.nan,
    }
