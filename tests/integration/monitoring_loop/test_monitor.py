"""project.monitor over the real inference log against the champion's training dataset."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

import fti
from fti.errors import NotFoundError, ValidationError
from fti.monitoring.references import reference_key
from fti.monitoring.stats.quality import QualityConfig
from tests.integration.monitoring_loop.loop_data import (
    DEPLOYMENT,
    FEATURES,
    MODEL,
    START,
    build_project,
    log_rows,
    traffic,
)


def test_unshifted_traffic_flags_no_drift_and_the_reference_is_cached(project: fti.Project) -> None:
    champion = build_project(project)
    log_rows(project, champion, traffic(600, seed=3))

    result = project.monitor(DEPLOYMENT, start=START, end=START + timedelta(hours=1))

    assert result.model == f"{MODEL}:1"
    assert result.reference == f"training dataset of {MODEL}:1"
    assert result.drifted_features == []
    assert not result.drift.dataset_drift
    assert result.drift.prediction is not None and not result.is_prediction_drifted
    assert set(result.drift.features) == set(FEATURES)
    assert result.quality.count("missing_column") == 0
    assert result.window["rows"] == 600
    assert len(result.over_time) >= 2
    key = reference_key(MODEL, 1)
    assert result.reference_key == key and project.artifacts.exists(key)
    created = project.artifacts.get_record(key).created_at
    project.monitor(DEPLOYMENT, window=600)
    assert project.artifacts.get_record(key).created_at == created  # built once, read back after


def test_two_shifted_features_are_exactly_those_flagged(project: fti.Project) -> None:
    champion = build_project(project)
    log_rows(project, champion, traffic(800, seed=4, shift={"x3": 1.0, "x6": -1.0}))

    result = project.monitor(DEPLOYMENT, window=800)

    assert result.drifted_features == ["x3", "x6"]
    assert not result.drift.dataset_drift


def test_report_saved_as_self_contained_artifacts(project: fti.Project) -> None:
    champion = build_project(project)
    log_rows(project, champion, traffic(300, seed=5, shift={"x0": 2.0}))

    keys = project.monitor(DEPLOYMENT, window=300).save()

    html = project.artifacts.get_bytes(keys["html"]).decode()
    assert "<svg" in html and "x0" in html
    assert re.findall(r"https?://(?!www\.w3\.org/2000/svg)", html) == []
    content = project.artifacts.get_json(keys["json"])
    assert content["deployment"] == DEPLOYMENT
    assert "x0" in content["drift"]["drifted_features"]


def test_a_deployment_without_traffic_and_bad_windows_are_named(project: fti.Project) -> None:
    build_project(project)
    with pytest.raises(NotFoundError, match="Deployment 'nothing' has no logged predictions in the window"):
        project.monitor("nothing", window="1h")
    with pytest.raises(ValidationError, match="The window '1 hour' is not a duration"):
        project.monitor(DEPLOYMENT, window="1 hour")
    with pytest.raises(ValidationError, match="Give either window="):
        project.monitor(DEPLOYMENT, window="1h", start=START)


def test_deploying_profiles_the_served_versions_once_and_skips_those_without_training_data(
    project: fti.Project,
) -> None:
    champion = build_project(project)
    with project.start_run(MODEL) as run:  # no training dataset: nothing to profile
        bare = run.log_model(champion.load(), MODEL)

    project.deploy(DEPLOYMENT, {f"{MODEL}@champion": 0.5, f"{MODEL}:{bare.version}": 0.5})

    key = reference_key(MODEL, 1)
    assert project.artifacts.exists(key)
    assert not project.artifacts.exists(reference_key(MODEL, bare.version))
    created = project.artifacts.get_record(key).created_at
    log_rows(project, champion, traffic(300, seed=6))
    result = project.monitor(DEPLOYMENT, window=300)
    assert result.reference_key == key
    assert project.artifacts.get_record(key).created_at == created  # the check read the profile made at deploy


def test_every_option_of_the_service_is_an_option_of_the_project(project: fti.Project) -> None:
    champion = build_project(project)
    log_rows(project, champion, traffic(800, seed=12, shift={"x3": 1.0}))

    plain = project.monitor(DEPLOYMENT, window=800)
    result = project.monitor(DEPLOYMENT, window=800, over_time=200, quality=QualityConfig(ignore=("x3",)))

    assert [report.rows for report in result.over_time] == [200] * 4
    assert ("x3", "out_of_range") in {(finding.column, finding.kind) for finding in plain.quality.findings}
    assert "x3" not in {finding.column for finding in result.quality.findings}
    assert result.drifted_features == plain.drifted_features == ["x3"]


def test_the_keys_of_a_feature_lookup_the_log_keeps_are_not_quality_findings(project: fti.Project) -> None:
    champion = build_project(project)
    inputs = traffic(200, seed=8)
    # the deployment looks features up by card in an online view: the log keeps each request's card beside them
    cards = project.create_feature_group("cards", primary_key=["card"], event_time="ts", online=True)
    cards.insert(inputs.assign(card=range(200), ts=START))
    project.create_feature_view("card_lookup", query=cards.select(FEATURES))
    project.deploy(DEPLOYMENT, {f"{MODEL}@champion": 1.0}, feature_view="card_lookup")
    log_rows(project, champion, inputs.assign(card=range(200), session=1), predictions=champion.predict(inputs))

    result = project.monitor(DEPLOYMENT, window=200)

    extra = {finding.column for finding in result.quality.findings if finding.kind == "extra_column"}
    assert extra == {"session"}  # a column nobody declared is still a finding; the lookup key is not
