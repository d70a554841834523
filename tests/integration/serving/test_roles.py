"""Roles on the model server: reads need 'read', predictions 'predict'; 403 names the role; no answer or log
line ever repeats a token."""

from __future__ import annotations

import logging

import httpx
import pytest

from fti.core.access import Identity
from tests.integration.serving.conftest import ServerFactory

pytestmark = [pytest.mark.e2e]

ONE_ROW = {"instances": [{"amount": 1.0, "hour": 2.0, "distance": 3.0}]}
READER, SCORER = "fti_reader-secret-1", "fti_scorer-secret-2"
TOKENS = {READER: Identity("dashboards", "read"), SCORER: Identity("scoring", "predict")}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_predictions_need_the_predict_role_and_reads_the_read_role(serve: ServerFactory) -> None:
    with serve(tokens=TOKENS) as url:
        refused = httpx.post(f"{url}/v1/deployments/fraud/predict", json=ONE_ROW, headers=_bearer(READER))
        infer = httpx.post(f"{url}/v2/models/fraud/infer", json={"inputs": []}, headers=_bearer(READER))
        invocations = httpx.post(f"{url}/invocations", json={"instances": []}, headers=_bearer(READER))
        status = httpx.get(f"{url}/v1/status", headers=_bearer(READER))
        metadata = httpx.get(f"{url}/v2/models/fraud", headers=_bearer(READER))
        scored = httpx.post(f"{url}/v1/deployments/fraud/predict", json=ONE_ROW, headers=_bearer(SCORER))
        scorer_reads = httpx.get(f"{url}/v1/status", headers=_bearer(SCORER))
    assert refused.status_code == 403
    assert refused.json()["error"] == (
        "Token 'dashboards' has role 'read', but POST /v1/deployments/fraud/predict needs role 'predict' or higher: "
        "use a token with that role (`fti tokens create NAME --role predict`)."
    )
    assert refused.json()["request_id"] == refused.headers["x-request-id"]
    assert infer.status_code == 403 and invocations.status_code == 403
    assert status.status_code == 200 and metadata.status_code == 200
    assert scored.status_code == 200 and scorer_reads.status_code == 200  # predict includes read


def test_tokens_never_appear_in_answers_or_the_server_log(
    serve: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "fti_wrong-secret-3"
    caplog.set_level(logging.DEBUG)
    with serve(tokens=TOKENS) as url:
        answers = [
            httpx.post(f"{url}/v1/deployments/broken/predict", json=ONE_ROW, headers=_bearer(SCORER)),  # 500
            httpx.post(f"{url}/v1/deployments/fraud/predict", json=ONE_ROW, headers=_bearer(READER)),  # 403
            httpx.post(f"{url}/v1/deployments/fraud/predict", json=ONE_ROW, headers=_bearer(wrong)),  # 401
            httpx.post(f"{url}/v1/deployments/fraud/predict", content=b"{bad", headers=_bearer(SCORER)),  # 422
            httpx.post(f"{url}/v1/deployments/nope/predict", json=ONE_ROW, headers=_bearer(SCORER)),  # 404
        ]
    assert [answer.status_code for answer in answers] == [500, 403, 401, 422, 404]
    # the server's side of the log (this client's own httpx/httpcore debug lines aside)
    logged = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''}"
        for record in caplog.records
        if not record.name.startswith(("httpx", "httpcore"))
    )
    assert "failed" in logged and "Traceback" in caplog.text  # the 500 was logged, with its traceback
    for secret in (READER, SCORER, wrong):
        assert all(secret not in answer.text and secret not in str(answer.headers) for answer in answers)
        assert secret not in logged
