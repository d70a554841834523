"""Class scores of every scoring flavor; model code and pip requirements that travel with a model version."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fti
from fti.errors import RequirementError, ValidationError
from fti.registry.environment import read_requirements

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    features = pd.DataFrame({"amount": rng.normal(100, 30, 200), "count": rng.integers(0, 20, 200).astype("float64")})
    labels = pd.Series(np.where(features["amount"] + 3 * features["count"] > 130, "fraud", "ok"), name="is_fraud")
    return features, labels


def _log(project: fti.Project, model: object, name: str, features: pd.DataFrame, **options: object) -> fti.Project:
    with project.start_run("scores") as run:
        run.log_model(model, name, input_example=features.head(5), **options)  # type: ignore[arg-type]
    return project


@pytest.mark.parametrize("family", ["sklearn", "xgboost", "lightgbm"])
def test_classifiers_give_scores_in_the_order_of_their_classes(
    project: fti.Project, data: tuple[pd.DataFrame, pd.Series], family: str
) -> None:
    import lightgbm
    import xgboost
    from sklearn.linear_model import LogisticRegression

    features, labels = data
    codes = (labels == "fraud").astype(int)
    model, target = {
        "sklearn": (LogisticRegression(max_iter=500), labels),
        "xgboost": (xgboost.XGBClassifier(n_estimators=5), codes),
        "lightgbm": (lightgbm.LGBMClassifier(n_estimators=5, verbose=-1), labels),
    }[family]
    model.fit(features, target)
    _log(project, model, family, features)
    version = project.get_model(family)
    assert version.classes == tuple(np.asarray(model.classes_).tolist())
    scores = version.predict_proba(features)
    np.testing.assert_allclose(scores, model.predict_proba(features), rtol=1e-6)
    labels_from_scores = np.asarray(version.classes)[scores.argmax(axis=1)]
    np.testing.assert_array_equal(labels_from_scores, version.predict(features))


class Scored:
    """A plain Python classifier with classes_ and predict_proba."""

    classes_ = np.array([0, 1])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (frame["amount"] > 100).to_numpy().astype(int)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        high = (frame["amount"] > 100).to_numpy().astype(float)
        return np.column_stack([1 - high, high])


def test_pyfunc_with_classes_gives_scores_and_a_regressor_says_it_gives_none(
    project: fti.Project, data: tuple[pd.DataFrame, pd.Series]
) -> None:
    from sklearn.linear_model import LinearRegression

    features, _ = data
    _log(project, Scored(), "plain", features)
    probe = pd.DataFrame({"amount": [50.0, 150.0], "count": [1.0, 1.0]})
    np.testing.assert_array_equal(project.get_model("plain").predict_proba(probe)[:, 1], [0.0, 1.0])
    _log(project, LinearRegression().fit(features, features["amount"]), "amounts", features)
    regressor = project.get_model("amounts")
    assert regressor.classes is None
    with pytest.raises(ValidationError) as caught:
        regressor.predict_proba(features)
    assert str(caught.value) == (
        "Model 'amounts' v1 (sklearn) gives no class scores: it is not a classifier with classes_ and predict_proba. "
        "Ask for its predictions instead."
    )


_MODULE = """
import numpy as np


class Doubler:
    def predict(self, frame):
        return np.asarray(frame["amount"] * 2.0)
"""

_LOAD = """
import sys
import pandas as pd
import fti
with fti.connect(sys.argv[1]) as project:
    print(list(project.get_model("doubler").predict(pd.DataFrame({"amount": [1.0, 2.5], "count": [0.0, 1.0]}))))
"""


def test_packaged_code_loads_in_another_process_and_folder(
    project: fti.Project, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "code_src" / "doubling_models"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(_MODULE)
    monkeypatch.syspath_prepend(str(package.parent))
    from doubling_models import Doubler  # type: ignore[import-not-found]

    features, _ = data
    _log(project, Doubler(), "doubler", features, code_paths=[package])
    keys = [item.key for item in project.artifacts.list("runs/") if "/code/" in item.key]
    assert any(key.endswith("/code/doubling_models/__init__.py") for key in keys)
    project.close()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", _LOAD, str(project.root)],
        cwd=elsewhere,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[np.float64(2.0), np.float64(5.0)]"


def test_requirements_are_recorded_and_checked_at_load(
    project: fti.Project, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    features, labels = data
    model = LogisticRegression().fit(features, labels)
    _log(project, model, "pinned", features, pip_requirements=["numpy>=1"])
    version = project.get_model("pinned")
    folder = tmp_path / "files"
    for item in project.artifacts.list(version.record.artifact_prefix + "/"):
        project.artifacts.get_file(item.key, folder / item.key.rsplit("/", 1)[-1])
    sklearn = importlib.metadata.version("scikit-learn").split(".")
    assert read_requirements(folder) == [f"scikit-learn=={sklearn[0]}.{sklearn[1]}.*", "numpy>=1"]
    assert version.predict(features.head(3)) is not None

    _log(project, model, "mismatched", features, pip_requirements=["scikit-learn==0.1", "fti-no-such-package>=2"])
    with pytest.raises(RequirementError) as caught:
        project.get_model("mismatched").load()
    installed = importlib.metadata.version("scikit-learn")
    assert str(caught.value) == (
        f"Model 'mismatched' v1 needs 'scikit-learn==0.1' (scikit-learn {installed} is installed), "
        "'fti-no-such-package>=2' (not installed): install its requirements (pip install 'scikit-learn==0.1' "
        "'fti-no-such-package>=2') where it is loaded, or log a version trained with the packages installed here."
    )


def test_bad_code_paths_and_requirements_are_refused_before_anything_is_written(
    project: fti.Project, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    features, _ = data
    with pytest.raises(ValidationError) as caught:
        _log(project, Scored(), "nope", features, code_paths=[tmp_path / "missing"])
    assert str(caught.value) == (
        f"code_paths[0] of model 'nope' is '{tmp_path / 'missing'}', which does not exist: pass the folder of the "
        "model's package (or its module file), relative to the working directory or absolute."
    )
    with pytest.raises(ValidationError) as caught:
        _log(project, Scored(), "nope", features, pip_requirements=["numpy=="])
    assert str(caught.value).startswith("pip_requirements[0] of model 'nope' is 'numpy==', not a valid requirement")
    assert [model.name for model in project.models()] == []
    helper = tmp_path / "helper.py"
    helper.write_text(textwrap.dedent("VALUE = 1\n"))
    with pytest.raises(ValidationError) as caught:
        _log(project, Scored(), "nope", features, code_paths=[helper, helper])
    assert "name two paths called 'helper.py'" in str(caught.value)
