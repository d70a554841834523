"""A deployed LLM version behind the model server: /generate with SSE, the OpenAI API through the openai client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import openai
import pytest

import fti
from fti.cli.serve import build_app
from fti.inference_log.features import feature_columns
from fti.testing.serving import running_app

pytestmark = pytest.mark.xdist_group("llm")

PROMPT = "# Task: Return the number of items in the list.\n"


@pytest.fixture(scope="module")
def server(llm_project: fti.Project) -> Iterator[str]:
    """The project's model server with 'writer' deploying 'tiny-gpt2:1'; yields its URL."""
    llm_project.deploy("writer", "tiny-gpt2:1")
    with running_app(build_app(llm_project)) as url:
        yield url


@pytest.fixture(scope="module")
def client(server: str) -> openai.OpenAI:
    """The official OpenAI client, pointed at the server."""
    return openai.OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0)


def test_generate_answers_with_text_usage_and_the_model_version(server: str) -> None:
    body = {"prompt": PROMPT, "max_new_tokens": 12, "temperature": 0.8, "top_k": 40, "top_p": 0.95, "seed": 3}
    first = httpx.post(f"{server}/v1/deployments/writer/generate", json=body).json()
    second = httpx.post(f"{server}/v1/deployments/writer/generate", json=body).json()
    assert first["text"] == second["text"] and first["text"]
    assert first["model_name"] == "tiny-gpt2" and first["model_version"] == 1
    assert first["finish_reason"] in ("stop", "length")
    usage = first["usage"]
    assert (
        usage["completion_tokens"] <= 12
        and usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    )


def test_generate_streams_server_sent_events(server: str) -> None:
    body = {"prompt": PROMPT, "max_new_tokens": 12, "temperature": 0.8, "seed": 4}
    whole = httpx.post(f"{server}/v1/deployments/writer/generate", json=body).json()
    with httpx.stream("POST", f"{server}/v1/deployments/writer/generate", json={**body, "stream": True}) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        events = [line.removeprefix("data: ") for line in answer.iter_lines() if line]
    assert events[-1] == "[DONE]"
    decoded = [json.loads(event) for event in events[:-1]]
    assert "".join(event.get("text", "") for event in decoded) == whole["text"]
    assert decoded[-1]["finish_reason"] == whole["finish_reason"] and decoded[-1]["usage"] == whole["usage"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", 3.0),
        ("top_p", 0),
        ("top_k", -2),
        ("max_new_tokens", 0),
        ("repetition_penalty", -1),
        ("seed", "x"),
    ],
)
def test_out_of_range_parameters_answer_422_naming_the_field(server: str, field: str, value: object) -> None:
    answer = httpx.post(f"{server}/v1/deployments/writer/generate", json={"prompt": PROMPT, field: value})
    assert answer.status_code == 422
    assert f"'{field}'" in answer.json()["error"]


def test_the_openai_client_lists_the_deployment_and_gets_completions(client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["writer"]
    completion = client.completions.create(model="writer", prompt=PROMPT, max_tokens=10, temperature=0.7, seed=1)
    again = client.completions.create(model="writer", prompt=PROMPT, max_tokens=10, temperature=0.7, seed=1)
    assert completion.choices[0].text == again.choices[0].text
    assert completion.object == "text_completion" and completion.model == "writer"
    assert completion.usage is not None and completion.usage.completion_tokens <= 10
    several = client.completions.create(model="writer", prompt=[PROMPT, "def"], max_tokens=4, temperature=0)
    assert [choice.index for choice in several.choices] == [0, 1]


def test_the_openai_client_streams_chat_completions(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "Count the items in a list."}]
    options = {"model": "writer", "messages": messages, "max_tokens": 12, "temperature": 0.9, "seed": 9}
    whole = client.chat.completions.create(**options)  # type: ignore[call-overload]
    chunks = list(client.chat.completions.create(**options, stream=True, stream_options={"include_usage": True}))  # type: ignore[call-overload]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices][-1] == whole.choices[0].finish_reason
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == whole.usage.total_tokens  # type: ignore[union-attr]


def test_the_openai_client_sees_422_with_the_parameter(client: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as info:
        client.completions.create(model="writer", prompt=PROMPT, top_p=1.5)
    assert info.value.body["param"] == "top_p"  # type: ignore[index]
    with pytest.raises(openai.UnprocessableEntityError, match="'n'"):
        client.completions.create(model="writer", prompt=PROMPT, n=2)
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="nowhere", prompt=PROMPT)


def test_concurrent_requests_are_batched(server: str) -> None:
    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server, timeout=60) as http:
            body = {"prompt": PROMPT, "max_new_tokens": 24, "temperature": 0.5}
            return await asyncio.gather(*(http.post("/v1/deployments/writer/generate", json=body) for _ in range(8)))

    before = _batches(server)
    answers = asyncio.run(send_all())
    assert all(answer.status_code == 200 for answer in answers)
    requests, batches = (after - earlier for after, earlier in zip(_batches(server), before, strict=True))
    assert requests == 8 and batches < 8


def _batches(server: str) -> tuple[float, float]:
    """Requests decoded so far and the batches they were decoded in."""
    lines = httpx.get(f"{server}/metrics").text.splitlines()
    values = {
        line.split("{")[0]: float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith("fti_generation_batch")
    }
    return values.get("fti_generation_batch_requests_sum", 0.0), values.get("fti_generation_batch_requests_count", 0.0)


def test_metrics_count_tokens_and_time_to_first_token(server: str) -> None:
    text = httpx.get(f"{server}/metrics").text
    assert 'fti_generated_tokens_total{deployment="writer",model="tiny-gpt2",version="1"}' in text
    assert "fti_time_to_first_token_seconds_bucket" in text
    assert "fti_generation_tokens_per_second_count" in text


def test_every_request_is_in_the_request_log(llm_project: fti.Project, server: str) -> None:
    answer = httpx.post(
        f"{server}/v1/deployments/writer/generate",
        json={"prompt": "# Task: logged.\n", "max_new_tokens": 5, "seed": 1},
        headers={"x-request-id": "logged-request"},
    ).json()
    rows = _logged(llm_project, "logged-request")
    assert len(rows) == 1
    features = rows[0]["features"]
    assert isinstance(features, dict)
    assert features["prompt"] == "# Task: logged.\n" and features["response"] == answer["text"]
    assert features["completion_tokens"] == answer["usage"]["completion_tokens"]
    assert features["prompt_tokens"] == answer["usage"]["prompt_tokens"]
    assert json.loads(features["parameters"])["seed"] == 1 and features["endpoint"] == "generate"
    assert rows[0]["latency_ms"] > 0 and features["time_to_first_token_ms"] > 0


def _logged(project: fti.Project, request_id: str) -> list[dict[str, object]]:
    """The request log's rows of ``request_id``, waiting for the server's writer to flush them."""
    import time

    deadline = time.monotonic() + 20
    while True:
        table = project.inference_log.read("writer")
        features = feature_columns(table).to_pylist() if table.num_rows else []
        rows = [
            {**row, "features": found}
            for row, found in zip(table.to_pylist(), features, strict=True)
            if row["request_id"] == request_id
        ]
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)
