"""Explanations: permutation importance for any model, SHAP attributions for tree models (``shap`` extra).

Permutation importance shuffles each raw feature column in turn and measures how much the held-out score
drops, so it works for any fitted pipeline. SHAP's tree explainer attributes each prediction to the model's
inputs (the preprocessed columns), exactly, for tree ensembles (random forests, gradient boosting,
XGBoost, LightGBM). Both give a table and a bar plot, logged to the run.

Example:
    >>> explanation = permutation_importance(result.model, *td.test, logger=run)  # doctest: +SKIP
    >>> explanation.table.head(3)  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.inspection import permutation_importance as _permutation_importance

from fti.errors import MissingExtraError, ValidationError
from fti.training.estimators import EncodedLabelClassifier
from fti.training.ports import NullRunLogger, RunLogger
from fti.training.tasks import validate_task

__all__ = ["Explanation", "explain_rows", "permutation_importance", "shap_importance"]

_SCORING = {"binary": "f1", "multiclass": "f1_macro", "regression": "r2"}
_TREE_MODULES = ("xgboost", "lightgbm", "sklearn.ensemble", "sklearn.tree")


@dataclass(frozen=True, slots=True)
class Explanation:
    """Feature importances, most important first, and their bar plot."""

    #: columns ``feature``, ``importance`` and (for permutation importance) ``std``
    table: pd.DataFrame
    figure: Figure
    method: str


def permutation_importance(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    *,
    task: str | None = None,
    scoring: str | None = None,
    n_repeats: int = 5,
    seed: int = 0,
    logger: RunLogger | None = None,
) -> Explanation:
    """How much the held-out score drops when each raw feature column is shuffled.

    Args:
        model: any fitted model (a pipeline with its preprocessing takes the raw columns).
        X: held-out features; y: their target.
        task: the learning task; inferred from ``y`` when None.
        scoring: a scikit-learn scorer name; F1 (binary), macro F1 (multi-class) or R² by default.
        n_repeats: shuffles per column; seed: seeds them.
        logger: the run to log ``permutation_importance.json`` and ``.png`` to.
    """
    resolved = validate_task(task, y)
    scorer = scoring or _SCORING[resolved]
    found = _permutation_importance(model, X, y, scoring=scorer, n_repeats=n_repeats, random_state=seed)
    table = pd.DataFrame(
        {
            "feature": [str(column) for column in X.columns],
            "importance": found.importances_mean,
            "std": found.importances_std,
        }
    )
    table = table.sort_values("importance", ascending=False, ignore_index=True)
    explanation = Explanation(table, _bar_plot(table, f"Permutation importance ({scorer} drop)"), "permutation")
    _log(explanation, logger or NullRunLogger(), "permutation_importance")
    return explanation


def shap_importance(
    model: Any, X: pd.DataFrame, *, max_rows: int = 1000, logger: RunLogger | None = None
) -> Explanation:
    """Mean absolute SHAP attribution of each model input (preprocessed column) over up to ``max_rows`` rows."""
    attributions = explain_rows(model, X.iloc[:max_rows])
    mean_abs = attributions.abs().mean(axis=0)
    table = pd.DataFrame({"feature": mean_abs.index, "importance": mean_abs.to_numpy()})
    table = table.sort_values("importance", ascending=False, ignore_index=True)
    explanation = Explanation(table, _bar_plot(table, "Mean |SHAP value|"), "shap")
    _log(explanation, logger or NullRunLogger(), "shap_importance")
    return explanation


def explain_rows(model: Any, X: pd.DataFrame) -> pd.DataFrame:
    """Per-row SHAP attributions of a tree model, one column per model input, indexed like ``X``.

    For a classifier the attributions are those of the positive class (binary) or of each row's predicted
    class (multi-class), in log-odds.
    """
    estimator, inputs, names = _tree_model_inputs(model, X)
    shap = _import_shap()
    values = np.asarray(shap.TreeExplainer(estimator).shap_values(inputs))
    if values.ndim == 3:  # (rows, inputs, classes)
        chosen = values.shape[2] - 1 if values.shape[2] == 2 else np.asarray(estimator.predict(inputs)).astype(int)
        values = values[np.arange(len(values)), :, chosen] if values.shape[2] > 2 else values[:, :, chosen]
    return pd.DataFrame(values, columns=names, index=X.index)


def _tree_model_inputs(model: Any, X: pd.DataFrame) -> tuple[Any, Any, list[str]]:
    steps = getattr(model, "named_steps", None)
    estimator = steps["model"] if steps and "model" in steps else model
    inputs: Any = X
    names = [str(column) for column in X.columns]
    if steps and "preprocess" in steps:
        preprocessor = steps["preprocess"]
        inputs = preprocessor.transform(X)
        names = [str(name) for name in preprocessor.get_feature_names_out()]
    if isinstance(estimator, EncodedLabelClassifier):
        estimator = estimator.estimator
    if not type(estimator).__module__.startswith(_TREE_MODULES):
        raise ValidationError(
            f"SHAP attributions need a tree model (random forest, gradient boosting, XGBoost, LightGBM); "
            f"got {type(estimator).__name__}. Use permutation_importance() for any model."
        )
    return estimator, inputs, names


def _import_shap() -> Any:
    try:
        with warnings.catch_warnings():
            # shap's import touches a matplotlib API that matplotlib plans to deprecate
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            import shap
    except ImportError as exc:
        raise MissingExtraError("SHAP explanations need the 'shap' extra: pip install 'fti[shap]'") from exc
    return shap


def _bar_plot(table: pd.DataFrame, title: str, top: int = 20) -> Figure:
    shown = table.head(top).iloc[::-1]  # most important at the top
    figure = Figure(figsize=(6, 0.3 * len(shown) + 1.2))
    axes = figure.add_subplot()
    error = shown.get("std")
    axes.barh(shown["feature"], shown["importance"], xerr=error)
    axes.set(title=title, xlabel="importance")
    figure.tight_layout()
    return figure


def _log(explanation: Explanation, logger: RunLogger, name: str) -> None:
    logger.log_dict(
        {column: explanation.table[column].tolist() for column in explanation.table.columns}, f"{name}.json"
    )
    logger.log_figure(explanation.figure, f"{name}.png")
