"""Every flavor's save -> load -> predict round trip, and loading in a process without the training code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import fti
from fti.errors import ValidationError

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    features = pd.DataFrame({"amount": rng.normal(100, 30, 200), "count": rng.integers(0, 20, 200).astype("int64")})
    labels = pd.Series((features["amount"] + 3 * features["count"] > 130).astype("int64"), name="is_fraud")
    return features, labels


def _round_trip(project: fti.Project, model: Any, features: pd.DataFrame, flavor: str) -> tuple[Any, Any]:
    with project.start_run("flavors") as run:
        version = run.log_model(model, f"m-{flavor}", input_example=features.head(5))
    assert version.flavor == flavor
    loaded = project.get_model(f"m-{flavor}:{version.version}")
    return loaded.predict(features), loaded.load()


def test_sklearn_estimator(project: fti.Project, data: tuple[pd.DataFrame, pd.Series]) -> None:
    from sklearn.linear_model import LogisticRegression

    features, labels = data
    model = LogisticRegression(max_iter=500).fit(features, labels)
    predictions, loaded = _round_trip(project, model, features, "sklearn")
    assert isinstance(loaded, LogisticRegression)
    np.testing.assert_array_equal(predictions, model.predict(features))


def test_sklearn_pipeline(project: fti.Project, data: tuple[pd.DataFrame, pd.Series]) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    features, labels = data
    model = Pipeline([("scale", StandardScaler()), ("forest", RandomForestClassifier(n_estimators=10, random_state=0))])
    model.fit(features, labels)
    predictions, loaded = _round_trip(project, model, features, "sklearn")
    assert isinstance(loaded, Pipeline)
    np.testing.assert_array_equal(predictions, model.predict(features))


def test_xgboost_classifier_and_booster(project: fti.Project, data: tuple[pd.DataFrame, pd.Series]) -> None:
    import xgboost

    features, labels = data
    model = xgboost.XGBClassifier(n_estimators=10, max_depth=3).fit(features, labels)
    predictions, loaded = _round_trip(project, model, features, "xgboost")
    assert isinstance(loaded, xgboost.XGBClassifier)
    np.testing.assert_array_equal(predictions, model.predict(features))

    booster = xgboost.train({"max_depth": 2}, xgboost.DMatrix(features, label=labels), num_boost_round=5)
    with project.start_run("flavors") as run:
        version = run.log_model(booster, "booster")
    loaded_booster = project.get_model("booster").load()
    assert isinstance(loaded_booster, xgboost.Booster)
    np.testing.assert_allclose(version.predict(features), booster.predict(xgboost.DMatrix(features)))


def test_lightgbm_classifier_and_regressor(project: fti.Project, data: tuple[pd.DataFrame, pd.Series]) -> None:
    import lightgbm

    features, labels = data
    classes = labels.map({0: "ok", 1: "fraud"})
    classifier = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(features, classes)
    predictions, loaded = _round_trip(project, classifier, features, "lightgbm")
    assert isinstance(loaded, lightgbm.Booster)
    np.testing.assert_array_equal(predictions, classifier.predict(features))

    regressor = lightgbm.LGBMRegressor(n_estimators=10, verbose=-1).fit(features, features["amount"])
    with project.start_run("flavors") as run:
        version = run.log_model(regressor, "regressor", input_example=features.head())
    np.testing.assert_allclose(project.get_model("regressor").predict(features), regressor.predict(features))
    assert version.signature is not None and version.signature.outputs[0].type == "double"


class Threshold:
    """A plain Python model: anything with predict()."""

    def __init__(self, cut: float) -> None:
        self.cut = cut

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (frame["amount"] > self.cut).to_numpy()


def test_pyfunc_model(project: fti.Project, data: tuple[pd.DataFrame, pd.Series]) -> None:
    features, _ = data
    predictions, loaded = _round_trip(project, Threshold(100.0), features, "pyfunc")
    assert isinstance(loaded, Threshold) and loaded.cut == 100.0
    np.testing.assert_array_equal(predictions, (features["amount"] > 100.0).to_numpy())


def test_object_without_predict_is_refused(project: fti.Project) -> None:
    with project.start_run("flavors") as run, pytest.raises(ValidationError) as caught:
        run.log_model(object(), "nothing")
    assert str(caught.value) == (
        "Cannot register a object: it is not a scikit-learn, XGBoost, LightGBM or PyTorch model and has no "
        "predict() method. Wrap it in a class with predict(dataframe)."
    )


_LOAD = """
import sys
import pandas as pd
import fti
with fti.connect(sys.argv[1]) as project:
    frame = pd.DataFrame({"amount": [50.0, 150.0], "count": [1, 9]})
    for name in sys.argv[2:]:
        print(name, list(project.get_model(name).predict(frame)))
"""


def test_native_flavors_predict_in_a_fresh_process(project: fti.Project, data: tuple[pd.DataFrame, pd.Series]) -> None:
    import lightgbm
    import xgboost
    from sklearn.tree import DecisionTreeClassifier

    features, labels = data
    models = {
        "tree": DecisionTreeClassifier(random_state=0).fit(features, labels),
        "xgb": xgboost.XGBClassifier(n_estimators=5).fit(features, labels),
        "lgbm": lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(features, labels),
    }
    with project.start_run("flavors") as run:
        for name, model in models.items():
            run.log_model(model, name, input_example=features.head())
    project.close()
    result = subprocess.run(
        [sys.executable, "-c", _LOAD, str(project.root), *models],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(models)
    probe = pd.DataFrame({"amount": [50.0, 150.0], "count": [1, 9]})
    for line, model in zip(lines, models.values(), strict=True):
        assert line.split(" ", 1)[1] == str(list(model.predict(probe)))
