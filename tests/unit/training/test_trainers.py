"""Trainers reach sensible held-out metrics on scikit-learn's shipped datasets and log everything."""

from __future__ import annotations

import pickle

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from fti.errors import ValidationError
from fti.training import train
from fti.training.ports import Splits

from .conftest import RecordingRunLogger

_CLASSIFICATION_FIGURES = {"confusion_matrix.png", "roc_curve.png", "pr_curve.png"}


def test_logistic_regression_on_breast_cancer(breast_cancer: Splits, run: RecordingRunLogger) -> None:
    result = train(breast_cancer, "logistic_regression", logger=run)

    assert result.metrics["test_f1"] >= 0.93
    assert isinstance(result.model, Pipeline)
    assert run.params["model"] == "logistic_regression" and run.params["task"] == "binary"
    assert run.params["max_iter"] == 1000 and run.params["preprocessing.scaling"] == "standard"
    assert run.metrics == result.metrics
    assert {f"{split}_{name}" for split in ("validation", "test") for name in _CLASSIFICATION_FIGURES} == set(
        run.figures
    )
    assert run.dicts["test_confusion_matrix.json"]["labels"] == [0, 1]
    assert run.tags["model_type"] == "logistic_regression"


def test_any_sklearn_estimator_is_cloned_not_fitted_in_place(breast_cancer: Splits) -> None:
    estimator = LogisticRegression(max_iter=500)

    result = train(breast_cancer, estimator, params={"C": 0.5})

    assert not hasattr(estimator, "coef_")
    assert result.model_type == "LogisticRegression"
    assert result.model.named_steps["model"].C == 0.5
    assert result.metrics["test_f1"] >= 0.93


def test_xgboost_on_diabetes_reaches_r2(diabetes: Splits, run: RecordingRunLogger) -> None:
    params = {
        "max_depth": 2,
        "learning_rate": 0.03,
        "n_estimators": 1000,
        "subsample": 0.8,
        "min_child_weight": 5,
        "early_stopping_rounds": 50,
        "n_jobs": 1,
    }
    result = train(diabetes, "xgboost", params=params, logger=run)

    assert result.task == "regression"
    assert result.metrics["test_r2"] >= 0.4
    assert {"test_mse", "test_rmse", "test_mae", "test_r2"} <= set(result.metrics)
    assert set(run.figures) == {"validation_residuals.png", "test_residuals.png"}
    # the early-stopping reporter is not kept in the model
    assert pickle.loads(pickle.dumps(result.model)).predict(diabetes.test[0]).shape == diabetes.test[1].shape


def test_lightgbm_on_diabetes_reaches_r2(diabetes: Splits) -> None:
    params = {"num_leaves": 4, "learning_rate": 0.03, "n_estimators": 1000, "early_stopping_rounds": 50, "n_jobs": 1}

    result = train(diabetes, "lightgbm", params=params)

    assert result.metrics["test_r2"] >= 0.4
    assert pickle.loads(pickle.dumps(result.model)).predict(diabetes.test[0]).shape == diabetes.test[1].shape


@pytest.mark.parametrize("model", ["xgboost", "lightgbm", "random_forest", "gradient_boosting", "linear"])
def test_multiclass_families_on_wine(wine: Splits, model: str) -> None:
    params = {"n_jobs": 1} if model in {"xgboost", "lightgbm", "random_forest"} else {}

    result = train(wine, model, params=params)

    assert result.task == "multiclass"
    assert result.metrics["test_f1_macro"] >= 0.9
    assert set(result.model.predict(wine.test[0])) <= {0, 1, 2}


def test_xgboost_predicts_original_string_labels(wine: Splits) -> None:
    names = {0: "barolo", 1: "grignolino", 2: "barbera"}
    X, y = wine.train
    data = Splits(train=(X, y.map(names)), validation=(wine.validation[0], wine.validation[1].map(names)))

    result = train(data, "xgboost", params={"n_estimators": 20, "n_jobs": 1})

    assert set(result.model.predict(wine.test[0])) <= set(names.values())
    assert list(result.model.classes_) == sorted(names.values())


def test_iterations_are_reported_with_validation_loss(breast_cancer: Splits) -> None:
    seen: list[tuple[int, float]] = []

    train(
        breast_cancer,
        "lightgbm",
        params={"n_estimators": 15, "n_jobs": 1},
        on_iteration=lambda i, v: seen.append((i, v)),
    )
    train(
        breast_cancer,
        "xgboost",
        params={"n_estimators": 15, "n_jobs": 1},
        on_iteration=lambda i, v: seen.append((i, v)),
    )

    assert [step for step, _ in seen] == [*range(15), *range(15)]
    assert all(loss > 0 for _, loss in seen)


def test_unknown_model_type_names_the_choices(breast_cancer: Splits) -> None:
    with pytest.raises(ValidationError, match="Unknown model type 'catboost'. Use one of: linear, logistic_regression"):
        train(breast_cancer, "catboost")


def test_classifier_on_a_numeric_target_says_what_to_use(diabetes: Splits) -> None:
    with pytest.raises(ValidationError, match="Model 'logistic_regression' classifies, but the target is numeric"):
        train(diabetes, "logistic_regression")


def test_unknown_param_names_the_model(breast_cancer: Splits) -> None:
    with pytest.raises(ValidationError, match="Model 'random_forest' does not accept these params"):
        train(breast_cancer, "random_forest", params={"depth": 3})
