"""The model server fuzzed from its own OpenAPI schema (``/v1``, ``/v2`` and ``/invocations``): no input
answers 5xx, every status code and body is the documented one. ``make fuzz`` runs it with a larger budget."""

from __future__ import annotations

import httpx
import pytest
import schemathesis

from fti.inference.server import ServingSettings, create_app
from tests.fuzzing import fuzz
from tests.integration.serving.conftest import Stack


@pytest.mark.fuzz
def test_model_server_conforms_to_its_schema(stack: Stack) -> None:
    settings = ServingSettings.model_validate({"refresh_seconds": 0.05, "log_flush_seconds": 0.05, "seed": 7})
    app = create_app(stack.registry, stack.deployments, stack.features, stack.sink, settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures = fuzz(schema, {"name": "fraud", "model": "fraud", "version": "1"})
    assert not failures, "\n\n".join(failures)


_ROW = {"amount": 1.0, "hour": 2.0, "distance": 3.0}


def _v2(inputs: list[dict[str, object]], **extra: object) -> dict[str, object]:
    return {"inputs": inputs, **extra}


def _tensor(datatype: str, data: list[object], shape: list[object] | None = None) -> dict[str, object]:
    return {"name": "amount", "datatype": datatype, "shape": shape or [len(data)], "data": data}


_BINARY_HEADER = b'{"inputs":[{"name":"amount","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":6}}]}'
MALFORMED = [
    ("/v2/models/fraud/infer", _v2([_tensor("FP64", [1.0])], parameters=5)),
    ("/v2/models/fraud/infer", _v2([_tensor("INT8", [1000])])),
    ("/v2/models/fraud/infer", _v2([_tensor("FP16", [1e10])])),
    ("/v2/models/fraud/infer", _v2([_tensor("FP64", [1.0], shape=[True])])),
    ("/v2/models/fraud/infer", _v2([_tensor("FP64", [], shape=[0, 3])])),
    ("/v2/models/fraud/infer", _v2([_tensor("UINT64", [2**64])])),
    ("/v1/deployments/fraud/predict", {"instances": [_ROW, {**_ROW, "amount": "x"}]}),
    ("/v1/deployments/fraud/predict", {"instances": [{**_ROW, "amount": [1, 2]}]}),
    ("/v1/deployments/fraud/predict", {"entities": [{"cc_num": "a"}]}),
    ("/v1/deployments/fraud/predict", {"entities": [{"cc_num": 2**70}]}),
    ("/invocations", {"dataframe_split": {"columns": ["amount", "amount", "hour"], "data": [[1.0, 2.0, 3.0]]}}),
    ("/invocations", {"dataframe_split": {"columns": [1, 2, 3], "data": [[1.0, 2.0, 3.0]]}}),
    ("/invocations", {"dataframe_records": [_ROW], "params": 7}),
]


@pytest.mark.parametrize(
    ("path", "body"), MALFORMED, ids=[f"{path}-{index}" for index, (path, _) in enumerate(MALFORMED)]
)
def test_malformed_input_is_a_4xx_naming_the_problem(url: str, path: str, body: dict[str, object]) -> None:
    answer = httpx.post(url + path, json=body, timeout=30)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["error"]


@pytest.mark.parametrize(
    "binary",
    [b"\x06\x00\x00\x00ab", b"\x02\x00\x00\x00\xff\xfe"],
    ids=["truncated length prefix", "invalid UTF-8"],
)
def test_malformed_binary_tensors_are_a_4xx(url: str, binary: bytes) -> None:
    answer = httpx.post(
        url + "/v2/models/fraud/infer",
        content=_BINARY_HEADER + binary,
        headers={
            "Inference-Header-Content-Length": str(len(_BINARY_HEADER)),
            "Content-Type": "application/octet-stream",
        },
        timeout=30,
    )
    assert 400 <= answer.status_code < 500, answer.text
