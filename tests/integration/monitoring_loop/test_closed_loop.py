"""Labels arrive later, performance per version, retraining into a challenger, A/B analysis and promotion."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import fti
from fti.errors import ConflictError, NotFoundError, ValidationError
from fti.registry.version import ModelVersion
from tests.integration.monitoring_loop.loop_data import (
    DEPLOYMENT,
    FEATURES,
    MODEL,
    START,
    build_project,
    log_rows,
    traffic,
    true_labels,
)


def _train_v2(project: fti.Project) -> ModelVersion:
    """The deployment's training pipeline: fresh training data from the same view, a new version."""
    view = project.get_feature_view(MODEL, 1)
    td = view.create_training_data(split={"train": 0.8, "test": 0.2}, split_by="random", seed=2)
    X, y = td.train
    with project.start_run(MODEL, training_data=td) as run:
        return run.log_model(LogisticRegression(C=0.5).fit(X[FEATURES], y), MODEL)


def test_labels_performance_retraining_and_promotion(project: fti.Project) -> None:
    champion = build_project(project)
    inputs_v1 = traffic(600, seed=11)
    ids_v1 = log_rows(project, champion, inputs_v1, prefix="a")

    # labels arrive later, for part of the traffic
    labels_v1 = true_labels(inputs_v1, seed=11)
    written = project.log_labels(DEPLOYMENT, pd.DataFrame({"request_id": ids_v1[:400], "label": labels_v1[:400]}))
    assert written == 400
    points = project.performance(DEPLOYMENT, bucket="1h")
    assert {point.version for point in points} == {f"{MODEL}:1"}
    assert sum(point.count for point in points) == 400
    assert 0.7 < points[0].metrics["accuracy"] <= 1.0

    # a drift alert retrains: v2 becomes challenger and enters the A/B split through the hook
    calls: list[tuple[str, str, float]] = []
    action = project.retraining(DEPLOYMENT, _train_v2, share=0.3, add_to_deployment=lambda *args: calls.append(args))
    rules = [fti.monitoring.FeatureDriftRule("x0", threshold=0.0), fti.monitoring.FeatureDriftRule("x1", threshold=0.0)]
    fired = project.check_alerts(DEPLOYMENT, rules, [action], window=600)
    assert [alert.subject for alert in fired] == ["x0", "x1"]  # two alerts, one retraining
    challenger = project.get_model(f"{MODEL}@challenger")
    assert challenger.version == 2
    assert calls == [(DEPLOYMENT, f"{MODEL}:2", 0.3)]
    assert "retrained after alert" in (challenger.alias_history("challenger")[-1].reason or "")

    # A/B traffic: v1 keeps serving its (here: degraded) predictions, v2 the correct ones
    later = START + timedelta(hours=2)
    inputs_a, inputs_b = traffic(500, seed=21), traffic(500, seed=22)
    truth_a, truth_b = true_labels(inputs_a, seed=21), true_labels(inputs_b, seed=22)
    wrong = np.where(np.arange(500) % 3 == 0, 1 - truth_a, truth_a)  # v1 is right about two thirds of the time
    ids_a = log_rows(project, champion, inputs_a, start=later, prefix="ab1", predictions=wrong)
    ids_b = log_rows(project, challenger, inputs_b, start=later, prefix="ab2", predictions=truth_b)
    log_rows(project, challenger, inputs_a, start=later, prefix="shadow", predictions=1 - truth_a, is_shadow=True)
    project.log_labels(DEPLOYMENT, pd.DataFrame({"request_id": ids_a + ids_b, "label": [*truth_a, *truth_b]}))

    report = project.ab_report(DEPLOYMENT, metric="accuracy", mde=0.1, promote=True)
    decision = report.decisions[0]
    assert (decision.control, decision.treatment, decision.test) == (f"{MODEL}:1", f"{MODEL}:2", "proportion")
    assert decision.samples == (900, 500)  # shadow rows are not counted
    assert decision.samples_needed is not None and decision.is_sample_reached
    assert decision.is_significant and report.winner == f"{MODEL}:2"
    assert report.promoted == f"{MODEL}:2"
    assert project.get_model(f"{MODEL}@champion").version == 2
    move = project.get_model(f"{MODEL}:2").alias_history("champion")[-1]
    assert (move.from_version, move.to_version) == (1, 2)
    assert move.reason is not None and "A/B on deployment 'scoring': accuracy" in move.reason

    per_version = {point.version for point in project.performance(DEPLOYMENT, bucket="1h")}
    assert per_version == {f"{MODEL}:1", f"{MODEL}:2"}


def test_a_protected_champion_is_moved_by_force(project: fti.Project) -> None:
    champion = build_project(project)
    champion.set_alias("champion", protected=True)
    challenger = _train_v2(project)
    inputs_a, inputs_b = traffic(400, seed=31), traffic(400, seed=32)
    truth_a, truth_b = true_labels(inputs_a, seed=31), true_labels(inputs_b, seed=32)
    ids = log_rows(project, champion, inputs_a, prefix="p1", predictions=1 - truth_a)
    ids += log_rows(project, challenger, inputs_b, prefix="p2", predictions=truth_b)
    project.log_labels(DEPLOYMENT, {"request_id": ids, "label": [*truth_a, *truth_b]})
    with pytest.raises(ConflictError):
        challenger.set_alias("champion")

    report = project.ab_report(DEPLOYMENT, promote=True)

    assert report.promoted == f"{MODEL}:2"
    move = challenger.alias_history("champion")[-1]
    assert move.is_forced and move.is_protected


def test_no_promotion_without_a_significant_win(project: fti.Project) -> None:
    champion = build_project(project)
    challenger = _train_v2(project)
    inputs_a, inputs_b = traffic(300, seed=41), traffic(300, seed=42)
    truth_a, truth_b = true_labels(inputs_a, seed=41), true_labels(inputs_b, seed=42)
    flips = np.arange(300) % 5 == 0  # both versions are right 80% of the time
    ids = log_rows(project, champion, inputs_a, prefix="n1", predictions=np.where(flips, 1 - truth_a, truth_a))
    ids += log_rows(project, challenger, inputs_b, prefix="n2", predictions=np.where(flips, 1 - truth_b, truth_b))
    project.log_labels(DEPLOYMENT, {"request_id": ids, "label": [*truth_a, *truth_b]})

    report = project.ab_report(DEPLOYMENT, promote=True, mde=0.01)

    assert report.winner is None and report.promoted is None
    assert not report.decisions[0].is_sample_reached
    assert project.get_model(f"{MODEL}@champion").version == 1


def test_label_and_ab_errors_name_the_problem(project: fti.Project) -> None:
    champion = build_project(project)
    ids = log_rows(project, champion, traffic(20, seed=51), prefix="e")
    with pytest.raises(ValidationError, match="need the columns request_id and label; missing: label"):
        project.log_labels(DEPLOYMENT, {"request_id": ids})
    with pytest.raises(ValidationError, match="1 label\\(s\\) name request ids deployment 'scoring' never logged"):
        project.log_labels(DEPLOYMENT, {"request_id": ["nope"], "label": [1]})
    with pytest.raises(ValidationError, match="Label column 'label' is string"):
        project.log_labels(DEPLOYMENT, {"request_id": ids[:1], "label": ["yes"]})
    with pytest.raises(NotFoundError, match="Deployment 'scoring' has no labelled predictions"):
        project.ab_report(DEPLOYMENT)
    project.log_labels(DEPLOYMENT, {"request_id": ids, "label": [1] * len(ids)})
    with pytest.raises(ValidationError, match="labelled traffic for one model version only"):
        project.ab_report(DEPLOYMENT)
    with pytest.raises(ValidationError, match="Unknown A/B metric 'auc'"):
        project.ab_report(DEPLOYMENT, metric="auc")


def test_retraining_puts_the_challenger_into_the_deployment_split(project: fti.Project) -> None:
    build_project(project)
    project.deploy(DEPLOYMENT, variants={f"{MODEL}@champion": 1.0})
    challenger = project.retrain(DEPLOYMENT, _train_v2, share=0.2, reason="scheduled retraining")
    assert challenger.aliases == ("challenger",)
    split = {variant.reference: variant.share for variant in project.get_deployment(DEPLOYMENT).variants}
    assert split == pytest.approx({f"{MODEL}@champion": 0.8, f"{MODEL}:2": 0.2})


def test_a_retrain_action_in_a_rules_file_runs_the_named_pipeline_into_the_deployment(
    project: fti.Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    champion = build_project(project)
    project.deploy(DEPLOYMENT, variants={f"{MODEL}@champion": 1.0})
    log_rows(project, champion, traffic(400, seed=13, shift={"x2": 2.0}), prefix="y")
    (tmp_path / "scoring_pipelines.py").write_text(
        "from tests.integration.monitoring_loop.test_closed_loop import _train_v2 as train\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))  # where the rules file's pipeline module is found
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - {type: feature_drift, feature: x2}\n"
        "actions:\n  - {type: retrain, pipeline: 'scoring_pipelines:train', share: 0.25}\n"
    )

    fired = project.check_alerts(DEPLOYMENT, rules, window=400)

    assert [alert.subject for alert in fired] == ["x2"]
    assert project.get_model(f"{MODEL}@challenger").version == 2
    split = {variant.reference: variant.share for variant in project.get_deployment(DEPLOYMENT).variants}
    assert split == pytest.approx({f"{MODEL}@champion": 0.75, f"{MODEL}:2": 0.25})


def test_a_rare_positive_class_is_compared_on_average_precision_of_the_logged_scores(project: fti.Project) -> None:
    champion = build_project(project)
    challenger = _train_v2(project)
    rng = np.random.default_rng(61)
    truth_a, truth_b = (rng.random(800) < 0.05).astype(int), (rng.random(800) < 0.05).astype(int)
    # both flag nothing (so both are 95% accurate), but the challenger's scores rank the positives far higher
    nothing = np.zeros(800)
    ids = log_rows(
        project,
        champion,
        traffic(800, seed=61),
        prefix="s1",
        predictions=nothing,
        scores=rng.random(800) + 0.3 * truth_a,
    )
    ids += log_rows(
        project,
        challenger,
        traffic(800, seed=62),
        prefix="s2",
        predictions=nothing,
        scores=rng.random(800) + 2.0 * truth_b,
    )
    project.log_labels(DEPLOYMENT, {"request_id": ids, "label": [*truth_a, *truth_b]})

    by_accuracy = project.ab_report(DEPLOYMENT, metric="accuracy")
    assert by_accuracy.winner is None  # accuracy cannot tell them apart
    report = project.ab_report(DEPLOYMENT, metric="average_precision", promote=True)

    [decision] = report.decisions
    assert (decision.test, decision.metric) == ("bootstrap", "average_precision")
    assert decision.treatment_value > 0.9 > 0.5 > decision.control_value
    assert report.winner == report.promoted == f"{MODEL}:2"
    move = project.get_model(f"{MODEL}:2").alias_history("champion")[-1]
    assert move.reason is not None and "average_precision" in move.reason


def test_a_ranking_metric_without_logged_scores_says_how_to_log_them(project: fti.Project) -> None:
    champion = build_project(project)
    challenger = _train_v2(project)
    ids = log_rows(project, champion, traffic(50, seed=71), prefix="u1")
    ids += log_rows(project, challenger, traffic(50, seed=72), prefix="u2")
    project.log_labels(DEPLOYMENT, {"request_id": ids, "label": [0, 1] * 50})
    with pytest.raises(ValidationError, match="roc_auc needs the positive-class score .* output_kind='both'"):
        project.ab_report(DEPLOYMENT, metric="roc_auc")
