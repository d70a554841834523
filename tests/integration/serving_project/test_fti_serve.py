"""`fti serve` on a real project: every endpoint, hot swap under load, A/B and shadow in the inference log, tokens."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest
import tritonclient.http as triton

import fti
from fti.inference_log.features import feature_columns
from tests.integration.serving_project.conftest import CARDS, FEATURES, Served

pytestmark = [pytest.mark.e2e]


def _instances(count: int, seed: int) -> pd.DataFrame:
    random = np.random.default_rng(seed)
    frame = pd.DataFrame(random.normal(size=(count, 3)), columns=FEATURES)
    frame.insert(0, "cc_num", np.arange(count) % CARDS)
    return frame


def _expected(served: Served, version: int, frame: pd.DataFrame) -> np.ndarray:
    with fti.connect(served.folder) as project:
        return np.asarray(project.get_model(f"fraud:{version}").predict(frame[FEATURES]))


def test_v1_answers_each_row_with_its_variant(served: Served) -> None:
    frame = _instances(24, seed=1)
    response = httpx.post(
        f"{served.url}/v1/deployments/ab/predict",
        json={"instances": frame.to_dict("records")},
        headers=served.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["deployment"] == "ab" and body["request_id"]
    versions = np.array(body["model_versions"])
    assert set(versions) == {1, 2} and set(body["model_names"]) == {"fraud"}
    for version in (1, 2):
        rows = versions == version
        np.testing.assert_array_equal(np.array(body["predictions"])[rows], _expected(served, version, frame[rows]))


def test_unknown_deployment_is_404(served: Served) -> None:
    response = httpx.post(
        f"{served.url}/v1/deployments/nope/predict", json={"instances": [{"amount": 1.0}]}, headers=served.headers
    )
    assert response.status_code == 404
    assert "Deployment 'nope' does not exist (deployments: ab)" in response.json()["error"]


def test_tritonclient_against_v2(served: Served) -> None:
    frame = _instances(9, seed=2)
    client = triton.InferenceServerClient(url=served.url.removeprefix("http://"))
    try:
        assert client.is_server_live() and client.is_server_ready(headers=served.headers)
        metadata = client.get_model_metadata("fraud", headers=served.headers)
        assert [tensor["name"] for tensor in metadata["inputs"]] == FEATURES
        inputs = []
        for column in FEATURES:
            tensor = triton.InferInput(column, [len(frame)], "FP64")
            tensor.set_data_from_numpy(frame[column].to_numpy())
            inputs.append(tensor)
        result = client.infer("fraud", inputs, model_version="2", headers=served.headers)
        output = metadata["outputs"][0]["name"]
        np.testing.assert_array_equal(result.as_numpy(output), _expected(served, 2, frame))
        through_deployment = client.infer("ab", inputs, headers=served.headers)
        assert through_deployment.as_numpy(output).shape == (len(frame),)
    finally:
        client.close()


def test_invocations_takes_an_mlflow_payload(served: Served) -> None:
    frame = _instances(5, seed=3)
    split = {"columns": list(frame.columns), "data": frame.to_numpy().tolist()}
    response = httpx.post(f"{served.url}/invocations", json={"dataframe_split": split}, headers=served.headers)
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 5


def test_tokens_gate_every_request(served: Served) -> None:
    url = f"{served.url}/v1/deployments/ab/predict"
    body = {"instances": _instances(2, seed=4).to_dict("records")}
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, json=body, headers={"Authorization": "Bearer fti_wrong"}).status_code == 401
    with fti.connect(served.folder) as project:
        secret = project.create_token("temporary")
        headers = {"Authorization": f"Bearer {secret}"}
        assert _status_becomes(200, lambda: httpx.post(url, json=body, headers=headers).status_code)
        project.revoke_token("temporary")
    assert _status_becomes(401, lambda: httpx.post(url, json=body, headers=headers).status_code)
    assert httpx.post(url, json=body, headers=served.headers).status_code == 200


def test_roles_are_enforced_and_feedback_is_audited_under_the_token(served: Served) -> None:
    url = f"{served.url}/v1/deployments/ab"
    body = {"instances": _instances(1, seed=6).to_dict("records")}
    with fti.connect(served.folder) as project:
        reader = {"Authorization": f"Bearer {project.create_token('watcher', 'read')}"}
        scorer = {"Authorization": f"Bearer {project.create_token('rater', 'predict')}"}
    assert _status_becomes(200, lambda: httpx.get(f"{served.url}/v1/status", headers=reader).status_code)
    refused = httpx.post(f"{url}/predict", json=body, headers=reader)
    assert refused.status_code == 403 and "needs role 'predict'" in refused.json()["error"]
    assert _status_becomes(200, lambda: httpx.post(f"{url}/predict", json=body, headers=scorer).status_code)
    request_id = httpx.post(f"{url}/predict", json=body, headers=scorer).json()["request_id"]
    feedback = {"request_id": request_id, "rating": 1.0}
    assert httpx.post(f"{url}/feedback", json=feedback, headers=reader).status_code == 403
    answered = httpx.post(f"{url}/feedback", json=feedback, headers=scorer)
    assert answered.status_code == 200, answered.text
    with fti.connect(served.folder) as project:
        [entry] = project.audit(actor="rater")
    assert (entry.action, entry.target, entry.detail["request_id"]) == ("feedback", "ab", request_id)
    assert entry.detail["feedback_id"] == answered.json()["feedback_id"]


def _status_becomes(expected: int, call: Callable[[], int]) -> bool:
    """Whether ``call`` answers ``expected`` within 30 s (the server re-reads tokens every 2 s)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if call() == expected:
            return True
        time.sleep(0.1)
    return False


def test_champion_moves_five_times_under_load_without_a_failure(served: Served) -> None:
    url = f"{served.url}/v1/deployments/ab/predict"
    frame = _instances(4, seed=5)
    stop = threading.Event()
    failures: list[str] = []
    versions: set[int] = set()
    lock = threading.Lock()

    def client() -> int:
        sent = 0
        with httpx.Client(headers=served.headers, timeout=30) as http:
            while not stop.is_set() and sent < 2000:
                response = http.post(url, json={"instances": frame.to_dict("records")})
                sent += 1
                with lock:
                    if response.status_code != 200:
                        failures.append(f"{response.status_code}: {response.text}")
                    else:
                        versions.update(response.json()["model_versions"])
        return sent

    with fti.connect(served.folder) as project, ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(client) for _ in range(4)]
        for move in range(5):
            time.sleep(0.5)
            project.get_model(f"fraud:{2 if move % 2 == 0 else 1}").set_alias("champion")
        time.sleep(0.5)
        stop.set()
        sent = sum(future.result() for future in futures)
        project.get_model("fraud:1").set_alias("champion")
    assert sent > 0
    assert failures == []
    assert versions <= {1, 2}


def test_zz_log_shows_sticky_variants_and_the_shadow_copy(served: Served) -> None:
    frame = _instances(CARDS * 4, seed=6)
    for start in range(0, len(frame), CARDS):
        response = httpx.post(
            f"{served.url}/v1/deployments/ab/predict",
            json={"instances": frame.iloc[start : start + CARDS].to_dict("records")},
            headers={**served.headers, "x-request-id": f"sticky-{start}"},
        )
        assert response.status_code == 200, response.text
    served.stop()  # SIGTERM flushes the request log
    with fti.connect(served.folder) as project:
        answered = project.inference_log.read("ab")
        everything = project.inference_log.read("ab", include_shadow=True)
    ours = answered.filter(pc.starts_with(answered.column("request_id"), "sticky-"))
    assert ours.num_rows == len(frame)
    keys = feature_columns(ours).column("cc_num").to_numpy()
    variants = pd.Series(ours.column("variant").to_pylist())
    per_card = variants.groupby(keys).nunique()
    assert (per_card == 1).all() and len(per_card) == CARDS
    assert set(variants) == {"fraud@champion", "fraud@challenger"}
    shadow = everything.filter(everything.column("is_shadow"))
    assert set(shadow.column("model_name").to_pylist()) == {"fraud_shadow"}
    shadow_ids = set(shadow.column("request_id").to_pylist())
    assert set(answered.column("request_id").to_pylist()) <= shadow_ids
    assert pc.sum(pc.starts_with(shadow.column("request_id"), "sticky-")).as_py() == len(frame)
