"""A request the server accepts is one the request log can keep: entity keys and unchecked features are
refused at the door (422 naming the field) over /v1, /v2 and /invocations, and nothing of them is logged."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from fti.core.deployments import Deployment
from fti.errors import ValidationError
from tests.integration.serving.conftest import COLUMNS, ServerFactory, Stack, rows

pytestmark = [pytest.mark.e2e]


def _instances(count: int, **columns: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = rows(count, seed=3).to_dict("records")
    for name, values in columns.items():
        for record, value in zip(records, values, strict=True):
            record[name] = value
    return records


@pytest.fixture
def typed(stack: Stack) -> Stack:
    """Deployments routing by a declared integer key, a declared string key, and a model without a signature."""
    stack.deployments.put(
        Deployment.create("typed", {"fraud@champion": 0.5, "fraud@challenger": 0.5}, entity_keys=["cc_num:int64"])
    )
    stack.deployments.put(Deployment.create("named", {"fraud@champion": 1.0}, entity_keys=["user:string"]))
    stack.registry.register("loose", LinearRegression().fit(rows(50)[COLUMNS], np.arange(50.0)), [])
    stack.deployments.put(Deployment.create("loose", {"loose": 1.0}))
    return stack


def _logged_ids(stack: Stack) -> set[str]:
    return set(stack.sink.table().column("request_id").to_pylist()) if stack.sink.batches else set()


def test_a_key_of_another_type_than_declared_is_refused_and_not_logged(serve: ServerFactory, typed: Stack) -> None:
    with serve() as url:
        bad = httpx.post(
            f"{url}/v1/deployments/typed/predict",
            json={"instances": _instances(3, cc_num=[4242, "a", 7])},
            headers={"x-request-id": "bad-key"},
        )
        good = httpx.post(
            f"{url}/v1/deployments/typed/predict",
            json={"instances": _instances(3, cc_num=[4242, 4243.0, 7])},  # a whole float is an integer
            headers={"x-request-id": "good-key"},
        )
        string_key = httpx.post(
            f"{url}/v1/deployments/named/predict", json={"instances": _instances(2, user=["ann", 5])}
        )
    assert bad.status_code == 422
    assert bad.json()["error"] == (
        "Deployment 'typed' expects entity key 'cc_num' as an integer (declared as int64): row 1 has 'a'. "
        "Send 'cc_num' as an integer in every row and every request."
    )
    assert good.status_code == 200, good.text
    assert string_key.status_code == 422
    assert "entity key 'user' as a string (declared as string): row 1 has 5" in string_key.json()["error"]
    assert _logged_ids(typed) == {"good-key"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([2.0, 1.5], "entity key 'cc_num' as an integer or a string: row 1 has 1.5"),
        ([1, True], "entity key 'cc_num' as an integer or a string: row 1 has True"),
        ([1, None], "null entity key 'cc_num' in row 1"),
        ([2**64 - 1, 1], "row 0 has 18446744073709551615"),
        (["a", 1], "row 1 has 1"),
    ],
)
def test_an_undeclared_key_must_be_integers_or_strings_of_one_kind(
    serve: ServerFactory, stack: Stack, values: list[Any], message: str
) -> None:
    with serve() as url:
        response = httpx.post(f"{url}/v1/deployments/ab/predict", json={"instances": _instances(2, cc_num=values)})
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]
    assert _logged_ids(stack) == set()


def test_keys_are_checked_on_v2_and_invocations_too(serve: ServerFactory, typed: Stack) -> None:
    frame = rows(2)
    inputs = [{"name": name, "shape": [2], "datatype": "FP64", "data": frame[name].tolist()} for name in COLUMNS] + [
        {"name": "cc_num", "shape": [2], "datatype": "BYTES", "data": ["a", "b"]}
    ]
    with serve(invocations_deployment="typed") as url:
        v2 = httpx.post(f"{url}/v2/models/typed/infer", json={"inputs": inputs})
        invocations = httpx.post(f"{url}/invocations", json={"dataframe_records": _instances(2, cc_num=["x", "y"])})
    for response in (v2, invocations):
        assert response.status_code == 422, response.text
        assert "entity key 'cc_num' as an integer (declared as int64): row 0 has" in response.json()["error"]
    assert _logged_ids(typed) == set()


def test_a_model_without_a_signature_gets_only_plain_columns(serve: ServerFactory, typed: Stack) -> None:
    nested = _instances(2)
    nested[1]["amount"] = [1.0, 2.0]
    with serve() as url:
        refused = httpx.post(f"{url}/v1/deployments/loose/predict", json={"instances": nested})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == (
        "Deployment 'loose' got column 'amount' whose row 1 has [1.0, 2.0]: send numbers, booleans or strings, "
        "one kind per column."
    )


def test_a_declared_key_type_must_be_known() -> None:
    with pytest.raises(ValidationError, match=r"declares entity key 'cc_num' as 'int': use one of int64, string"):
        Deployment.create("typed", {"m": 1.0}, entity_keys=["cc_num:int"])
    created = Deployment.create("typed", {"m": 1.0}, entity_keys=["cc_num:int64", "merchant"])
    assert created.entity_keys == ("cc_num", "merchant")
    assert created.entity_key_specs == ("cc_num:int64", "merchant")
