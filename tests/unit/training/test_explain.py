"""Explanations: permutation importance for any model, SHAP for tree models."""

from __future__ import annotations

import numpy as np
import pytest

from fti.errors import ValidationError
from fti.training import train
from fti.training.explain import explain_rows, permutation_importance, shap_importance
from fti.training.ports import Splits

from .conftest import RecordingRunLogger


def test_permutation_importance_ranks_raw_columns(diabetes: Splits, run: RecordingRunLogger) -> None:
    model = train(diabetes, "linear").model
    X, y = diabetes.test

    explanation = permutation_importance(model, X, y, n_repeats=3, logger=run)

    assert sorted(explanation.table["feature"]) == sorted(X.columns)
    assert explanation.table["importance"].is_monotonic_decreasing
    assert set(explanation.table["feature"].head(3)) & {"bmi", "s5"}  # the known strong predictors
    assert set(run.figures) == {"permutation_importance.png"}
    assert run.dicts["permutation_importance.json"]["feature"] == explanation.table["feature"].tolist()


def test_shap_attributions_add_up_to_the_prediction(diabetes: Splits, run: RecordingRunLogger) -> None:
    pytest.importorskip("shap")
    result = train(diabetes, "xgboost", params={"n_estimators": 50, "max_depth": 3, "n_jobs": 1})
    X = diabetes.test[0]

    attributions = explain_rows(result.model, X)
    explanation = shap_importance(result.model, X, logger=run)

    assert attributions.shape == (len(X), 10) and list(attributions.index) == list(X.index)
    base = result.model.predict(X) - attributions.sum(axis=1).to_numpy()
    np.testing.assert_allclose(base, base[0], atol=1e-3)  # prediction = expected value + attributions
    assert explanation.table["feature"].iloc[0] in {"numeric__bmi", "numeric__s5"}
    assert set(run.figures) == {"shap_importance.png"}


def test_shap_for_a_multiclass_random_forest(wine: Splits) -> None:
    pytest.importorskip("shap")
    result = train(wine, "random_forest", params={"n_estimators": 20, "n_jobs": 1})

    attributions = explain_rows(result.model, wine.test[0])

    assert attributions.shape == (len(wine.test[1]), 13)


def test_shap_refuses_a_linear_model(breast_cancer: Splits) -> None:
    model = train(breast_cancer, "logistic_regression").model

    with pytest.raises(ValidationError, match="SHAP attributions need a tree model .* got LogisticRegression"):
        explain_rows(model, breast_cancer.test[0])
