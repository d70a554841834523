"""Feedback on the model server: ``POST /v1/deployments/{name}/feedback``.

The body names a request the server answered (its ``request_id``) and gives a ``rating`` (0 bad to 1 good),
a ``preferred`` response (with the ``rejected`` one; default: the logged response), or both, and an optional
``comment``. The request log is flushed first, so feedback on an answer sent a moment ago finds it. The answer
is ``{"feedback_id", "request_id", "deployment", "commit"}``; bad input answers 422 naming the field, and
nothing is written. Each feedback is recorded in the audit log under the caller's token. The route is
documented in the server's OpenAPI schema (``/openapi.json``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from fti.core.audit import acting_as
from fti.errors import ValidationError
from fti.inference.payloads import parse_json
from fti.inference.ports import AuditSink, FeedbackSink
from fti.inference_log.writer import RequestLogger

__all__ = ["FeedbackRequest", "mount_feedback"]

_FIELDS = {"request_id": (str,), "rating": (int, float), "preferred": (str,), "rejected": (str,), "comment": (str,)}


class FeedbackRequest(BaseModel):
    """The body of ``POST /v1/deployments/{name}/feedback`` (its schema documents the route)."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(description="the request id the server answered with (x-request-id, request_id)")
    rating: float | None = Field(default=None, ge=0, le=1, description="0 bad to 1 good")
    preferred: str | None = Field(default=None, description="the response that should have been given")
    rejected: str | None = Field(default=None, description="the worse response (default: the logged one)")
    comment: str | None = Field(default=None, description="free text")


class _Hooks(Protocol):
    logger: RequestLogger

    def route(
        self, endpoint: str, handler: Callable[[Request, str, float], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]: ...

    async def body(self, request: Request) -> bytes: ...


def _record(audit: AuditSink, actor: str, deployment: str, **detail: Any) -> None:
    with acting_as(actor):
        audit.record("feedback", deployment, **detail)


def parse_feedback(payload: Any) -> dict[str, Any]:
    """The feedback fields of a request body, each of its JSON type.

    Raises:
        ValidationError: the body is not an object, has an unknown field, lacks ``request_id`` or has a field
            of the wrong type.
    """
    if not isinstance(payload, dict):
        raise ValidationError(
            "The feedback body must be a JSON object with 'request_id' and a 'rating' or 'preferred'."
        )
    unknown = sorted(set(payload) - set(_FIELDS))
    if unknown:
        raise ValidationError(f"Unknown feedback field(s) {', '.join(map(repr, unknown))}: use {', '.join(_FIELDS)}.")
    if payload.get("request_id") is None:
        raise ValidationError("Feedback field 'request_id' is required: the request the feedback is about.")
    for name, kinds in _FIELDS.items():
        value = payload.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            expected = "a number" if name == "rating" else "a string"
            raise ValidationError(f"Feedback field '{name}' must be {expected}, got {type(value).__name__}.")
    return {name: payload.get(name) for name in _FIELDS}


def mount_feedback(app: FastAPI, hooks: _Hooks, sink: FeedbackSink, audit: AuditSink | None = None) -> None:
    """Add ``POST /v1/deployments/{name}/feedback`` to the server ``app``, writing to ``sink`` and recording each
    feedback in ``audit`` (when given) under the caller's token name (``anonymous`` without tokens)."""

    async def feedback(request: Request, request_id: str, _started: float) -> Response:
        deployment = request.path_params["name"]
        fields = parse_feedback(parse_json(await hooks.body(request)))
        await asyncio.to_thread(hooks.logger.flush)
        written = await asyncio.to_thread(sink.write, deployment, fields)
        if audit is not None:
            identity = getattr(request.state, "identity", None)
            actor = identity.name if identity is not None else "anonymous"
            await asyncio.to_thread(
                _record, audit, actor, deployment, request_id=fields["request_id"], feedback_id=written.feedback_ids[0]
            )
        answer = {
            "feedback_id": written.feedback_ids[0],
            "request_id": fields["request_id"],
            "deployment": deployment,
            "commit": written.commit,
        }
        return Response(orjson.dumps(answer), media_type="application/json")

    schema = FeedbackRequest.model_json_schema()
    app.add_api_route(
        "/v1/deployments/{name}/feedback",
        hooks.route("feedback", feedback),
        methods=["POST"],
        summary="Record feedback on a logged request",
        description=__doc__,
        openapi_extra={
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
            "responses": {"422": {"description": "bad input: the message names the field"}},
        },
    )
