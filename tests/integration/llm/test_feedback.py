"""Feedback on a deployed LLM's answers: over HTTP and from the SDK, into the feedback group, joined to the log."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

import fti
from fti.cli.serve import build_app
from fti.errors import ValidationError
from fti.testing.serving import running_app

pytestmark = pytest.mark.xdist_group("llm")

PROMPT = "# Task: Return the number of items in the list.\n"


@pytest.fixture(scope="module")
def app(llm_project: fti.Project) -> FastAPI:
    """The project's model server app with 'writer' deploying 'tiny-gpt2:1'."""
    llm_project.deploy("writer", "tiny-gpt2:1")
    return build_app(llm_project)


@pytest.fixture(scope="module")
def server(app: FastAPI) -> Iterator[str]:
    """The running server's URL."""
    with running_app(app) as url:
        yield url


def _generate(server: str, seed: int) -> dict[str, object]:
    body = {"prompt": PROMPT, "max_new_tokens": 8, "temperature": 0.9, "seed": seed}
    answer = httpx.post(f"{server}/v1/deployments/writer/generate", json=body, timeout=60)
    assert answer.status_code == 200
    return {**answer.json(), "request_id": answer.headers["x-request-id"]}


def test_feedback_over_http_lands_in_the_feedback_group_joined_to_the_log(
    server: str, llm_project: fti.Project
) -> None:
    answered = _generate(server, 1)
    sent = {"request_id": answered["request_id"], "rating": 1.0, "comment": "good"}
    answer = httpx.post(f"{server}/v1/deployments/writer/feedback", json=sent)
    assert answer.status_code == 200, answer.text
    assert answer.json()["request_id"] == answered["request_id"] and answer.json()["deployment"] == "writer"

    preferred = {"request_id": answered["request_id"], "preferred": "def count(items):\n    return len(items)\n"}
    assert httpx.post(f"{server}/v1/deployments/writer/feedback", json=preferred).status_code == 200

    rows = llm_project.feedback("writer")
    mine = rows[rows["request_id"] == answered["request_id"]].reset_index(drop=True)
    assert len(mine) == 2
    assert set(mine["model_name"]) == {"tiny-gpt2"} and set(mine["model_version"]) == {1}
    assert set(mine["prompt"]) == {PROMPT} and set(mine["response"]) == {answered["text"]}
    assert mine["rating"].tolist()[0] == 1.0 and mine["comment"].tolist()[0] == "good"
    assert mine["rejected"].tolist()[1] == answered["text"]  # a preference without 'rejected' rejects the answer
    group = llm_project.get_feature_group("feedback", 1)
    assert len(group.read()) == len(llm_project.feedback())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"request_id": "never-answered"}, "request_id"),
        ({"rating": 1.5}, "rating"),
        ({"rating": None, "preferred": "same", "rejected": "same"}, "preferred"),
        ({"rating": "high"}, "rating"),
        ({"rating": None}, "rating"),
        ({"stars": 4}, "stars"),
    ],
)
def test_bad_feedback_answers_422_naming_the_field_and_writes_nothing(
    server: str, llm_project: fti.Project, change: dict[str, object], field: str
) -> None:
    answered = _generate(server, 2)
    before = len(llm_project.feedback())
    body = {"request_id": answered["request_id"], "rating": 0.0, **change}
    answer = httpx.post(f"{server}/v1/deployments/writer/feedback", json=body)
    assert answer.status_code == 422
    assert f"'{field}'" in answer.json()["error"]
    assert len(llm_project.feedback()) == before


def test_the_feedback_route_is_in_the_openapi_schema(server: str) -> None:
    schema = httpx.get(f"{server}/openapi.json").json()
    route = schema["paths"]["/v1/deployments/{name}/feedback"]["post"]
    body = route["requestBody"]["content"]["application/json"]["schema"]
    assert {"request_id", "rating", "preferred", "rejected", "comment"} <= set(body["properties"])


def test_log_feedback_takes_columns_and_checks_every_row_first(
    server: str, app: FastAPI, llm_project: fti.Project
) -> None:
    first, second = _generate(server, 3), _generate(server, 4)
    assert app.state.server.logger.flush()  # the SDK reads the log as written: have the server write it now
    before = len(llm_project.feedback())
    with pytest.raises(ValidationError, match=r"Feedback row 1: 'rating' is outside \[0, 1\]"):
        ids = [first["request_id"], second["request_id"]]
        llm_project.log_feedback("writer", {"request_id": ids, "rating": [1, 7]})
    assert len(llm_project.feedback()) == before
    rows = [{"request_id": first["request_id"], "rating": 0.25}, {"request_id": second["request_id"], "rating": 1}]
    written = llm_project.log_feedback("writer", rows)
    assert len(written.feedback_ids) == 2
    assert len(llm_project.feedback("writer")) == before + 2
