"""Streaming inference on real Redis Streams: events scored as /predict scores them, logged, each exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import redis
from sklearn.linear_model import LogisticRegression

import fti
from fti.cli.serve import build_app
from fti.config import ServingConfig
from fti.errors import NotFoundError, ValidationError
from fti.streams import dead_letter_stream, list_statuses
from fti.testing.server_process import ServerProcess
from fti.testing.serving import running_app

from .conftest import create_group, transactions

SRC = Path(__file__).resolve().parents[3] / "src"
FEATURES = ["count_1h", "amount_sum_1h", "amount_mean_1d", "amount_max_1h"]


def build_deployment(project: fti.Project, stream: str) -> pd.DataFrame:
    """Aggregates of a day of card events (backfilled: offline and online), a model trained on them, and the
    deployment 'fraud' reading its features through the feature view; returns the events."""
    events = transactions(1_500, cards=40)
    cards = create_group(project, "cards", stream)
    cards.backfill(events)
    labels = project.create_feature_group("fraud_labels", primary_key=["cc_num"], event_time="ts")
    labels.insert(events.assign(is_fraud=(events["amount"] > 80).astype(np.int64))[["cc_num", "ts", "is_fraud"]])
    view = project.create_feature_view(
        "fraud", query=labels.select(["is_fraud"]).join(cards.feature_group.select(FEATURES)), labels=["is_fraud"]
    )
    td = view.create_training_data(split={"train": 0.8, "test": 0.2}, split_by="time")
    x_train, y_train = td.train
    with project.start_run("fraud", training_data=td) as run:
        run.log_model(LogisticRegression().fit(x_train.fillna(0), y_train), "fraud")
    project.get_model("fraud:1").set_alias("champion")
    project.deploy("fraud", "fraud@champion", feature_view="fraud", entity_key="cc_num", output_kind="both")
    return events


def output_rows(redis_url: str, stream: str, partitions: int) -> list[dict[str, str]]:
    """Every entry of every partition of ``stream``, decoded."""
    rows: list[dict[str, str]] = []
    with redis.Redis.from_url(redis_url) as client:
        for partition in range(partitions):
            key = stream if partition == 0 else f"{stream}:p{partition}"
            for _, fields in client.xrange(key):
                rows.append({name.decode(): value.decode() for name, value in fields.items()})
    return rows


def test_events_are_scored_as_predict_scores_them_and_logged(
    streaming_project: fti.Project, stream_name: str, redis_url: str
) -> None:
    project = streaming_project
    build_deployment(project, stream_name)
    requests_stream, scores = f"{stream_name}_requests", f"{stream_name}_scores"
    cards = [f"c{n}" for n in range(40)]
    project.publish(requests_stream, pd.DataFrame({"cc_num": cards * 2}), key=["cc_num"], partitions=2)
    project.publish(requests_stream, pd.DataFrame({"cc_num": ["c1"], "note": ["not a model input"]}), key=["cc_num"])
    broker = project.stream_broker
    broker.publish(requests_stream, pa.table({"amount": ["1.0"]}), [0])
    broker.publish(requests_stream, pa.table({"cc_num": ["c2"], "count_1h": ["many"]}), [0])

    job = project.prediction_job("fraud", source=requests_stream, to=scores, batch_size=25)
    progress = job.run(should_stop=lambda: False, exit_when_idle=1.0)
    job.close()
    with redis.Redis.from_url(redis_url) as client:
        dead = client.xrange(dead_letter_stream(scores))
    assert (progress.events_in, progress.rows_out, progress.dead_letters) == (83, 81, 2), dead[:3]
    assert job.lag() == 0

    rows = pd.DataFrame(output_rows(redis_url, scores, 2))
    assert len(rows) == 81 and rows["request_id"].is_unique  # an event id is unique within its partition
    first = rows.drop_duplicates("cc_num").set_index("cc_num").loc[cards]
    with running_app(build_app(project, ServingConfig(log_flush_seconds=0.05))) as url:
        answer = httpx.post(f"{url}/v1/deployments/fraud/predict", json={"entities": [{"cc_num": c} for c in cards]})
    assert answer.status_code == 200, answer.text
    served = answer.json()
    assert first["prediction"].astype(int).tolist() == served["predictions"]
    np.testing.assert_allclose(first[["proba_0", "proba_1"]].astype(float).to_numpy(), served["proba"])

    logged = project.inference_log.read("fraud", columns=["request_id", "prediction"]).to_pandas()
    streamed = logged[logged["request_id"].str.startswith(requests_stream)]
    assert sorted(streamed["request_id"]) == sorted(rows["request_id"])
    with redis.Redis.from_url(redis_url) as client:
        dead = client.xrange(dead_letter_stream(scores))
    reasons = [fields[b"reason"].decode() for _, fields in dead]
    assert reasons[0] == "missing field 'cc_num'"
    assert reasons[1].startswith("'count_1h' is not int") and reasons[1].endswith(": many")


def test_a_job_killed_mid_stream_predicts_each_event_once(
    streaming_project: fti.Project, stream_name: str, redis_url: str, project_dir: Path
) -> None:
    project = streaming_project
    build_deployment(project, stream_name)
    requests_stream, scores = f"{stream_name}_requests", f"{stream_name}_scores"
    project.publish(requests_stream, pd.DataFrame({"cc_num": [f"c{n % 40}" for n in range(1_200)]}), key=["cc_num"])
    command = [sys.executable, "-m", "fti", "stream", "predict", "fraud", "--from", requests_stream, "--to", scores]
    command += ["--project", str(project_dir), "--batch-size", "10", "--no-live"]
    (project_dir / "fti.yaml").write_text(f"stream_broker:\n  url: {redis_url}\n")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    worker = ServerProcess(command, env, project_dir / "worker.log")
    with redis.Redis.from_url(redis_url) as client:
        while client.xlen(scores) < 100 and worker.process.poll() is None:
            time.sleep(0.05)
        worker.kill()
        assert 0 < client.xlen(scores) < 1_200, f"the worker was killed mid-stream: {worker.output()}"
    again = subprocess.run([*command, "--exit-when-idle", "1"], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    rows = pd.DataFrame(output_rows(redis_url, scores, 1))
    assert len(rows) == 1_200 and rows["event_id"].is_unique
    logged = project.inference_log.read("fraud", columns=["request_id"]).column("request_id").to_pylist()
    assert sorted(logged) == sorted(rows["request_id"])
    status = [found for found in list_statuses(project.stream_broker) if found.name == "fraud"]
    assert status and status[0].kind == "prediction" and status[0].state == "stopped" and status[0].lag == 0


def test_a_prediction_job_is_refused_before_anything_runs(streaming_project: fti.Project, stream_name: str) -> None:
    project = streaming_project
    with pytest.raises(NotFoundError, match="absent"):
        project.prediction_job("absent", source=stream_name, to="out")
    build_deployment(project, stream_name)
    with pytest.raises(ValidationError, match=f"Stream '{stream_name}' cannot be both the events and the predictions"):
        project.prediction_job("fraud", source=stream_name, to=stream_name)


def test_a_deployment_that_routes_by_no_key_scores_looked_up_entities(
    streaming_project: fti.Project, stream_name: str, redis_url: str
) -> None:
    # the entities' keys are for the lookup only: the model must not get them as inputs
    project = streaming_project
    build_deployment(project, stream_name)
    project.deploy("unrouted", "fraud@champion", feature_view="fraud")
    with running_app(build_app(project, ServingConfig(log_flush_seconds=0.05))) as url:
        answer = httpx.post(f"{url}/v1/deployments/unrouted/predict", json={"entities": [{"cc_num": "c1"}]})
    assert answer.status_code == 200, answer.text
    source, scores = f"{stream_name}_requests", f"{stream_name}_scores"
    project.publish(source, pd.DataFrame({"cc_num": ["c1"]}), key=["cc_num"])
    job = project.prediction_job("unrouted", source=source, to=scores)
    progress = job.run(should_stop=lambda: False, exit_when_idle=0.5)
    job.close()
    assert (progress.rows_out, progress.dead_letters) == (1, 0)
    assert [int(row["prediction"]) for row in output_rows(redis_url, scores, 1)] == answer.json()["predictions"]
