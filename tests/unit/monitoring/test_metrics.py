"""Classification and regression metrics in one place: scikit-learn's definitions, and training's evaluation and
monitoring's performance over time agree on the same predictions."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn import metrics as sk
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split

import fti
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
from fti.monitoring.stats.performance import classification_metrics, performance_over_time

NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("seed", range(5))
def test_counts_and_scores_are_scikit_learns(seed: int) -> None:
    rng = np.random.default_rng(seed)
    classes = np.array(["b", "a", "d", "c"])  # not sorted; "d" is never predicted
    y = rng.choice(classes, 300)
    p = np.where(rng.random(300) < 0.6, y, rng.choice(classes[:3], 300))
    counts = confusion_matrix(y, p, classes)
    assert counts.tolist() == sk.confusion_matrix(y, p, labels=classes).tolist()
    per_class = class_scores(counts)
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = sk.precision_recall_fscore_support(
            y, p, labels=classes, average=average, zero_division=0
        )
        assert averaged(per_class, average) == pytest.approx({"precision": precision, "recall": recall, "f1": f1})
    assert accuracy(y, p) == pytest.approx(sk.accuracy_score(y, p))
    proba = rng.dirichlet(np.ones(4), 300)
    proba[:10] = 0.25  # ties
    assert roc_auc_ovr(y, proba, classes) == pytest.approx(
        sk.roc_auc_score(y, proba[:, np.argsort(classes)], multi_class="ovr", labels=sorted(classes))
    )
    assert log_loss(y, proba, classes) == pytest.approx(sk.log_loss(y, proba[:, np.argsort(classes)]))
    scores = np.round(rng.random(300), 1)  # many ties
    assert roc_auc(y == "a", scores) == pytest.approx(sk.roc_auc_score(y == "a", scores))
    truth, guess = rng.normal(size=300), rng.normal(size=300)
    assert regression_metrics(truth, guess) == pytest.approx(
        {
            "mse": sk.mean_squared_error(truth, guess),
            "rmse": sk.root_mean_squared_error(truth, guess),
            "mae": sk.mean_absolute_error(truth, guess),
            "r2": sk.r2_score(truth, guess),
        }
    )


def _split(X: pd.DataFrame, y: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    found: tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series] = tuple(  # type: ignore[assignment]
        train_test_split(X, y, test_size=0.4, random_state=0)
    )
    return found


def _logged(labels: pd.Series, predictions: np.ndarray, **extra: np.ndarray) -> pa.Table:
    """Labelled predictions as monitoring reads them from the log: one model version, one hour."""
    rows = len(labels)
    return pa.table(
        {
            "timestamp": pa.array([NOW] * rows, pa.timestamp("us", tz="UTC")),
            "model": ["m:1"] * rows,
            "label": labels.to_numpy(dtype=np.float64),
            "prediction": predictions.astype(np.float64),
            **extra,
        }
    )


def test_training_and_monitoring_agree_on_a_binary_classifier() -> None:
    X_train, X_test, y_train, y_test = _split(*load_breast_cancer(return_X_y=True, as_frame=True))
    model = LogisticRegression(max_iter=5000).fit(X_train, y_train)
    trained = fti.evaluate(model, (X_test, y_test), figures=False).metrics
    predictions, scores = model.predict(X_test), model.predict_proba(X_test)[:, 1]

    (point,) = performance_over_time(
        _logged(y_test, predictions, score=scores), task="classification", version="model", score="score"
    )

    live = point.metrics
    assert set(live) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert live == pytest.approx({name: trained[name] for name in live})
    assert trained["roc_auc"] == pytest.approx(sk.roc_auc_score(y_test, scores))
    assert trained["f1"] == pytest.approx(sk.f1_score(y_test, predictions))


def test_training_and_monitoring_agree_on_a_multiclass_classifier() -> None:
    X_train, X_test, y_train, y_test = _split(*load_wine(return_X_y=True, as_frame=True))
    model = LogisticRegression(max_iter=5000).fit(X_train, y_train)
    trained = fti.evaluate(model, (X_test, y_test), figures=False).metrics
    live = classification_metrics(y_test, model.predict(X_test))
    assert live["accuracy"] == pytest.approx(trained["accuracy"])
    for name in ("precision", "recall", "f1"):  # monitoring's are the macro averages over the classes seen
        assert live[name] == pytest.approx(trained[f"{name}_macro"])
    assert trained["log_loss"] == pytest.approx(sk.log_loss(y_test, model.predict_proba(X_test)))


def test_training_and_monitoring_agree_on_a_regressor() -> None:
    X, _ = load_wine(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = _split(X.drop(columns=["alcohol"]), X["alcohol"])
    model = LinearRegression().fit(X_train, y_train)
    trained = fti.evaluate(model, (X_test, y_test), task="regression", figures=False).metrics

    (point,) = performance_over_time(_logged(y_test, model.predict(X_test)), task="regression", version="model")

    assert dict(point.metrics) == pytest.approx(trained)
    assert trained["r2"] == pytest.approx(sk.r2_score(y_test, model.predict(X_test)))
