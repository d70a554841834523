"""Trainers on scikit-learn's shipped datasets read from the feature store: metrics, figures, registration, lineage."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import fti
from fti.errors import ValidationError
from fti.features.training import TrainingDataset
from fti.training.ports import RunLogger
from fti.training.tracked import Tracked

_FIGURES = {
    f"{split}_{name}"
    for split in ("validation", "test")
    for name in ("confusion_matrix.png", "roc_curve.png", "pr_curve.png")
}


def _assert_registered_with_lineage(project: fti.Project, trained: Tracked, td: TrainingDataset) -> None:
    version = trained.version
    assert version is not None and version.run_id == trained.run_id
    lineage = project.get_model(f"{version.name}:{version.version}").lineage()
    assert lineage.training_data is not None
    assert lineage.training_data.training_dataset_version == td.version
    commits = {(commit.name, commit.version): commit.commit for commit in lineage.training_data.feature_group_commits}
    assert commits == td.feature_group_commits
    assert version.signature is not None
    assert [column.name for column in version.signature.inputs] == list(td.train[0].columns)


def test_a_tracking_run_is_a_run_logger(shared_project: fti.Project) -> None:
    with shared_project.start_run("protocol") as run:
        logger: RunLogger = run
        logger.log_params({"hidden_layers": [64, 64], "lr": 1e-3})
        logger.log_dict({"a": 1}, "values.json")
    assert run.params["hidden_layers"] == "[64, 64]"
    assert "values.json" in run.artifacts


def test_logistic_regression_on_breast_cancer(shared_project: fti.Project, breast_cancer: TrainingDataset) -> None:
    trained = shared_project.train(breast_cancer, "logistic_regression", register="breast-cancer", importance=True)

    assert trained.result.metrics["test_f1"] >= 0.93
    run = shared_project.get_run(trained.run_id)
    assert _FIGURES | {"permutation_importance.png", "permutation_importance.json"} <= set(run.artifacts)
    assert run.metrics["test_f1"] == pytest.approx(trained.result.metrics["test_f1"])
    assert run.params["model"] == "logistic_regression"
    _assert_registered_with_lineage(shared_project, trained, breast_cancer)


def test_predict_applies_the_training_preprocessing(
    shared_project: fti.Project, breast_cancer: TrainingDataset
) -> None:
    trained = shared_project.train(breast_cancer, "logistic_regression", register="breast-cancer-predict")
    X_train, _ = breast_cancer.train
    X_test, _ = breast_cancer.test
    version = shared_project.get_model("breast-cancer-predict")
    pipeline = trained.result.model

    predicted = np.asarray(version.predict(X_test))
    assert (predicted == pipeline.predict(X_test)).all()
    # by hand: median imputation and standard scaling of the numbers, one-hot of the site, fitted on train
    numeric = [column for column in X_train.columns if column != "site"]
    imputer = SimpleImputer(strategy="median").fit(X_train[numeric])
    scaler = StandardScaler().fit(imputer.transform(X_train[numeric]))
    encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(X_train[["site"]])
    by_hand = np.hstack([scaler.transform(imputer.transform(X_test[numeric])), encoder.transform(X_test[["site"]])])
    assert np.allclose(pipeline.named_steps["preprocess"].transform(X_test), by_hand)
    assert (pipeline.named_steps["model"].predict(by_hand) == predicted).all()


def test_unseen_categories_do_not_crash_prediction(shared_project: fti.Project, breast_cancer: TrainingDataset) -> None:
    shared_project.train(breast_cancer, "logistic_regression", register="breast-cancer-unseen")
    X_test, _ = breast_cancer.test
    unseen = X_test.assign(site="antarctica")

    predicted = shared_project.get_model("breast-cancer-unseen").predict(unseen)

    assert len(predicted) == len(X_test)


def test_mlp_on_breast_cancer(shared_project: fti.Project, breast_cancer: TrainingDataset) -> None:
    params = {"hidden_layers": [32, 32], "epochs": 25, "batch_size": 32, "lr": 3e-3, "progress": False}
    trained = shared_project.train(breast_cancer, "mlp", params=params, register="breast-cancer-mlp")

    assert trained.result.metrics["test_f1"] >= 0.93
    run = shared_project.get_run(trained.run_id)
    assert run.params["hidden_layers"] == "[32, 32]"
    assert len(run.metric_history("train_loss")) >= 2
    assert set(run.artifacts) >= _FIGURES
    _assert_registered_with_lineage(shared_project, trained, breast_cancer)
    X_test, _ = breast_cancer.test
    assert (np.asarray(trained.version.predict(X_test)) == trained.result.model.predict(X_test)).all()


def test_random_forest_on_wine_explains_rows(shared_project: fti.Project, wine: TrainingDataset) -> None:
    trained = shared_project.train(wine, "random_forest", params={"n_estimators": 50}, register="wine")

    assert trained.result.task == "multiclass"
    assert trained.result.metrics["test_f1_macro"] >= 0.85
    assert set(shared_project.get_run(trained.run_id).artifacts) >= _FIGURES
    _assert_registered_with_lineage(shared_project, trained, wine)
    X_test, _ = wine.test
    attributions = trained.version.explain(X_test.head(4))
    assert attributions.shape == (4, X_test.shape[1])


def test_explain_names_the_model_it_cannot_explain(shared_project: fti.Project, wine: TrainingDataset) -> None:
    trained = shared_project.train(wine, "logistic_regression", register="wine-linear")
    X_test, _ = wine.test

    with pytest.raises(ValidationError, match=r"Model 'wine-linear' v1 cannot be explained: SHAP .* need a tree model"):
        trained.version.explain(X_test.head(2))


def test_gradient_boosting_on_diabetes(shared_project: fti.Project, diabetes: TrainingDataset) -> None:
    params = {"max_iter": 150, "learning_rate": 0.05, "max_depth": 3, "random_state": 0}
    trained = shared_project.train(diabetes, "gradient_boosting", params=params, register="diabetes")

    assert trained.result.metrics["test_r2"] >= 0.4
    artifacts = set(shared_project.get_run(trained.run_id).artifacts)
    assert {"validation_residuals.png", "test_residuals.png"} <= artifacts
    _assert_registered_with_lineage(shared_project, trained, diabetes)


def test_compare_runs_shows_evaluation_metrics_side_by_side(shared_project: fti.Project, wine: TrainingDataset) -> None:
    first = shared_project.train(wine, "logistic_regression", experiment="wine_compare")
    second = shared_project.train(wine, "random_forest", params={"n_estimators": 20}, experiment="wine_compare")

    compared = shared_project.compare_runs([first.run_id, second.run_id])

    assert list(compared.columns) == [first.run_id, second.run_id]
    for metric in ("metrics.test_f1_macro", "metrics.test_accuracy", "metrics.validation_f1_macro"):
        assert compared.loc[metric].notna().all()
    assert list(compared.loc["params.model"]) == ["logistic_regression", "random_forest"]


def test_a_training_dataset_without_validation_split(shared_project: fti.Project, wine: TrainingDataset) -> None:
    td = shared_project.get_feature_view("wine").create_training_data(split={"train": 0.8, "test": 0.2})

    trained = shared_project.train(td, "logistic_regression", register="wine-no-validation", importance=True)

    assert "test_f1_macro" in trained.result.metrics
    assert not [name for name in trained.result.metrics if name.startswith("validation_")]
    _assert_registered_with_lineage(shared_project, trained, td)
