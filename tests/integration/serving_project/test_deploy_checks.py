"""project.deploy checks output kinds, ensembles and hooks against the registry before writing; batch scores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

import fti
from fti.cli.serve import build_app
from fti.config import ServingConfig
from fti.errors import ValidationError
from fti.testing.serving import running_app
from tests.integration.serving_project.conftest import FEATURES, build_project


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """'fraud' v1 and v2 (classifiers), 'fraud_shadow', a regressor 'amount', a narrow model and a stacker."""
    path = tmp_path_factory.mktemp("deploy_checks")
    build_project(path)
    code = tmp_path_factory.mktemp("hooks_code") / "packaged_hooks"
    code.mkdir()
    (code / "__init__.py").write_text("def keep(frame):\n    return frame\n")
    with fti.connect(path) as project:
        view = project.get_feature_view("fraud")
        td = view.get_training_dataset(1)
        x_train, y_train = td.train
        with project.start_run("extra", training_data=td) as run:
            run.log_model(LinearRegression().fit(x_train, y_train), "amount")
            run.log_model(
                LogisticRegression().fit(x_train[FEATURES[:2]], y_train), "narrow", input_example=x_train[FEATURES[:2]]
            )
            stacked = pd.DataFrame({"m1": x_train[FEATURES[0]], "m2": x_train[FEATURES[1]]})
            stacker = LogisticRegression().fit(stacked, y_train)
            run.log_model(stacker, "stacker", input_example=stacked.head(), code_paths=[code])
    return path


@pytest.fixture
def project(folder: Path) -> Iterator[fti.Project]:
    with fti.connect(folder) as opened:
        yield opened


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"variants": "amount", "output_kind": "proba"},
            "Deployment 'x' answers class scores (output_kind='proba') but model 'amount' v1 records no classes: "
            "serve classifiers logged with their classes (scikit-learn, XGBoost, LightGBM, or an object with "
            "classes_ and predict_proba), or use output_kind='predict'.",
        ),
        (
            {"variants": ["fraud:1", "narrow"], "combine": "mean"},
            "Deployment 'x' combines models with incompatible signatures: 'narrow' v1 reads amount (double), hour "
            "(double) but 'fraud' v1 reads amount (double), hour (double), distance (double) (they differ in "
            "distance). Ensemble members must read the same columns with the same types.",
        ),
        (
            {"variants": ["fraud:1", "amount"], "combine": "mean"},
            "Deployment 'x' combines classifiers with 'amount' v1, which is not one: ensemble members are all "
            "classifiers (with classes) or all regressors.",
        ),
        (
            {"variants": ["fraud:1", "fraud:2", "fraud_shadow"], "combine": "stacking", "stacker": "stacker"},
            "Deployment 'x' stacks with 'stacker' v1, which reads 2 column(s), but its members give 3: one per "
            "regressor or binary classifier, one per class of a multiclass classifier, in member order.",
        ),
        (
            {"variants": "fraud", "preprocess": "nowhere_to_be_found:prepare"},
            "Deployment 'x' has preprocess 'nowhere_to_be_found:prepare', which cannot be imported: module "
            "'nowhere_to_be_found' is neither installed here nor in the code packaged with 'fraud' v2. Log a model "
            "version with code_paths=[...] holding it, or check the name.",
        ),
        (
            {"variants": "fraud", "postprocess": "json:no_such_function"},
            "Deployment 'x' has postprocess 'json:no_such_function', but module 'json' has no function "
            "'no_such_function': name a function defined in it.",
        ),
        (
            {"variants": "fraud", "output_kind": "proba", "postprocess": "json:dumps"},
            "Deployment 'x' has a postprocess function but answers class scores only (output_kind='proba'); "
            "postprocessing turns predictions: use output_kind='predict' or 'both'.",
        ),
        ({"variants": "fraud", "combine": "mean"}, "Deployment 'x' combines 1 model(s) by mean: an ensemble needs two"),
        ({"variants": "fraud", "output_kind": "odds"}, "Deployment 'x' has output_kind 'odds': use one of predict"),
    ],
)
def test_bad_deployments_are_refused_before_anything_is_written(
    project: fti.Project, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        project.deploy("x", **kwargs)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)
    assert "x" not in {item.name for item in project.deployments()}


def test_good_ensembles_and_packaged_hooks_are_stored_and_kept_by_add_variant(project: fti.Project) -> None:
    stacked = project.deploy(
        "stacked",
        ["fraud:1", "fraud:2"],
        combine="stacking",
        stacker="stacker",
        output_kind="both",
        preprocess="packaged_hooks:keep",  # only in the code packaged with the stacker
    )
    assert project.get_deployment("stacked") == stacked
    assert stacked.loaded_references == ("fraud:1", "fraud:2", "stacker")
    voted = project.deploy("voted", {"fraud:1": 0.5, "fraud:2": 0.5}, combine="vote")
    moved = project.serving.add_variant("voted", "fraud_shadow", 0.2)
    assert moved.combine == "vote" and moved.references == ("fraud:1", "fraud:2", "fraud_shadow")
    assert voted.etag != moved.etag


def test_batch_predictions_write_class_scores(project: fti.Project) -> None:
    both = project.batch_predict("fraud:1", output="scores_both", output_kind="both", show_progress=False)
    frame = project.get_feature_group("scores_both").read()
    assert {"prediction", "proba_0", "proba_1"} <= set(frame.columns) and len(frame) == both.rows
    np.testing.assert_allclose(frame["proba_0"] + frame["proba_1"], 1.0)
    np.testing.assert_array_equal(frame["prediction"], (frame["proba_1"] > frame["proba_0"]).astype(int))
    project.batch_predict("fraud:1", output="scores_only", output_kind="proba", show_progress=False)
    assert "prediction" not in project.get_feature_group("scores_only").read().columns
    with pytest.raises(ValidationError) as caught:
        project.batch_predict("amount", output="never", output_kind="proba", show_progress=False)
    assert str(caught.value) == (
        "Model 'amount' v1 records no classes, so it has no class scores for output_kind='proba': use "
        "output_kind='predict', or a classifier logged with its classes."
    )
    assert "never" not in {group.name for group in project.feature_groups()}


def test_an_ensemble_with_hooks_is_served_logged_and_monitored(project: fti.Project) -> None:
    project.deploy("blend", {"fraud:1": 0.7, "fraud:2": 0.3}, combine="weighted_mean", output_kind="both")
    frame = project.get_feature_view("fraud").get_training_dataset(1).test[0][FEATURES]
    app = build_app(project, ServingConfig(log_flush_seconds=0.05))
    with running_app(app) as url:
        answer = httpx.post(f"{url}/v1/deployments/blend/predict", json={"instances": frame.to_dict("records")})
    assert answer.status_code == 200, answer.text
    scores = 0.7 * project.get_model("fraud:1").predict_proba(frame) + 0.3 * project.get_model("fraud:2").predict_proba(
        frame
    )
    np.testing.assert_allclose(answer.json()["proba"], scores)
    logged = project.inference_log.read("blend")
    assert logged.num_rows == len(frame)
    assert set(logged.column("variant").to_pylist()) == {"weighted_mean(fraud:1, fraud:2)"}
    result = project.monitor("blend")
    assert set(result.drift.features) == set(FEATURES)
