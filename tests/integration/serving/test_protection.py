"""Error answers of the real server: 401, 413, 422 naming the field, 404, 429 under overload, 500 without internals."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fti.core.deployments import Deployment
from tests.integration.serving.conftest import ServerFactory, Stack, rows

pytestmark = [pytest.mark.e2e]

ONE_ROW = {"instances": [{"amount": 1.0, "hour": 2.0, "distance": 3.0}]}


def test_tokens_guard_everything_but_health(serve: ServerFactory) -> None:
    with serve(tokens=["s3cret"]) as url:
        missing = httpx.post(f"{url}/v1/deployments/fraud/predict", json=ONE_ROW)
        wrong = httpx.get(f"{url}/v2/models/fraud", headers={"Authorization": "Bearer nope"})
        undecodable = httpx.get(f"{url}/v2/models/fraud", headers={"Authorization": b"Bearer \xff\xfe"})
        metrics = httpx.get(f"{url}/metrics")
        good = httpx.post(
            f"{url}/v1/deployments/fraud/predict", json=ONE_ROW, headers={"Authorization": "Bearer s3cret"}
        )
        health = httpx.get(f"{url}/v2/health/ready")
    for rejected in (missing, wrong, undecodable, metrics):
        assert rejected.status_code == 401
        assert rejected.json()["error"].startswith(
            "Missing, invalid, expired or revoked API token: send 'Authorization: Bearer <token>'"
        )
        assert rejected.headers["www-authenticate"] == "Bearer"
    assert good.status_code == 200
    assert health.status_code == 200


def test_bodies_over_the_limit_get_413(serve: ServerFactory) -> None:
    big = {"instances": rows(200).to_dict("records")}
    with serve(max_body_bytes=2000) as url:
        declared = httpx.post(f"{url}/v1/deployments/fraud/predict", json=big)

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while reading
            yield b'{"instances": ['
            yield b'{"amount": 1.0, "hour": 2.0, "distance": 3.0},' * 100
            yield b"]}"

        streamed = httpx.post(f"{url}/v1/deployments/fraud/predict", content=chunks())
        small = httpx.post(f"{url}/v1/deployments/fraud/predict", json=ONE_ROW)
    assert declared.status_code == 413
    assert "over the server's limit of 2000: send fewer rows per request" in declared.json()["error"]
    assert streamed.status_code == 413
    assert "over the server's limit of 2000" in streamed.json()["error"]
    assert small.status_code == 200


def test_requests_over_the_limit_in_flight_get_429_at_once(
    serve: ServerFactory, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the first request's feature lookup (off the event loop) waits until the test releases it
    entered, released = threading.Event(), threading.Event()
    look_up = stack.features.get_feature_vectors

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        assert released.wait(30)
        return look_up(*args, **kwargs)

    monkeypatch.setattr(stack.features, "get_feature_vectors", held)
    answers: list[httpx.Response] = []
    with serve(max_concurrent_requests=1) as url:
        looked_up = {"entities": [{"cc_num": 101}]}
        first = threading.Thread(
            target=lambda: answers.append(httpx.post(f"{url}/v1/deployments/fraud/predict", json=looked_up, timeout=30))
        )
        first.start()
        assert entered.wait(30)  # the first request is in flight, and stays there
        refused = httpx.post(f"{url}/v1/deployments/fraud/predict", json=ONE_ROW)
        released.set()
        health = httpx.get(f"{url}/v2/health/ready")  # probes are never refused
        first.join()
        after = httpx.post(f"{url}/v1/deployments/fraud/predict", json=ONE_ROW)
    assert [answer.status_code for answer in answers] == [200]
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert refused.json()["error"] == (
        "The server is handling its limit of 1 requests at once: retry after 1 s, or raise "
        "serving.max_concurrent_requests (or run more workers)."
    )
    assert refused.json()["request_id"] == refused.headers["x-request-id"]
    assert health.status_code == 200
    assert after.status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "The request body is not valid JSON"),
        (b"[1, 2]", "The request body must be a JSON object"),
        (b'{"rows": []}', "Unknown field 'rows' in the request body"),
        (b'{"instances": []}', "Field 'instances' must be a non-empty list of objects"),
        (
            b'{"instances": [{"amount": 1, "hour": 2, "distance": 3}, {"amount": 1, "hour": 2}]}',
            "Field 'instances[1]' lacks ['distance']: every object needs the same keys.",
        ),
        (
            b'{"instances": [{"amount": 1, "hour": 2}]}',
            "Model 'fraud' v1 expects column 'distance' (double), but the input has no such column. "
            "Expected columns: amount, hour, distance.",
        ),
        (
            b'{"instances": [{"amount": 1, "hour": 2, "distance": 3, "colour": 1}]}',
            "Model 'fraud' v1 got unexpected column 'colour': remove it. Expected columns: amount, hour, distance.",
        ),
        (
            b'{"instances": [{"amount": "a lot", "hour": 2, "distance": 3}]}',
            "Model 'fraud' v1 expects column 'amount' as double, got string. Cast the column to double.",
        ),
    ],
    ids=["json", "not-object", "unknown-field", "empty", "ragged", "missing-column", "extra-column", "mistyped"],
)
def test_invalid_input_gets_422_naming_the_field(url: str, body: bytes, message: str) -> None:
    response = httpx.post(
        f"{url}/v1/deployments/fraud/predict", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert message in response.json()["error"]
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_invalid_v2_and_invocations_input_gets_422(url: str) -> None:
    bad_shape = {"inputs": [{"name": "amount", "shape": [2], "datatype": "FP64", "data": [1.0]}]}
    response = httpx.post(f"{url}/v2/models/fraud/infer", json=bad_shape)
    assert response.status_code == 422
    assert response.json()["error"] == "Field 'inputs[0]' has 1 values but its shape [2] needs 2."
    response = httpx.post(f"{url}/v2/models/fraud/infer", json={"inputs": []})
    assert response.json()["error"] == "Field 'inputs' must be a non-empty list of tensors."
    response = httpx.post(f"{url}/invocations", json={"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}})
    assert response.status_code == 422
    assert "Field 'dataframe_split.data[0]' must be a list of 1 values" in response.json()["error"]


def test_unknown_deployments_and_models_get_404(url: str) -> None:
    response = httpx.post(f"{url}/v1/deployments/nothing/predict", json=ONE_ROW)
    assert response.status_code == 404
    assert response.json()["error"].startswith("Deployment 'nothing' does not exist (deployments: ab, broken, fraud)")
    response = httpx.get(f"{url}/v2/models/nothing")
    assert response.status_code == 404
    assert response.json()["error"].startswith("'nothing' is neither a deployment nor a registered model")
    response = httpx.post(f"{url}/v2/models/fraud/versions/9/infer", json={"inputs": []})
    assert response.status_code == 404
    assert "Model 'fraud' has no version 9" in response.json()["error"]
    # several deployments and none chosen for /invocations
    response = httpx.post(f"{url}/invocations", json={"instances": ONE_ROW["instances"]})
    assert response.status_code == 404
    assert "set serving.invocations_deployment" in response.json()["error"]


def test_model_failures_get_500_with_the_request_id_and_no_internals(url: str) -> None:
    response = httpx.post(f"{url}/v1/deployments/broken/predict", json=ONE_ROW)
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == f"Prediction failed on request {body['request_id']}; the server log has the details."
    assert "NotFitted" not in response.text and "Traceback" not in response.text


def test_deployments_created_after_start_are_served(url: str, stack: Stack) -> None:
    stack.deployments.put(Deployment.create("late", {"fraud:2": 1.0}))
    response = httpx.post(f"{url}/v1/deployments/late/predict", json=ONE_ROW)
    assert response.status_code == 200
    assert response.json()["model_versions"] == [2]
