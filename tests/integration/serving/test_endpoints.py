"""Every endpoint of the real server: /v1, Open Inference Protocol V2 (tritonclient), /invocations, /metrics."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import tritonclient.http as triton

from tests.integration.serving.conftest import COLUMNS, ServerFactory, Stack, rows

pytestmark = [pytest.mark.e2e]


def test_health_and_server_metadata(url: str) -> None:
    assert httpx.get(f"{url}/v2/health/live").status_code == 200
    assert httpx.get(f"{url}/v2/health/ready").status_code == 200
    assert httpx.get(f"{url}/ping").status_code == 200
    assert httpx.get(f"{url}/v2").json()["extensions"] == ["binary_tensor_data"]


def test_v1_predicts_instances_with_model_and_version_per_row(url: str, stack: Stack) -> None:
    frame = rows(5)
    response = httpx.post(f"{url}/v1/deployments/fraud/predict", json={"instances": frame.to_dict("records")})
    assert response.status_code == 200
    body = response.json()
    np.testing.assert_allclose(body["predictions"], stack.expected(1, frame))
    assert body["model_names"] == ["fraud"] * 5
    assert body["model_versions"] == [1] * 5
    assert body["deployment"] == "fraud"
    assert len(body["request_id"]) == 32
    assert response.headers["x-request-id"] == body["request_id"]


def test_v1_keeps_a_request_id_the_caller_sends(url: str) -> None:
    response = httpx.post(
        f"{url}/v1/deployments/fraud/predict",
        json={"instances": rows(1).to_dict("records")},
        headers={"X-Request-ID": "caller-42"},
    )
    assert response.json()["request_id"] == "caller-42"


def test_v1_looks_features_up_for_entities_with_passed_features_winning(url: str, stack: Stack) -> None:
    payload = {"entities": [{"cc_num": 101}, {"cc_num": 105}], "passed_features": [{"hour": 0.0}, {"hour": 23.0}]}
    response = httpx.post(f"{url}/v1/deployments/fraud/predict", json=payload)
    assert response.status_code == 200, response.text
    stored = rows(10, seed=5).iloc[[1, 5]].reset_index(drop=True)
    stored["hour"] = [0.0, 23.0]
    np.testing.assert_allclose(response.json()["predictions"], stack.expected(1, stored))


def test_v2_metadata_and_readiness_of_deployments_and_registered_models(url: str) -> None:
    metadata = httpx.get(f"{url}/v2/models/fraud").json()
    assert metadata["inputs"][0] == {"name": "amount", "datatype": "FP64", "shape": [-1]}
    assert metadata["outputs"] == [{"name": "fraud_probability", "datatype": "FP64", "shape": [-1]}]  # a regressor
    assert httpx.get(f"{url}/v2/models/ab").json()["versions"] == ["1", "2"]
    assert httpx.get(f"{url}/v2/models/fraud/versions/2").json()["versions"] == ["2"]
    assert httpx.get(f"{url}/v2/models/fraud-shadow/ready").status_code == 200
    assert httpx.get(f"{url}/v2/models/fraud/versions/2/ready").status_code == 200
    assert httpx.get(f"{url}/v2/models/nothing/ready").status_code == 404


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_infers_one_tensor_per_column(url: str, stack: Stack, binary: bool) -> None:
    frame = rows(7, seed=3)
    client = triton.InferenceServerClient(url=url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("fraud")
    assert client.get_model_metadata("fraud")["name"] == "fraud"
    inputs = []
    for column in COLUMNS:
        tensor = triton.InferInput(column, [len(frame)], "FP64")
        tensor.set_data_from_numpy(frame[column].to_numpy(), binary_data=binary)
        inputs.append(tensor)
    outputs = None if binary else [triton.InferRequestedOutput("fraud_probability", binary_data=False)]
    result = client.infer("fraud", inputs, outputs=outputs, request_id="r-1")
    np.testing.assert_allclose(result.as_numpy("fraud_probability"), stack.expected(1, frame))
    response = result.get_response()
    assert response["model_version"] == "1"
    assert response["id"] == "r-1"
    client.close()


def test_tritonclient_infers_a_matrix_against_a_model_version(url: str, stack: Stack) -> None:
    frame = rows(4, seed=9)
    client = triton.InferenceServerClient(url=url.removeprefix("http://"))
    tensor = triton.InferInput("features", [4, 3], "FP32")
    tensor.set_data_from_numpy(frame.to_numpy(dtype=np.float32))
    result = client.infer("fraud", [tensor], model_version="2")
    np.testing.assert_allclose(
        result.as_numpy("fraud_probability"), stack.expected(2, frame.astype(np.float32)), rtol=1e-6
    )
    assert result.get_response()["model_version"] == "2"
    client.close()


def test_v2_json_request_with_plain_httpx(url: str, stack: Stack) -> None:
    frame = rows(2)
    inputs = [{"name": c, "shape": [2], "datatype": "FP64", "data": frame[c].tolist()} for c in COLUMNS]
    response = httpx.post(f"{url}/v2/models/fraud/infer", json={"inputs": inputs})
    assert response.status_code == 200
    output = response.json()["outputs"][0]
    assert output["name"] == "fraud_probability" and output["shape"] == [2]
    np.testing.assert_allclose(output["data"], stack.expected(1, frame))


@pytest.mark.parametrize(
    "payload",
    [
        {"dataframe_split": {"columns": COLUMNS, "data": rows(3).to_numpy().tolist()}},
        {"dataframe_records": rows(3).to_dict("records")},
        {"instances": rows(3).to_dict("records")},
        {"inputs": rows(3).to_dict("list")},
    ],
    ids=["dataframe_split", "dataframe_records", "instances", "inputs"],
)
def test_invocations_accepts_mlflow_payloads(serve: ServerFactory, stack: Stack, payload: dict[str, object]) -> None:
    with serve(invocations_deployment="fraud") as url:
        response = httpx.post(f"{url}/invocations", json=payload)
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["predictions"], stack.expected(1, rows(3)))


def test_invocations_accepts_text_csv_as_mlflow_does(serve: ServerFactory, stack: Stack) -> None:
    with serve(invocations_deployment="fraud") as url:
        csv = rows(3).to_csv(index=False)
        response = httpx.post(f"{url}/invocations", content=csv, headers={"Content-Type": "text/csv; charset=utf-8"})
        header_only = httpx.post(
            f"{url}/invocations", content=",".join(COLUMNS) + "\n", headers={"Content-Type": "text/csv"}
        )
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["predictions"], stack.expected(1, rows(3)))
    assert header_only.status_code == 422
    assert header_only.json()["error"].startswith("The text/csv request body has a header (amount, ")
    assert header_only.json()["error"].endswith("but no rows to score.")


def test_unknown_paths_and_methods_answer_in_the_error_format(url: str) -> None:
    missing = httpx.get(f"{url}/v1/nothing-here", headers={"X-Request-ID": "caller-7"})
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "No endpoint at /v1/nothing-here: the server answers /v1/deployments/NAME/predict, "
        "/v2/models/NAME/infer, /invocations, /v1/completions, /metrics and /v2/health/ready.",
        "request_id": "caller-7",
    }
    wrong = httpx.get(f"{url}/invocations")
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "GET is not allowed on /invocations." and wrong.json()["request_id"]


def test_metrics_count_requests_by_deployment_and_version(url: str) -> None:
    for _ in range(3):
        httpx.post(f"{url}/v1/deployments/fraud/predict", json={"instances": rows(2).to_dict("records")})
    httpx.post(f"{url}/v1/deployments/nothing/predict", json={"instances": rows(1).to_dict("records")})
    text = httpx.get(f"{url}/metrics").text
    assert 'fti_requests_total{deployment="fraud",model="fraud",version="1"} 3.0' in text
    assert 'fti_predicted_rows_total{deployment="fraud",model="fraud",shadow="false",version="1"} 6.0' in text
    assert 'fti_request_latency_seconds_count{deployment="fraud",model="fraud",version="1"} 3.0' in text
    assert 'fti_request_errors_total{endpoint="v1",status="404"} 1.0' in text
    assert "fti_request_log_queue_rows " in text


def test_micro_batching_answers_concurrent_requests_exactly(serve: ServerFactory, stack: Stack) -> None:
    frames = [rows(1 + index % 3, seed=index) for index in range(24)]

    async def send_all(url: str) -> list[httpx.Response]:
        import asyncio

        async with httpx.AsyncClient(base_url=url) as client:
            return await asyncio.gather(
                *(
                    client.post("/v1/deployments/fraud/predict", json={"instances": frame.to_dict("records")})
                    for frame in frames
                )
            )

    import asyncio

    with serve(batching=True, batch_max_wait_ms=20, batch_max_rows=64) as url:
        responses = asyncio.run(send_all(url))
        metrics = httpx.get(f"{url}/metrics").text
    for frame, response in zip(frames, responses, strict=True):
        np.testing.assert_allclose(response.json()["predictions"], stack.expected(1, frame))
    # how many requests share a batch depends on timing; that every row went through a batch does not
    batched_rows = float(metrics.split('fti_batch_rows_sum{model="fraud"} ')[1].split()[0])
    assert batched_rows == sum(len(frame) for frame in frames)
