"""The learning task of a target (binary, multi-class or regression) and its default metric."""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import pandas as pd

from fti.errors import ValidationError

__all__ = ["Task", "default_metric", "infer_task", "is_loss", "validate_task"]

Task = Literal["binary", "multiclass", "regression"]

#: An integer-valued numeric target with at most this many distinct values is a classification target.
_MAX_CLASSES = 20
_LOSSES = frozenset({"mse", "rmse", "mae", "log_loss", "loss"})


def infer_task(y: pd.Series) -> Task:
    """Infer the task from the target: categorical or few integer values classify, the rest regress.

    Example:
        >>> infer_task(pd.Series([0, 1, 1, 0]))
        'binary'
        >>> infer_task(pd.Series([0.5, 1.7, 2.2]))
        'regression'
    """
    values = y.dropna()
    n_unique = values.nunique()
    is_numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if is_numeric:
        as_float = values.to_numpy(dtype=np.float64)
        if n_unique > _MAX_CLASSES or not np.all(np.equal(np.mod(as_float, 1.0), 0.0)):
            return "regression"
    if n_unique < 2:
        raise ValidationError(
            f"Target '{y.name}' has {n_unique} distinct value(s); a model needs at least 2. "
            "Check the label column of the training dataset."
        )
    return "binary" if n_unique == 2 else "multiclass"


def validate_task(task: str | None, y: pd.Series) -> Task:
    """Return ``task`` checked against the known tasks, or the task inferred from ``y`` when None."""
    if task is None:
        return infer_task(y)
    known = get_args(Task)
    if task not in known:
        raise ValidationError(f"Unknown task '{task}'. Use one of: {', '.join(known)} (or None to infer it).")
    return task  # type: ignore[return-value]


def default_metric(task: Task) -> str:
    """The metric a task is ranked and tuned on by default."""
    return {"binary": "f1", "multiclass": "f1_macro", "regression": "rmse"}[task]


def is_loss(metric: str) -> bool:
    """Whether lower is better for ``metric`` (a split prefix such as ``validation_`` is allowed)."""
    return metric.split("_", 1)[-1] in _LOSSES or metric in _LOSSES
