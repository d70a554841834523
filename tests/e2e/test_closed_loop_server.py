"""The closed loop through the real model server: drift in live traffic, an alert that retrains, an A/B split,
labels, and a promotion the challenger earns.

The champion is trained on old data, where the outcome followed x0 + x1. The world then changes: x0 and x1
shift (the inputs drift) and the outcome now follows x2 + x3 (the old model is no better than a coin). The
feature pipeline lands the fresh labelled data; the retraining pipeline trains on it, so the challenger is
better on the evidence of the labels, not by fiat.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import fti
from fti.monitoring import DriftShareRule
from fti.registry.version import ModelVersion
from fti.testing.server_process import ServerProcess
from fti.testing.services import free_port

pytestmark = pytest.mark.e2e

SRC = Path(__file__).resolve().parents[2] / "src"
FEATURES = ["x0", "x1", "x2", "x3"]
SHIFT = {"x0": 1.5, "x1": -1.0}
MODEL = "scorer"
DEPLOYMENT = "scoring"
OLD_START = pd.Timestamp("2026-01-01", tz="UTC")
FRESH_START = pd.Timestamp("2026-06-01", tz="UTC")


def world(rows: int, *, seed: int, is_fresh: bool, first_entity: int = 0) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    """Inputs and outcomes: the old world (no shift, outcome by x0 + x1) or the fresh one (shifted, x2 + x3)."""
    rng = np.random.default_rng(seed)
    inputs = pd.DataFrame(rng.normal(0.0, 1.0, (rows, len(FEATURES))), columns=FEATURES)
    noise = 0.3 * rng.normal(size=rows)
    if is_fresh:
        outcome = inputs["x2"] + inputs["x3"] + noise > 0
        for name, amount in SHIFT.items():
            inputs[name] += amount
    else:
        outcome = inputs["x0"] + inputs["x1"] + noise > 0
    inputs.insert(0, "entity", np.arange(first_entity, first_entity + rows))
    return inputs, np.asarray(outcome, dtype=np.int64)


def land(project: fti.Project, rows: int, *, seed: int, is_fresh: bool, first_entity: int) -> None:
    """The feature pipeline: insert a batch of inputs and their outcomes, one row a minute."""
    inputs, outcome = world(rows, seed=seed, is_fresh=is_fresh, first_entity=first_entity)
    start = FRESH_START if is_fresh else OLD_START
    ts = start + pd.to_timedelta(np.arange(rows), unit="min")
    project.get_feature_group("signals").insert(inputs.assign(ts=ts))
    labels = pd.DataFrame({"entity": inputs["entity"], "ts": ts + pd.Timedelta(seconds=1), "target": outcome})
    project.get_feature_group("outcomes").insert(labels)


def train(project: fti.Project, start: pd.Timestamp) -> ModelVersion:
    """The training pipeline: a training dataset of the rows since ``start``, a LogisticRegression on it."""
    td = project.get_feature_view(MODEL, 1).create_training_data(
        start=start.to_pydatetime(), split={"train": 0.8, "test": 0.2}, split_by="random", seed=1
    )
    x_train, y_train = td.train
    with project.start_run(MODEL, training_data=td) as run:
        return run.log_model(LogisticRegression().fit(x_train[FEATURES], y_train), MODEL)


def retrain_on_fresh_data(project: fti.Project) -> ModelVersion:
    """The deployment's retraining pipeline: train on what landed since the world changed."""
    return train(project, FRESH_START)


def build_project(folder: Path) -> None:
    """Feature groups with old data, a feature view, the champion trained on it, deployment 'scoring'."""
    with fti.connect(folder) as project:
        project.create_feature_group("signals", primary_key=["entity"], event_time="ts")
        project.create_feature_group("outcomes", primary_key=["entity"], event_time="ts")
        land(project, 900, seed=0, is_fresh=False, first_entity=0)
        signals, outcomes = project.get_feature_group("signals"), project.get_feature_group("outcomes")
        project.create_feature_view(
            MODEL, query=outcomes.select(["target"]).join(signals.select(FEATURES)), labels=["target"]
        )
        train(project, OLD_START).set_alias("champion")
        project.deploy(DEPLOYMENT, {f"{MODEL}@champion": 1.0})


@dataclass
class Traffic:
    """Requests sent to the deployment, one row each: their ids, true outcomes and answering versions."""

    url: str
    ids: list[str] = field(default_factory=list)
    outcomes: list[int] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)

    def send(self, http: httpx.Client, inputs: pd.DataFrame, outcome: np.ndarray[Any, Any], prefix: str) -> None:
        for index, (record, truth) in enumerate(zip(inputs[FEATURES].to_dict("records"), outcome, strict=True)):
            request_id = f"{prefix}-{index}"
            response = http.post(
                f"{self.url}/v1/deployments/{DEPLOYMENT}/predict",
                json={"instances": [record]},
                headers={"x-request-id": request_id},
            )
            assert response.status_code == 200, response.text
            self.ids.append(request_id)
            self.outcomes.append(int(truth))
            self.versions.extend(response.json()["model_versions"])


def _wait_until(condition: Any, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out waiting for {what}.")
        time.sleep(0.1)


def _logged(project: fti.Project) -> int:
    span = project.inference_log.spans().get(DEPLOYMENT)
    return 0 if span is None else span.rows


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A project and `fti serve` answering for it on a free port (deployments re-read every 0.2 s)."""
    build_project(tmp_path)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "FTI_SERVING_REFRESH_SECONDS": "0.2",
        "FTI_SERVING_LOG_FLUSH_SECONDS": "0.2",
        "FTI_SERVING_SEED": "0",
    }
    command = [sys.executable, "-m", "fti", "serve", "--project", str(tmp_path), "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with ServerProcess(command, env, tmp_path / "serve.log") as server:
        server.wait_ready(f"{url}/v2/health/ready")
        yield tmp_path, url


def test_drift_retrains_and_the_better_model_is_promoted(server: tuple[Path, str]) -> None:
    folder, url = server
    traffic = Traffic(url)
    with fti.connect(folder) as project, httpx.Client(timeout=30) as http:
        # the world changes: shifted traffic reaches the champion through the server
        # (seeded so that the unshifted x2 and x3 sit far from the 5% KS bound: p > 0.5)
        shifted, outcome = world(300, seed=25, is_fresh=True, first_entity=10_000)
        traffic.send(http, shifted, outcome, "drift")
        assert set(traffic.versions) == {1}
        _wait_until(lambda: _logged(project) == 300, "the server's request log")

        result = project.monitor(DEPLOYMENT)
        assert result.model == f"{MODEL}:1"
        assert result.drifted_features == ["x0", "x1"]

        # fresh labelled data lands; the drift alert runs the retraining pipeline on it
        land(project, 900, seed=1, is_fresh=True, first_entity=20_000)
        action = project.retraining(DEPLOYMENT, retrain_on_fresh_data, share=0.5)
        fired = project.check_alerts(DEPLOYMENT, [DriftShareRule(0.5)], [action])
        assert [alert.rule for alert in fired] == ["drift_share"]
        challenger = project.get_model(f"{MODEL}@challenger")
        assert challenger.version == 2
        assert "retrained after alert" in (challenger.alias_history("challenger")[-1].reason or "")
        split = {variant.reference: variant.share for variant in project.get_deployment(DEPLOYMENT).variants}
        assert split == {f"{MODEL}@champion": 0.5, f"{MODEL}:2": 0.5}

        # requests continue; once the server has re-read the deployment, both versions answer
        probes, probe_outcome = world(300, seed=11, is_fresh=True, first_entity=30_000)
        for row in range(len(probes)):
            traffic.send(http, probes.iloc[row : row + 1], probe_outcome[row : row + 1], f"probe-{row}")
            if traffic.versions[-1] == 2:
                break
        else:
            raise AssertionError("The challenger never answered: the server did not pick up the new split.")
        first = len(traffic.versions)
        ab_inputs, ab_outcome = world(240, seed=12, is_fresh=True, first_entity=40_000)
        traffic.send(http, ab_inputs, ab_outcome, "ab")
        assert set(traffic.versions[first:]) == {1, 2}
        _wait_until(lambda: _logged(project) == len(traffic.ids), "the server's request log")

        # labels arrive later; the A/B analysis finds the challenger better and promotes it
        written = project.log_labels(DEPLOYMENT, pd.DataFrame({"request_id": traffic.ids, "label": traffic.outcomes}))
        assert written == len(traffic.ids)
        report = project.ab_report(DEPLOYMENT, metric="accuracy", mde=0.25, promote=True)
        decision = report.decisions[0]
        assert (decision.control, decision.treatment) == (f"{MODEL}:1", f"{MODEL}:2")
        assert decision.is_significant and decision.is_sample_reached
        assert report.winner == report.promoted == f"{MODEL}:2"

        assert project.get_model(f"{MODEL}@champion").version == 2
        move = project.get_model(f"{MODEL}:2").alias_history("champion")[-1]
        assert (move.from_version, move.to_version) == (1, 2)
        variants = {variant.reference for variant in project.get_deployment(DEPLOYMENT).variants}
        assert variants == {f"{MODEL}@champion", f"{MODEL}:2"}
