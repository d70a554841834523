"""The model families a trainer can build by name, with their defaults, for each task."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder

from fti.errors import ValidationError
from fti.training.tasks import Task

__all__ = ["MODEL_TYPES", "EncodedLabelClassifier", "default_params", "make_estimator"]

_Factory = Callable[[Task, dict[str, Any]], Any]


class EncodedLabelClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Fits a classifier that needs labels ``0..K-1`` (XGBoost) on any labels, and predicts the originals."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(
        self, X: Any, y: Any, eval_set: list[tuple[Any, Any]] | None = None, **kwargs: Any
    ) -> EncodedLabelClassifier:
        """Encode the labels, then fit the wrapped classifier (in place, so its callbacks stay reachable)."""
        self.encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.encoder_.classes_
        if eval_set is not None:
            kwargs["eval_set"] = [(X_eval, self.encoder_.transform(y_eval)) for X_eval, y_eval in eval_set]
        self.estimator.fit(X, self.encoder_.transform(y), **kwargs)
        return self

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        """Predict original labels."""
        return np.asarray(self.classes_[np.asarray(self.estimator.predict(X), dtype=np.int64)])

    def predict_proba(self, X: Any) -> np.ndarray[Any, Any]:
        """Class probabilities, columns in the order of ``classes_``."""
        return np.asarray(self.estimator.predict_proba(X))


def _linear(task: Task, params: dict[str, Any]) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    return Ridge(**params) if task == "regression" else LogisticRegression(**{"max_iter": 1000, **params})


def _logistic(task: Task, params: dict[str, Any]) -> Any:
    _require_classification("logistic_regression", task, "linear_regression")
    return _linear(task, params)


def _linear_regression(task: Task, params: dict[str, Any]) -> Any:
    if task != "regression":
        raise ValidationError(
            f"Model 'linear_regression' predicts numbers, but the target is {task}. "
            "Use model 'logistic_regression' (or 'linear', which picks by task)."
        )
    from sklearn.linear_model import LinearRegression

    return LinearRegression(**params)


def _random_forest(task: Task, params: dict[str, Any]) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    merged = {"n_estimators": 200, "random_state": 0, **params}
    return RandomForestRegressor(**merged) if task == "regression" else RandomForestClassifier(**merged)


def _gradient_boosting(task: Task, params: dict[str, Any]) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    merged = {"random_state": 0, **params}
    if task == "regression":
        return HistGradientBoostingRegressor(**merged)
    return HistGradientBoostingClassifier(**merged)


def _xgboost(task: Task, params: dict[str, Any]) -> Any:
    import xgboost

    merged = {"n_estimators": 300, "learning_rate": 0.05, "max_depth": 4, "random_state": 0, **params}
    if task == "regression":
        return xgboost.XGBRegressor(**merged)
    return EncodedLabelClassifier(xgboost.XGBClassifier(**merged))


def _lightgbm(task: Task, params: dict[str, Any]) -> Any:
    import lightgbm

    merged = {"n_estimators": 300, "learning_rate": 0.05, "random_state": 0, "verbose": -1, **params}
    return lightgbm.LGBMRegressor(**merged) if task == "regression" else lightgbm.LGBMClassifier(**merged)


def _mlp(task: Task, params: dict[str, Any]) -> Any:
    from fti.training.torch_trainer import TorchMLPClassifier, TorchMLPRegressor

    return TorchMLPRegressor(**params) if task == "regression" else TorchMLPClassifier(**params)


def _require_classification(model: str, task: Task, instead: str) -> None:
    if task == "regression":
        raise ValidationError(
            f"Model '{model}' classifies, but the target is numeric (regression). Use model '{instead}' "
            "(or 'linear', which picks by task), or pass task='binary' if the target is a label."
        )


MODEL_TYPES: Mapping[str, _Factory] = {
    "linear": _linear,
    "logistic_regression": _logistic,
    "linear_regression": _linear_regression,
    "random_forest": _random_forest,
    "gradient_boosting": _gradient_boosting,
    "xgboost": _xgboost,
    "lightgbm": _lightgbm,
    "mlp": _mlp,
}


def make_estimator(model_type: str, task: Task, params: Mapping[str, Any] | None = None) -> Any:
    """An unfitted estimator of family ``model_type`` for ``task``, with ``params`` over its defaults.

    Example:
        >>> make_estimator("random_forest", "binary", {"n_estimators": 10}).n_estimators
        10
    """
    factory = MODEL_TYPES.get(model_type)
    if factory is None:
        raise ValidationError(f"Unknown model type '{model_type}'. Use one of: {', '.join(MODEL_TYPES)}.")
    try:
        return factory(task, dict(params or {}))
    except TypeError as exc:  # an unknown keyword for the estimator's constructor
        raise ValidationError(
            f"Model '{model_type}' does not accept these params: {exc}. Check the param names."
        ) from exc


def default_params(estimator: Any) -> dict[str, Any]:
    """The estimator's constructor params as plain loggable values (nested estimators flattened by sklearn)."""
    inner = estimator.estimator if isinstance(estimator, EncodedLabelClassifier) else estimator
    params = inner.get_params(deep=False) if hasattr(inner, "get_params") else {}
    plain: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, str | int | float | bool):
            plain[key] = value
        elif isinstance(value, list | tuple) and all(isinstance(item, str | int | float) for item in value):
            plain[key] = list(value)
    return plain
