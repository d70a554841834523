"""The CLI as a user runs it: init, status, config, db, demo, help and error handling."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine

import fti
from fti.inference_log.features import feature_columns
from tests.e2e.conftest import RunCli


def test_version(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip().startswith("fti ")


def test_init_then_status_in_an_empty_folder(run_cli: RunCli, tmp_path: Path) -> None:
    init = run_cli("init", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "fti.yaml").is_file()
    status = run_cli("status", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "catalog" in status.stdout
    assert "sqlite" in status.stdout
    assert "reachable" in status.stdout
    assert "artifacts" in status.stdout


def test_init_refuses_to_overwrite(run_cli: RunCli, tmp_path: Path) -> None:
    assert run_cli("init", cwd=tmp_path).returncode == 0
    before = (tmp_path / "fti.yaml").read_text()
    again = run_cli("init", cwd=tmp_path)
    assert again.returncode == 2
    assert "fti.yaml already exists" in again.stderr
    assert "Traceback" not in again.stderr
    assert (tmp_path / "fti.yaml").read_text() == before


def test_invalid_config_is_one_line_and_exit_2(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "fti.yaml").write_text("online_store:\n  type: memcached\n")
    result = run_cli("status", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "online_store.type = 'memcached': unknown backend 'memcached'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreachable_catalog_exits_1(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "fti.yaml").write_text("project: unreachable\n")
    result = run_cli("status", cwd=tmp_path, env={"FTI_CATALOG_URL": "postgresql://nobody@127.0.0.1:1/x"})
    assert result.returncode == 1
    assert "Catalog unreachable" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_config_show_names_sources(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "fti.yaml").write_text("project: shown\n")
    result = run_cli("config", "show", cwd=tmp_path, env={"FTI_EXECUTOR_MAX_WORKERS": "3"})
    assert result.returncode == 0, result.stderr
    lines = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") >= 3}
    assert "fti.yaml" in lines["project"]
    assert "env FTI_EXECUTOR_MAX_WORKERS" in lines["executor.max_workers"]
    assert "default" in lines["catalog.url"]


def test_older_catalog_needs_db_upgrade(run_cli: RunCli, tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    from fti.backends.catalog import store

    revisions = [rev.revision for rev in ScriptDirectory(str(store._MIGRATIONS)).walk_revisions()]
    first = revisions[-1]
    if len(revisions) < 2:
        pytest.skip("a single migration: no older schema exists yet")
    engine = create_engine(f"sqlite:///{tmp_path / '.fti' / 'catalog.db'}")
    (tmp_path / ".fti").mkdir()
    config = Config()
    config.set_main_option("script_location", str(store._MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, first)
    engine.dispose()

    refused = run_cli("status", cwd=tmp_path)
    assert refused.returncode == 1
    assert f"is at schema revision {first}" in refused.stderr
    assert "run `fti db upgrade`" in refused.stderr

    upgraded = run_cli("db", "upgrade", cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded from {first} to" in upgraded.stdout
    with fti.connect(tmp_path) as project:
        assert project.catalog.schema_state().current == project.catalog.schema_state().expected


def test_demo_fast_runs_the_loop_and_leaves_a_project(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("demo", "--fast", "--keep", "demo-here", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    headings = ("Feature store", "Training data", "Experiments", "Model registry", "Deployments", "Drift findings")
    for heading in (
        *headings,
        "A/B test",
        "Champion history",
        "Monitoring reports",
        "Done in",
        "fti ui",
        "fti runs list",
    ):
        assert heading in result.stdout
    assert "test ROC-AUC" in result.stdout
    # every version scored on the same rows, the A/B day's, beside its own (incomparable) test split's F1
    for heading in ("own test F1", "false alarms", "fraud caught"):
        assert heading in result.stdout
    assert re.search(r"v3 +│ [\d.]+ +│ [\d.]+ +│ \d+ of [\d,]+ +│ \d+ of \d+", result.stdout)
    assert "card events through Redis" in result.stdout and "with last-hour aggregates" in result.stdout
    folder = tmp_path / "demo-here"
    with fti.connect(folder) as project:
        assert project.name == "fti_demo"
        assert {group.name for group in project.feature_groups()} == {
            "transactions",
            "card_activity",
            "merchant_stats",
            "fraud_labels",
            "fraud_predictions",
            "card_live",  # the live stage's aggregates, kept fresh from Redis (the tests have a redis-server)
        }
        assert project.get_feature_group("fraud_predictions").commits()[0].rows_inserted > 0
        # drift only in the slice where it was injected; the alert fired there only
        normal = project.artifacts.get_json("monitoring/reports/fraud/normal-day/report.json")
        season = project.artifacts.get_json("monitoring/reports/fraud/travel-season/report.json")
        assert normal["drift"]["drifted_features"] == []
        assert normal["alerts"] == []
        assert {"km_from_home", "amount"} <= set(season["drift"]["drifted_features"])
        assert {alert["subject"] for alert in season["alerts"]} >= {"km_from_home", "amount"}
        assert normal["window"]["end"] <= season["window"]["start"]
        # retraining made version 3 the challenger, trained on the same time split as the first training
        assert project.get_model("fraud-detector:3").lineage().training_dataset_version == 2
        retrained = project.get_feature_view("fraud").get_training_dataset(2)
        assert retrained.record.split_by == "time" and retrained.record.split == {
            "train": 0.7,
            "validation": 0.15,
            "test": 0.15,
        }
        # the A/B test ranked each variant's labelled requests by the fraud score the request log keeps: average
        # precision, defined because the A/B day holds fraud; a significant winner only is promoted
        ab = project.artifacts.get_json("monitoring/reports/fraud/ab/report.json")
        assert ab["metric"] == "average_precision" and [d["test"] for d in ab["decisions"]] == ["bootstrap"]
        assert {variant["model"] for variant in ab["variants"]} == {"fraud-detector:1", "fraud-detector:3"}
        assert all(0 < variant["value"] <= 1 for variant in ab["variants"])
        history = project.registry.alias_history("fraud-detector", "champion")
        promoted = ab["decisions"][0]["winner"] == "fraud-detector:3"
        assert project.get_model("fraud-detector@champion").version == (3 if promoted else 1)
        if promoted:
            assert history[-1].reason.startswith("A/B on deployment 'fraud': average_precision")
        # the requests were logged at their transactions' times: the live days, not the seconds the demo took
        logged_at = project.inference_log.read("fraud", columns=["timestamp", "score", "request_id"]).to_pandas()
        settings = project.artifacts.get_json("demo/settings.json")
        live_start = pd.Timestamp(settings["season_start"]) - pd.Timedelta(days=1)
        assert logged_at["timestamp"].min() >= live_start
        assert logged_at["timestamp"].max() < live_start + pd.Timedelta(days=3)
        assert logged_at["timestamp"].dt.floor("D").nunique() == 3
        assert logged_at["score"].notna().all()  # the deployment answers class scores: each row's fraud score
        normal_window = project.artifacts.get_json("monitoring/reports/fraud/normal-day/report.json")["window"]
        assert pd.Timestamp(normal_window["start"]) == live_start
        # a promoted challenger takes all the traffic again; otherwise both keep serving
        assert [variant.reference for variant in project.get_deployment("fraud").variants] == (
            ["fraud-detector@champion"] if promoted else ["fraud-detector@champion", "fraud-detector:3"]
        )
        assert project.get_model("fraud-detector:1").metrics["test_roc_auc"] > 0.75
        # no script called the loop: the scheduler started each stage on the event before it
        runs = list(reversed(project.pipeline_runs()))
        assert all(run.state.value == "succeeded" for run in runs)
        started_by = [
            (run.pipeline, (lineage.trigger_event.kind if lineage.trigger_event else run.trigger))
            for run in runs
            for lineage in [project.orchestration.lineage(run.id)]
        ]
        for expected in (
            ("features", "commit"),
            ("training", "pipeline_run"),
            ("deploy", "alias"),
            ("monitoring", "manual"),
            ("retraining", "alert"),
            ("ab_analysis", "commit"),
        ):
            assert expected in started_by
        [retrained] = [
            run for run in runs if run.pipeline == "retraining" and project.orchestration.lineage(run.id).produced
        ]
        produced = {event.kind for event in project.orchestration.lineage(retrained.id).produced}
        assert {"model_version", "alias", "deployment"} <= produced
        # the first champion, then the promoted one (if the A/B test found a significant winner)
        assert [run.pipeline for run in runs].count("deploy") == (2 if promoted else 1)
        # the deployment looks key-only requests up in the online feature view; the demo sent one
        assert project.get_deployment("fraud").feature_lookup == "fraud:1"
        log = project.inference_log.read("fraud")
        logged = pd.concat([log.select(["request_id"]).to_pandas(), feature_columns(log).to_pandas()], axis=1)
        [looked_up] = logged.loc[logged["request_id"].str.startswith("keys-")].to_dict("records")
        tx_id = int(str(looked_up["request_id"]).split("-")[1])
        transaction = project.get_feature_group("transactions").read().set_index("tx_id").loc[tx_id]
    assert "a request with keys only" in result.stdout
    features = looked_up
    assert features["amount"] == pytest.approx(transaction["amount"])
    assert None not in (features["km_from_home"], features["merchant_tx_count_7d"])  # looked up, not blanked
    keys = [f"tx_id={tx_id}", f"cc_num={transaction['cc_num']}", f"merchant_id={transaction['merchant_id']}"]
    vector = run_cli("features", "get", "fraud", *[f"--key={key}" for key in keys], "-p", str(folder), cwd=tmp_path)
    assert vector.returncode == 0, vector.stderr
    assert "km_from_home" in vector.stdout and "merchant_tx_count_7d" in vector.stdout and "null" not in vector.stdout
    assert "Pipeline runs" in result.stdout
    assert (folder / "reports" / "travel-season.html").read_text().startswith("<!DOCTYPE html>")
    assert "demo-here/reports/travel-season.html" in result.stdout
    again = run_cli("demo", "--fast", "--keep", "demo-here", cwd=tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr


def test_demo_refuses_a_folder_that_is_not_a_demo(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = run_cli("demo", "--fast", "--keep", "mine", cwd=tmp_path)
    assert result.returncode == 2
    assert "is not a demo project" in result.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def _all_commands() -> list[list[str]]:
    import typer.main

    from fti.cli.main import app

    found: list[list[str]] = []

    def walk(command: object, words: list[str]) -> None:
        found.append(words)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*words, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = _all_commands()


@pytest.mark.parametrize("command_words", COMMANDS, ids=lambda words: " ".join(words) or "fti")
def test_every_command_has_help(run_cli: RunCli, tmp_path: Path, command_words: list[str]) -> None:
    result = run_cli(*command_words, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    assert len(result.stdout.strip()) > 80
