"""`fti models validate` and `fti models promote`: the gate passes, fails and refuses bad input, on real versions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from typer.testing import CliRunner

import fti
from fti.cli.main import app
from fti.deploy.gate import GateFailedError, GateSpec, MetricThreshold, promote_model, validate_model
from tests.integration.serving_project.conftest import FEATURES, card_frames

runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """'fraud' v1 (champion), v2 (better), v3 (a constant, worse), v4 (another training dataset), 'bare' (no
    metrics, no lineage); deployment 'fraud' reading feature view 'fraud'."""
    path = tmp_path_factory.mktemp("gate")
    cards_frame, labels_frame = card_frames()
    with fti.connect(path) as project:
        cards = project.create_feature_group("card_activity", primary_key=["cc_num"], event_time="ts", online=True)
        labels = project.create_feature_group("fraud_labels", primary_key=["cc_num"], event_time="ts")
        cards.insert(cards_frame)
        labels.insert(labels_frame)
        view = project.create_feature_view(
            "fraud", query=labels.select(["is_fraud"]).join(cards.select(FEATURES)), labels=["is_fraud"]
        )
        td = view.create_training_data(split={"train": 0.7, "test": 0.3}, split_by="time")
        project.train(td, "logistic_regression", params={"C": 0.0001}, register="fraud")
        project.train(td, "logistic_regression", params={"C": 1.0}, register="fraud")
        project.train(td, DummyClassifier(strategy="prior"), register="fraud")
        other = view.create_training_data(split={"train": 0.5, "test": 0.5}, split_by="random", seed=3)
        project.train(other, "logistic_regression", register="fraud")
        with project.start_run("bare") as run:
            x_train, y_train = td.train
            run.log_model(DummyClassifier().fit(x_train, y_train), "bare", input_example=x_train.head())
        project.get_model("fraud:1").set_alias("champion")
        project.deploy("fraud", "fraud@champion", feature_view="fraud")
    return path


def _invoke(folder: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--project", str(folder)])
    if result.exception is not None and not isinstance(result.exception, SystemExit | fti.errors.FtiError):
        raise result.exception
    message = str(result.exception) if isinstance(result.exception, fti.errors.FtiError) else ""
    code = result.exception.exit_code if isinstance(result.exception, fti.errors.FtiError) else result.exit_code
    return code, result.stdout + message


def test_a_better_version_passes_every_check(folder: Path) -> None:
    code, output = _invoke(
        folder,
        "models", "validate", "fraud:2",
        "--metric", "test_roc_auc", "--min", "0.6", "--min-delta", "0",
        "--deployment", "fraud", "--max-latency-ms", "5000", "--max-size-mb", "50", "--require-lineage",
    )  # fmt: skip
    assert code == 0, output
    assert "Gate of model fraud v2" in output and "Model fraud v2 passed." in output
    spec = GateSpec(
        metrics=(MetricThreshold("test_roc_auc", minimum=0.6, min_delta=0.0),),
        deployment="fraud",
        max_latency_ms=5000,
        max_size_mb=50,
        require_lineage=True,
    )
    with fti.connect(folder) as project:
        report = validate_model(project, "fraud:2", spec)
    names = ["test_roc_auc", "test_roc_auc vs champion", "signature vs fraud", "latency p95", "size", "lineage"]
    assert [check.name for check in report.checks] == names and report.passed
    assert report.checks[1].value.endswith("(recorded)")


def test_a_worse_version_fails_with_exit_code_2_naming_each_failed_check(folder: Path) -> None:
    code, output = _invoke(
        folder,
        "models", "validate", "fraud:3",
        "--metric", "test_roc_auc", "--min", "0.6", "--min-delta", "0",
        "--max-latency-ms", "0.000001", "--max-size-mb", "0.000001",
    )  # fmt: skip
    assert code == 2
    assert "FAIL" in output and "Model fraud v3 failed 4 of 4 checks." in output
    assert "Model 'fraud' v3 failed the gate: test_roc_auc (0.5, needs >= 0.6); test_roc_auc vs champion" in output
    assert "; latency p95 (" in output and "; size (" in output


def test_the_champion_is_compared_on_the_candidates_test_set_when_they_differ(folder: Path) -> None:
    with fti.connect(folder) as project:
        spec = GateSpec(metrics=(MetricThreshold("test_roc_auc", min_delta=-1.0),))
        report = validate_model(project, "fraud:4", spec)
    (check,) = report.checks
    assert check.passed and "both on v4's test split" in check.value


def test_bad_input_is_refused_before_any_check(folder: Path) -> None:
    code, output = _invoke(folder, "models", "validate", "fraud:2", "--metric", "test_auc", "--min", "0.5")
    assert code == 2 and "Gate of model" not in output
    assert "Model 'fraud' v2 has no metric 'test_auc' (its metrics: " in output
    with fti.connect(folder) as project:
        project.get_model("bare:1").set_alias("champion")
        with pytest.raises(fti.errors.ValidationError) as caught:
            validate_model(project, "bare:1", GateSpec(metrics=(MetricThreshold("accuracy", min_delta=0),)))
        assert str(caught.value).startswith("Model 'bare' v1 has no metric 'accuracy' (its metrics: none)")
        with pytest.raises(fti.errors.ValidationError) as caught:
            validate_model(project, "bare:1", GateSpec(max_latency_ms=10))
        assert "has no training dataset in its lineage to time predictions on" in str(caught.value)
        with pytest.raises(fti.errors.NotFoundError):
            validate_model(project, "fraud:2", GateSpec(deployment="nope"))


def test_a_champion_without_the_metric_is_refused(folder: Path) -> None:
    with fti.connect(folder) as project, project.start_run("bare") as run:
        x_train = pd.DataFrame({name: [0.0, 1.0] for name in FEATURES})
        run.log_model(DummyClassifier().fit(x_train, [0, 1]), "fraud", input_example=x_train)
        project.get_model("fraud:5").set_alias("champion")
        try:
            with pytest.raises(fti.errors.ValidationError) as caught:
                validate_model(project, "fraud:2", GateSpec(metrics=(MetricThreshold("test_roc_auc", min_delta=0),)))
        finally:
            project.get_model("fraud:1").set_alias("champion")
    assert str(caught.value) == (
        "The champion of model 'fraud' (v5) has no metric 'test_roc_auc' to compare with (its metrics: none): "
        "gate on a metric both versions have, or drop --min-delta."
    )


def test_signature_and_lineage_checks_fail_for_a_bare_model(folder: Path) -> None:
    with fti.connect(folder) as project:
        report = validate_model(project, "bare:1", GateSpec(deployment="fraud", require_lineage=True))
    assert [check.passed for check in report.checks] == [True, False]
    assert report.checks[0].value == "compatible"
    assert report.checks[1].value == "missing training dataset, feature-group commits"
    with pytest.raises(GateFailedError, match="Model 'bare' v1 failed the gate: lineage"):
        report.raise_if_failed()


def test_promote_moves_the_alias_only_through_the_gate(folder: Path) -> None:
    code, output = _invoke(folder, "models", "promote", "fraud:3", "--metric", "test_roc_auc", "--min-delta", "0")
    assert code == 2 and "failed the gate" in output
    with fti.connect(folder) as project:
        assert project.get_model("fraud@champion").version == 1
    code, output = _invoke(folder, "models", "promote", "fraud:2", "--metric", "test_roc_auc", "--min-delta", "0")
    assert code == 0, output
    assert "Alias 'champion' of model fraud now points at v2." in output
    with fti.connect(folder) as project:
        assert project.get_model("fraud@champion").version == 2
        move = project.get_model("fraud:2").alias_history("champion")[-1]
        assert move.reason == "passed the gate: test_roc_auc vs champion"
        report = promote_model(project, "fraud:1", GateSpec(), alias="previous")
        assert report.passed and project.get_model("fraud@previous").version == 1
        project.get_model("fraud:1").set_alias("champion")
