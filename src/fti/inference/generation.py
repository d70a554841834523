"""Text generation on the model server: ``/v1/deployments/{name}/generate`` and an OpenAI-compatible subset.

Endpoints (mounted by :func:`fti.inference.server.create_app`):

- ``POST /v1/deployments/{name}/generate``: ``{"prompt": ..., "max_new_tokens": ..., "temperature": ...,
  "top_k": ..., "top_p": ..., "repetition_penalty": ..., "stop": [...], "seed": ..., "stream": false}``;
  answers ``text``, ``finish_reason``, ``usage``, the model name and version; with ``"stream": true``,
  server-sent events of ``{"text": piece}`` and a last ``{"finish_reason": ..., "usage": ...}``.
- ``POST /v1/completions``, ``POST /v1/chat/completions`` (the tokenizer's chat template), ``GET
  /v1/models``: the OpenAI API's shapes (streaming included), so the official ``openai`` client works
  unchanged; ``model`` names a deployment. Errors answer ``{"error": {"message", "type", "param",
  "code"}}``.

A deployment of several variants picks one at random per request by its traffic split. Concurrent
requests to one model are decoded together (:mod:`fti.inference.text_batching`). Every request is
written to the request log (prompt, response, token counts, parameters, time to first token, latency)
and counted in Prometheus: generated and prompt tokens, time to first token, tokens per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import orjson
import pandas as pd
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from prometheus_client import Counter, Histogram

from fti.errors import BackendError, ParameterError, UserError, ValidationError
from fti.inference.live import LoadedDeployment, ModelTable
from fti.inference.metrics import ServerMetrics
from fti.inference.payloads import parse_json
from fti.inference.ports import ServedModel
from fti.inference.text_batching import TextBatcher
from fti.inference.text_requests import AnswerShape, TextCall, parse_chat, parse_completions, parse_generate
from fti.inference_log.writer import LogRecord, RequestLogger
from fti.llm.decoding import GenerationRequest
from fti.llm.generation import GenerationParams
from fti.llm.generator import TextGenerator

__all__ = ["GenerationRoutes", "ServerHooks", "mount_generation"]

_logger = logging.getLogger(__name__)
_JSON = "application/json"
_TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SPEED_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
_MAX_BATCH = 16


class ServerHooks(Protocol):
    """What the generation routes use of the model server (``fti.inference.server``)."""

    metrics: ServerMetrics
    logger: RequestLogger
    table: ModelTable

    def route(
        self, endpoint: str, handler: Callable[[Request, str, float], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """``handler`` with every error turned into a JSON answer."""
        ...

    async def body(self, request: Request) -> bytes:
        """The request body, refused past the size limit."""
        ...

    async def deployment(self, name: str) -> LoadedDeployment:
        """The loaded deployment ``name`` (loaded now if it is new)."""
        ...


class GenerationMetrics:
    """Prometheus metrics of text generation, in the server's registry."""

    def __init__(self, metrics: ServerMetrics) -> None:
        labels = ["deployment", "model", "version"]
        self.completion_tokens = Counter(
            "fti_generated_tokens",
            "Tokens generated, by deployment and model version.",
            labels,
            registry=metrics.registry,
        )
        self.prompt_tokens = Counter(
            "fti_prompt_tokens",
            "Prompt tokens read, by deployment and model version.",
            labels,
            registry=metrics.registry,
        )
        self.time_to_first_token = Histogram(
            "fti_time_to_first_token_seconds",
            "Time from receiving a generation request to its first generated token.",
            labels,
            buckets=_TTFT_BUCKETS,
            registry=metrics.registry,
        )
        self.tokens_per_second = Histogram(
            "fti_generation_tokens_per_second",
            "Tokens per second of each generation request, from its first token to its last.",
            labels,
            buckets=_SPEED_BUCKETS,
            registry=metrics.registry,
        )
        self.batch_size = Histogram(
            "fti_generation_batch_requests",
            "Requests decoded together in one batch, by model.",
            ["model"],
            buckets=(1, 2, 4, 8, 16, 32),
            registry=metrics.registry,
        )


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a call goes: the deployment, the variant, its model and generator, the checked parameters."""

    deployment: str
    variant: str
    model: ServedModel
    generator: TextGenerator
    params: GenerationParams


def text_generator(model: ServedModel, deployment: str) -> TextGenerator:
    """The TextGenerator a served model version loaded; ValidationError when it is another kind of model."""
    loaded = getattr(model, "loaded", model)
    if not isinstance(loaded, TextGenerator):
        raise ValidationError(
            f"Deployment '{deployment}' serves model '{model.name}' v{model.version}, which is not a text generation "
            "model: call /v1/deployments/{name}/predict for it, or deploy a transformers model version."
        )
    return loaded


def _openai_error(status: int, message: str, param: str | None) -> Response:
    kind = "invalid_request_error" if status < 500 else "server_error"
    code = {401: "invalid_api_key", 404: "model_not_found"}.get(status)
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return Response(orjson.dumps(body), status, media_type=_JSON)


def _sse(value: Any) -> bytes:
    return b"data: " + orjson.dumps(value) + b"\n\n"


@dataclass(slots=True)
class _Job:
    """A checked call on its way through the batcher."""

    call: TextCall
    target: _Target
    prompts: tuple[str, ...]
    requests: list[GenerationRequest]


class GenerationRoutes:
    """The generation endpoints of one server app."""

    def __init__(self, hooks: ServerHooks) -> None:
        self.hooks = hooks
        self.metrics = GenerationMetrics(hooks.metrics)
        self._batchers: dict[int, TextBatcher] = {}
        self._streams: set[asyncio.Task[None]] = set()

    def mount(self, app: FastAPI) -> None:
        """Add the routes to ``app``; the batchers finish their queues when it shuts down."""
        post = ["POST"]
        app.add_route("/v1/deployments/{name}/generate", self.hooks.route("generate", self.generate), methods=post)
        app.add_route("/v1/completions", self._openai("completions", self.completions), methods=post)
        app.add_route("/v1/chat/completions", self._openai("chat", self.chat), methods=post)
        app.add_route("/v1/models", self._openai("models", self.models), methods=["GET"])
        inner = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(application: Any) -> AsyncIterator[Any]:
            async with inner(application) as state:
                try:
                    yield state
                finally:  # before the server's own shutdown, which flushes the request log
                    await self.close()

        app.router.lifespan_context = lifespan

    async def close(self) -> None:
        """Wait for streams in flight, finish queued batches and stop the batchers."""
        if self._streams:
            await asyncio.gather(*self._streams, return_exceptions=True)
        for batcher in list(self._batchers.values()):
            await batcher.close()
        self._batchers.clear()

    # -- endpoints -----------------------------------------------------------------------------------

    async def generate(self, request: Request, request_id: str, started: float) -> Response:
        """``POST /v1/deployments/{name}/generate``."""
        call = parse_generate(parse_json(await self.hooks.body(request)), request.path_params["name"])
        return await self._answer(call, request_id, started)

    async def completions(self, request: Request, request_id: str, started: float) -> Response:
        """``POST /v1/completions``."""
        return await self._answer(parse_completions(parse_json(await self.hooks.body(request))), request_id, started)

    async def chat(self, request: Request, request_id: str, started: float) -> Response:
        """``POST /v1/chat/completions``."""
        return await self._answer(parse_chat(parse_json(await self.hooks.body(request))), request_id, started)

    async def models(self, _request: Request, _request_id: str, _started: float) -> Response:
        """``GET /v1/models``: the deployments that serve a text generation model."""
        data = []
        for name in sorted(self.hooks.table.deployment_names):
            loaded = self.hooks.table.find_deployment(name)
            if loaded is None or not isinstance(getattr(loaded.models[0], "loaded", None), TextGenerator):
                continue
            created = int(loaded.deployment.created_at.timestamp()) if loaded.deployment.created_at else 0
            data.append({"id": name, "object": "model", "created": created, "owned_by": "fti"})
        return Response(orjson.dumps({"object": "list", "data": data}), media_type=_JSON)

    # -- plumbing ------------------------------------------------------------------------------------

    def _openai(
        self, endpoint: str, handler: Callable[[Request, str, float], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """``handler`` with errors in the OpenAI API's shape (the official client reads them)."""

        async def guarded(request: Request) -> Response:
            started = time.perf_counter()
            request_id = uuid.uuid4().hex
            try:
                response = await handler(request, request_id, started)
            except (UserError, BackendError) as exc:
                param = exc.name if isinstance(exc, ParameterError) else None
                response = _openai_error(exc.http_status, str(exc), param)
            except Exception:  # a model or server failure: details in the server log, not in the answer
                _logger.exception("Request %s to %s failed.", request_id, request.url.path)
                response = _openai_error(500, f"Generation failed on request {request_id}; see the server log.", None)
            if response.status_code >= 400:
                self.hooks.metrics.errors.labels(endpoint, str(response.status_code)).inc()
            response.headers["x-request-id"] = request_id
            return response

        return guarded

    async def _prepare(self, call: TextCall, on_text: Callable[[int, str], None] | None) -> _Job:
        """Resolve the deployment, check the parameters and the prompts' lengths: every 4xx happens here."""
        loaded = await self.hooks.deployment(call.deployment)
        index = int(loaded.router.assign(None, 1)[0]) if len(loaded.models) > 1 else 0
        model = loaded.models[index]
        generator = text_generator(model, call.deployment)
        params = generator.params(**call.overrides)
        target = _Target(call.deployment, loaded.deployment.variants[index].reference, model, generator, params)
        prompts = call.prompts or (generator.chat_prompt(call.messages),)
        requests = [
            generator.request(prompt, params, None if on_text is None else functools.partial(on_text, index))
            for index, prompt in enumerate(prompts)
        ]
        return _Job(call, target, prompts, requests)

    async def _execute(self, job: _Job, request_id: str, started: float) -> None:
        batcher = self._batchers.get(id(job.target.generator))
        if batcher is None:
            observe = self.metrics.batch_size.labels(job.target.model.name).observe
            batcher = TextBatcher(job.target.generator, _MAX_BATCH, observe)
            self._batchers[id(job.target.generator)] = batcher
        await batcher.generate(job.requests)
        self._record(job, request_id, started)

    async def _answer(self, call: TextCall, request_id: str, started: float) -> Response:
        if call.stream:
            return await self._stream(call, request_id, started)
        job = await self._prepare(call, None)
        await self._execute(job, request_id, started)
        shape = AnswerShape(call, request_id, (job.target.model.name, job.target.model.version))
        return Response(orjson.dumps(shape.answer(job.requests)), media_type=_JSON)

    async def _stream(self, call: TextCall, request_id: str, started: float) -> Response:
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue()

        def on_text(index: int, text: str) -> None:  # called from the decoding thread
            loop.call_soon_threadsafe(pieces.put_nowait, (index, text))

        job = await self._prepare(call, on_text)
        shape = AnswerShape(call, request_id, (job.target.model.name, job.target.model.version))
        task = loop.create_task(self._execute(job, request_id, started))
        self._streams.add(task)
        task.add_done_callback(self._streams.discard)
        task.add_done_callback(lambda _: pieces.put_nowait(None))

        async def events() -> AsyncIterator[bytes]:
            for event in shape.opening():
                yield _sse(event)
            while (item := await pieces.get()) is not None:
                yield _sse(shape.piece(*item))
            if task.exception() is not None:
                _logger.error("Streaming request %s failed: %s", request_id, task.exception())
                yield _sse(
                    {"error": {"message": f"Generation failed on request {request_id}.", "type": "server_error"}}
                )
                return
            for event in shape.closing(job.requests):
                yield _sse(event)
            yield b"data: [DONE]\n\n"

        headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    def _record(self, job: _Job, request_id: str, started: float) -> None:
        """Count the call in the metrics and write each of its prompts to the request log."""
        target = job.target
        now = datetime.now(UTC)
        finished = time.perf_counter()
        labels = (target.deployment, target.model.name, str(target.model.version))
        self.hooks.metrics.requests.labels(*labels).inc()
        self.hooks.metrics.latency.labels(*labels).observe(finished - started)
        parameters = orjson.dumps(target.params.to_dict()).decode()
        for prompt, item in zip(job.prompts, job.requests, strict=True):
            self.metrics.completion_tokens.labels(*labels).inc(item.completion_tokens)
            self.metrics.prompt_tokens.labels(*labels).inc(len(item.prompt_ids))
            first_ms = float("nan")
            if item.first_token_at is not None:
                first_ms = (item.first_token_at - started) * 1000
                self.metrics.time_to_first_token.labels(*labels).observe(first_ms / 1000)
                if item.completion_tokens > 1 and finished > item.first_token_at:
                    speed = (item.completion_tokens - 1) / (finished - item.first_token_at)
                    self.metrics.tokens_per_second.labels(*labels).observe(speed)
            logged = {
                "endpoint": job.call.dialect, "prompt": prompt, "response": item.text,
                "prompt_tokens": len(item.prompt_ids), "completion_tokens": item.completion_tokens,
                "finish_reason": item.finish_reason, "time_to_first_token_ms": first_ms, "parameters": parameters,
            }  # fmt: skip
            record = LogRecord(
                request_id, now, target.deployment, target.variant, target.model.name, target.model.version,
                pd.DataFrame([logged]), np.array([np.nan]), (finished - started) * 1000, False,
            )  # fmt: skip
            self.hooks.logger.log(record)


def mount_generation(app: FastAPI, hooks: ServerHooks) -> GenerationRoutes:
    """Add the generation endpoints to the server ``app`` (see the module docstring)."""
    routes = GenerationRoutes(hooks)
    routes.mount(app)
    return routes
