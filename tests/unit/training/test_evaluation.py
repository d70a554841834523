"""Evaluation: every metric and figure per task, logged to the run."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

import fti
from fti.errors import ValidationError
from fti.training.ports import Splits

from .conftest import RecordingRunLogger


def _fitted(data: Splits, estimator: object) -> object:
    X, y = data.train
    return estimator.fit(X, y)  # type: ignore[attr-defined]


def test_binary_metrics_and_figures(breast_cancer: Splits, run: RecordingRunLogger) -> None:
    model = _fitted(breast_cancer, LogisticRegression(max_iter=5000))

    result = fti.evaluate(model, breast_cancer, logger=run)

    expected = {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}
    expected |= {f"{name}_{average}" for name in ("precision", "recall", "f1") for average in ("macro", "weighted")}
    assert set(result.metrics) == expected
    assert result.task == "binary" and result.confusion_matrix is not None
    assert result.confusion_matrix.sum() == len(breast_cancer.test[1])
    assert set(run.figures) == {"confusion_matrix.png", "roc_curve.png", "pr_curve.png"}
    assert run.metrics == result.metrics
    for figure in run.figures.values():  # every figure renders
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        assert buffer.getvalue().startswith(b"\x89PNG")


def test_multiclass_metrics_and_one_curve_per_class(wine: Splits) -> None:
    model = _fitted(wine, LogisticRegression(max_iter=5000))

    result = fti.evaluate(model, wine.test, prefix="test_")

    assert result.task == "multiclass"
    assert "test_f1" not in result.metrics and result.metrics["test_f1_macro"] > 0.9
    assert 0 < result.metrics["test_log_loss"] < 1
    assert len(result.figures["test_roc_curve.png"].axes[0].get_legend().get_texts()) == 3
    assert result.confusion_matrix is not None and result.confusion_matrix.shape == (3, 3)


def test_regression_metrics_and_residual_plot(diabetes: Splits, run: RecordingRunLogger) -> None:
    model = _fitted(diabetes, LinearRegression())

    result = fti.evaluate(model, diabetes.test, logger=run)

    assert result.task == "regression"
    assert set(result.metrics) == {"mse", "rmse", "mae", "r2"}
    assert result.metrics["rmse"] == pytest.approx(result.metrics["mse"] ** 0.5)
    assert list(run.figures) == ["residuals.png"]


def test_a_model_without_probabilities_still_gets_label_metrics(breast_cancer: Splits) -> None:
    class LabelsOnly:
        def __init__(self, model: object) -> None:
            self.model = model

        def predict(self, X: pd.DataFrame) -> object:
            return self.model.predict(X)  # type: ignore[attr-defined]

    result = fti.evaluate(LabelsOnly(_fitted(breast_cancer, LogisticRegression(max_iter=5000))), breast_cancer.test)

    assert "roc_auc" not in result.metrics and result.metrics["f1"] > 0.9
    assert list(result.figures) == ["confusion_matrix.png"]


def test_no_held_out_split_says_how_to_make_one(breast_cancer: Splits) -> None:
    with pytest.raises(ValidationError, match="neither a test nor a validation split to evaluate on"):
        fti.evaluate(LogisticRegression(), Splits(train=breast_cancer.train))


def test_unknown_task_is_named(breast_cancer: Splits) -> None:
    with pytest.raises(ValidationError, match="Unknown task 'classification'. Use one of: binary, multiclass"):
        fti.evaluate(LogisticRegression(), breast_cancer.test, task="classification")


def test_a_constant_target_cannot_be_learned() -> None:
    with pytest.raises(ValidationError, match="Target 'label' has 1 distinct value"):
        fti.evaluate(LogisticRegression(), (pd.DataFrame({"a": [1, 2]}), pd.Series([1, 1], name="label")))
