"""Evaluation of a fitted model on held-out data: metrics and figures, logged to the run.

Classification: accuracy, precision, recall, F1 (binary, macro, weighted), ROC-AUC, log loss, the
confusion matrix, ROC and precision-recall curves. Regression: MSE, RMSE, MAE, R² and a residual plot.
The metrics are computed by :mod:`fti.monitoring.stats.metrics`, the implementation monitoring computes a
deployment's live metrics with, so a model's test metrics and its metrics in production mean the same thing;
scikit-learn draws the curves. Figures are plain :class:`matplotlib.figure.Figure` objects drawn without pyplot
(no global state).

Text generation (``task="text-generation"``, or any :class:`~fti.llm.TextGenerator`) is evaluated by
:func:`fti.llm.evaluate_text`: perplexity, BLEU, ROUGE, exact match and generated samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from fti.errors import ValidationError
from fti.llm.evaluation import TEXT_TASK, TextEvaluation, as_text_evaluation_input, evaluate_text
from fti.llm.generator import TextGenerator
from fti.monitoring.stats.metrics import (
    accuracy,
    averaged,
    class_scores,
    confusion_matrix,
    log_loss,
    regression_metrics,
    roc_auc,
    roc_auc_ovr,
)
from fti.training.ports import Dataset, NullRunLogger, RunLogger, SplitData
from fti.training.tasks import Task, validate_task

__all__ = ["EvaluationResult", "evaluate", "metric_names"]

_AVERAGED = tuple(f"{name}_{average}" for name in ("precision", "recall", "f1") for average in ("macro", "weighted"))
_METRICS = {
    "binary": ("accuracy", "precision", "recall", "f1", *_AVERAGED, "roc_auc", "log_loss"),
    "multiclass": ("accuracy", *_AVERAGED, "roc_auc", "log_loss"),
    "regression": ("mse", "rmse", "mae", "r2"),
}


def metric_names(task: Task) -> tuple[str, ...]:
    """The metrics :func:`evaluate` computes for ``task`` (probability metrics need ``predict_proba``)."""
    return _METRICS[task]


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    """Metrics and figures of one evaluation; ``metrics`` keys carry the prefix given to ``evaluate``."""

    task: Task
    metrics: dict[str, float]
    figures: dict[str, Figure] = field(default_factory=dict)
    #: rows are true classes, columns predicted classes, in the order of ``labels``
    confusion_matrix: np.ndarray[Any, np.dtype[np.int64]] | None = None
    labels: tuple[Any, ...] = ()


@overload
def evaluate(
    model: TextGenerator,
    data: Any,
    task: str | None = None,
    logger: RunLogger | None = None,
    *,
    prefix: str = "",
    figures: bool = True,
) -> TextEvaluation: ...


@overload
def evaluate(
    model: Any,
    data: Dataset | SplitData,
    task: str | None = None,
    logger: RunLogger | None = None,
    *,
    prefix: str = "",
    figures: bool = True,
) -> EvaluationResult: ...


def evaluate(
    model: Any,
    data: Any,
    task: str | None = None,
    logger: RunLogger | None = None,
    *,
    prefix: str = "",
    figures: bool = True,
) -> EvaluationResult | TextEvaluation:
    """Evaluate a fitted model on held-out data and log the results to the run.

    Args:
        model: any fitted estimator with ``predict`` (and ``predict_proba`` for probability metrics), or a
            text generation model (``fti.llm.TextGenerator``).
        data: an ``(X, y)`` pair, or a training dataset's splits (its test split, else validation); for text
            generation, a ``fti.llm.TextDataset`` or the rows it reads (its test split, else validation).
        task: ``"binary"``, ``"multiclass"``, ``"regression"`` or ``"text-generation"``; inferred from the
            target (or the model) when None.
        logger: the run to log metrics, figures and the confusion matrix to.
        prefix: put before every metric and figure name, e.g. ``"test_"``.
        figures: draw the figures (turn off for many quick evaluations, e.g. tuning trials).

    Returns:
        The metrics, figures and (for classification) the confusion matrix.

    Example:
        >>> result = fti.evaluate(model, td, logger=run)  # doctest: +SKIP
        >>> result.metrics["f1"]  # doctest: +SKIP
        0.97
    """
    if task == TEXT_TASK or isinstance(model, TextGenerator):
        generator, text = as_text_evaluation_input(model, data)
        return evaluate_text(generator, text, logger=logger, prefix=prefix)
    X, y = _held_out(data)
    resolved = validate_task(task, y)
    if resolved == "regression":
        result = _evaluate_regression(model, X, y, prefix, figures)
    else:
        result = _evaluate_classification(model, X, y, resolved, prefix, figures)
    _log(result, logger or NullRunLogger(), prefix)
    return result


def _held_out(data: Dataset | SplitData) -> Dataset:
    if isinstance(data, tuple):
        return data
    held_out = data.test if data.test is not None else data.validation
    if held_out is None:
        raise ValidationError(
            "The training data has neither a test nor a validation split to evaluate on. "
            "Create it with a split such as {'train': 0.8, 'test': 0.2}."
        )
    return held_out


def _evaluate_classification(
    model: Any, X: pd.DataFrame, y: pd.Series, task: Task, prefix: str, figures: bool
) -> EvaluationResult:
    predicted = np.asarray(model.predict(X))
    truth = y.to_numpy()
    labels = tuple(getattr(model, "classes_", np.unique(np.concatenate([truth, predicted]))))
    matrix = confusion_matrix(truth, predicted, labels)
    per_class = class_scores(matrix)
    found: dict[str, float] = {"accuracy": accuracy(truth, predicted)}
    if task == "binary":  # of the positive class, the last of the model's classes
        found |= {name: float(getattr(per_class, name)[-1]) for name in ("precision", "recall", "f1")}
    for average in ("macro", "weighted"):
        found |= {f"{name}_{average}": value for name, value in averaged(per_class, average).items()}
    drawn = {f"{prefix}confusion_matrix.png": _confusion_figure(matrix, labels)} if figures else {}
    proba = _probabilities(model, X)
    if proba is not None and y.nunique() >= 2:
        found |= _probability_metrics(y, proba, labels, task)
        if figures:
            drawn |= _curve_figures(y, proba, labels, prefix)
    metrics = {f"{prefix}{key}": value for key, value in found.items()}
    return EvaluationResult(task, metrics, drawn, matrix, labels)


def _probabilities(model: Any, X: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.float64]] | None:
    if not hasattr(model, "predict_proba"):
        return None
    try:
        proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    except AttributeError:  # e.g. an SVC without probability=True only pretends to have it
        return None
    # float32 probabilities (XGBoost) can miss 1.0 by more than log_loss tolerates
    return np.asarray(proba / proba.sum(axis=1, keepdims=True))


def _probability_metrics(
    y: pd.Series, proba: np.ndarray[Any, np.dtype[np.float64]], labels: tuple[Any, ...], task: Task
) -> dict[str, float]:
    truth = y.to_numpy()
    auc = roc_auc(truth == labels[-1], proba[:, -1]) if task == "binary" else roc_auc_ovr(truth, proba, labels)
    return {"roc_auc": auc, "log_loss": log_loss(truth, proba, labels)}


def _confusion_figure(matrix: np.ndarray[Any, np.dtype[np.int64]], labels: tuple[Any, ...]) -> Figure:
    figure = Figure(figsize=(4.5, 4))
    axes = figure.add_subplot()
    axes.imshow(matrix, cmap="Blues")
    ticks = range(len(labels))
    axes.set_xticks(ticks, [str(label) for label in labels])
    axes.set_yticks(ticks, [str(label) for label in labels])
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, column), count in np.ndenumerate(matrix):  # one cell per class pair, not per data row
        color = "white" if count > threshold else "black"
        axes.text(column, row, str(count), ha="center", va="center", color=color)
    axes.set(xlabel="predicted", ylabel="true", title="Confusion matrix")
    figure.tight_layout()
    return figure


def _curve_figures(
    y: pd.Series, proba: np.ndarray[Any, np.dtype[np.float64]], labels: tuple[Any, ...], prefix: str
) -> dict[str, Figure]:
    if len(labels) == 2:
        truth = (y.to_numpy() == labels[-1]).astype(int)[:, None]
        scores, names = proba[:, -1:], [str(labels[-1])]
    else:
        truth = label_binarize(y, classes=list(labels))
        scores, names = proba, [str(label) for label in labels]
    roc, pr = Figure(figsize=(5, 4)), Figure(figsize=(5, 4))
    roc_axes, pr_axes = roc.add_subplot(), pr.add_subplot()
    for index, name in enumerate(names):  # one curve per class
        if truth[:, index].min() == truth[:, index].max():
            continue  # a class absent from the held-out data has no curve
        fpr, tpr, _ = skm.roc_curve(truth[:, index], scores[:, index])
        roc_axes.plot(fpr, tpr, label=f"{name} (AUC {skm.auc(fpr, tpr):.3f})")
        precision, recall, _ = skm.precision_recall_curve(truth[:, index], scores[:, index])
        average = skm.average_precision_score(truth[:, index], scores[:, index])
        pr_axes.plot(recall, precision, label=f"{name} (AP {average:.3f})")
    roc_axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
    roc_axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    pr_axes.set(xlabel="recall", ylabel="precision", title="Precision-recall curve")
    for axes in (roc_axes, pr_axes):
        axes.legend(loc="lower right" if axes is roc_axes else "lower left", fontsize="small")
    return {f"{prefix}roc_curve.png": roc, f"{prefix}pr_curve.png": pr}


def _evaluate_regression(model: Any, X: pd.DataFrame, y: pd.Series, prefix: str, figures: bool) -> EvaluationResult:
    truth = y.to_numpy(dtype=np.float64)
    predicted = np.asarray(model.predict(X), dtype=np.float64).reshape(-1)
    found = regression_metrics(truth, predicted)
    metrics = {f"{prefix}{key}": value for key, value in found.items()}
    drawn = {f"{prefix}residuals.png": _residual_figure(truth, predicted)} if figures else {}
    return EvaluationResult("regression", metrics, drawn)


def _residual_figure(truth: np.ndarray[Any, Any], predicted: np.ndarray[Any, Any]) -> Figure:
    figure = Figure(figsize=(5, 4))
    axes = figure.add_subplot()
    axes.scatter(predicted, truth - predicted, s=8, alpha=0.6)
    axes.axhline(0.0, color="grey", linestyle="--")
    axes.set(xlabel="predicted", ylabel="residual (true - predicted)", title="Residuals")
    return figure


def _log(result: EvaluationResult, logger: RunLogger, prefix: str) -> None:
    logger.log_metrics(result.metrics)
    for name, figure in result.figures.items():
        logger.log_figure(figure, name)
    if result.confusion_matrix is not None:
        logger.log_dict(
            {"labels": [_plain(label) for label in result.labels], "matrix": result.confusion_matrix.tolist()},
            f"{prefix}confusion_matrix.json",
        )


def _plain(value: Any) -> Any:
    """A JSON-friendly scalar: numpy numbers become Python numbers."""
    return value.item() if isinstance(value, np.generic) else value
