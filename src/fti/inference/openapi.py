"""The model server's OpenAPI document: every route, its body and its answers, for clients and fuzzers.

The server's routes are plain Starlette routes (they parse their bodies themselves, see
:mod:`fti.inference.payloads`), so FastAPI cannot describe them: this module does, as JSON Schema written
once here, and :func:`document` merges it into the app's own ``/openapi.json`` (which already holds the
routes FastAPI does describe, such as feedback).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["document"]

_ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "What was wrong (the field, the value) and the fix."},
        "request_id": {"type": "string"},
    },
    "required": ["error"],
}
_OPENAI_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "oneOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {"message": {"type": "string"}, "type": {"type": "string"}},
                    "required": ["message"],
                },
            ]
        }
    },
    "required": ["error"],
}
_ROWS = {
    "type": "array",
    "minItems": 1,
    "items": {"type": "object", "additionalProperties": True},
    "description": "One object per row, every object with the same keys.",
}
_COLUMNS = {
    "type": "object",
    "additionalProperties": {"type": "array", "minItems": 1},
    "description": "One list of values per column, all of one length.",
}
_V1_PREDICT = {
    "type": "object",
    "description": "Model inputs (`instances`), or entity keys whose features the server looks up "
    "(`entities`, with optional `passed_features` per entity).",
    "properties": {"instances": _ROWS, "entities": _ROWS, "passed_features": _ROWS},
    "additionalProperties": False,
}
_INVOCATIONS = {
    "type": "object",
    "description": "MLflow's scoring formats: exactly one of the four fields.",
    "properties": {
        "dataframe_split": {
            "type": "object",
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "minItems": 1, "items": {"type": "array"}},
            },
            "required": ["columns", "data"],
        },
        "dataframe_records": _ROWS,
        "instances": {"oneOf": [_ROWS, _COLUMNS]},
        "inputs": {"oneOf": [_ROWS, _COLUMNS]},
        "params": {"type": "object"},
    },
}
_DATATYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32",
              "FP64", "BYTES"]  # fmt: skip
_PARAMETERS = {"type": "object", "additionalProperties": True}
_TENSOR = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {"type": "string", "enum": _DATATYPES},
        "parameters": _PARAMETERS,
        "data": {"type": "array"},
    },
    "required": ["name", "shape", "datatype"],
}
_V2_INFER = {
    "type": "object",
    "description": "The Open Inference Protocol's inference request (KServe V2).",
    "properties": {
        "id": {"type": "string"},
        "parameters": _PARAMETERS,
        "inputs": {"type": "array", "minItems": 1, "items": _TENSOR},
        "outputs": {
            "type": "array",
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "parameters": _PARAMETERS}},
        },
    },
    "required": ["inputs"],
}
_SAMPLING = {
    "max_new_tokens": {"type": "integer", "minimum": 1},
    "temperature": {"type": "number", "minimum": 0},
    "top_k": {"type": "integer", "minimum": 0},
    "top_p": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    "repetition_penalty": {"type": "number", "exclusiveMinimum": 0},
    "stop": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    "seed": {"type": "integer"},
    "stream": {"type": "boolean"},
}
_GENERATE = {
    "type": "object",
    "properties": {"prompt": {"type": "string"}, **_SAMPLING},
    "required": ["prompt"],
}
_OPENAI_SAMPLING = {
    "model": {"type": "string"},
    "max_tokens": {"type": "integer", "minimum": 1},
    "temperature": {"type": "number", "minimum": 0},
    "top_p": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    "stop": _SAMPLING["stop"],
    "seed": {"type": "integer"},
    "stream": {"type": "boolean"},
}
_COMPLETIONS = {
    "type": "object",
    "properties": {"prompt": {"type": "string"}, **_OPENAI_SAMPLING},
    "required": ["model", "prompt"],
}
_CHAT = {
    "type": "object",
    "properties": {
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {"role": {"type": "string"}, "content": {"type": "string"}},
                "required": ["role", "content"],
            },
        },
        **_OPENAI_SAMPLING,
    },
    "required": ["model", "messages"],
}
_ANSWER = {"type": "object", "additionalProperties": True}


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": description}


_DEPLOYMENT = _path("name", "The deployment's name.")
_MODEL = _path("model", "The deployment (or model) name.")
_VERSION = _path("version", "The model version.")
_STATUSES = {
    "400": "The request cannot be carried out as asked.",
    "401": "A valid API token is required (Authorization: Bearer).",
    "403": "The token's role does not include this route's (read, predict): the message names the role needed.",
    "404": "No such deployment or model.",
    "413": "The body is over the server's limit (serving.max_body_bytes).",
    "415": "The body's content type is not one the route reads.",
    "422": "The body is malformed: the message names the field.",
    "429": "Too many requests waiting: try again.",
    "503": "The server is not ready yet, or the model cannot answer now.",
}


def _operation(
    summary: str, parameters: list[dict[str, Any]], body: dict[str, Any] | None, *, openai: bool = False,
    csv: bool = False, empty: bool = False,
) -> dict[str, Any]:  # fmt: skip
    error = {"application/json": {"schema": _OPENAI_ERROR if openai else _ERROR}}
    answered = {"application/json": {"schema": _ANSWER}}
    responses: dict[str, Any] = {"200": {"description": "Yes." if empty else "The answer."}}
    if not empty:
        responses["200"]["content"] = answered
    for status, description in _STATUSES.items():
        responses[status] = {"description": description, "content": error}
    operation: dict[str, Any] = {"summary": summary, "parameters": parameters, "responses": responses}
    if body is not None:
        content: dict[str, Any] = {"application/json": {"schema": body}}
        if csv:
            content["text/csv"] = {"schema": {"type": "string", "description": "A header row, then the rows."}}
        operation["requestBody"] = {"required": True, "content": content}
    return operation


def _plain(summary: str) -> dict[str, Any]:
    return {"summary": summary, "responses": {"200": {"description": "Yes."}, "503": {"description": "Not yet."}}}


def _paths() -> dict[str, dict[str, Any]]:
    v2_model: dict[str, dict[str, Any]] = {}
    for prefix, parameters in (
        ("/v2/models/{model}", [_MODEL]),
        ("/v2/models/{model}/versions/{version}", [_MODEL, _VERSION]),
    ):
        v2_model[prefix] = {"get": _operation("The model's metadata (inputs, outputs)", parameters, None)}
        v2_model[f"{prefix}/ready"] = {"get": _operation("Whether the model is loaded", parameters, None, empty=True)}
        v2_model[f"{prefix}/infer"] = {"post": _operation("Predict (Open Inference Protocol)", parameters, _V2_INFER)}
    return {
        "/v1/deployments/{name}/predict": {"post": _operation("Predict", [_DEPLOYMENT], _V1_PREDICT)},
        **v2_model,
        "/invocations": {"post": _operation("Predict (MLflow's scoring protocol)", [], _INVOCATIONS, csv=True)},
        "/v1/deployments/{name}/generate": {"post": _operation("Generate text", [_DEPLOYMENT], _GENERATE)},
        "/v1/completions": {"post": _operation("Completions (OpenAI)", [], _COMPLETIONS, openai=True)},
        "/v1/chat/completions": {"post": _operation("Chat completions (OpenAI)", [], _CHAT, openai=True)},
        "/v1/models": {"get": _operation("The models that generate text (OpenAI)", [], None, openai=True)},
        "/v2/health/live": {"get": _plain("Whether the server runs")},
        "/v2/health/ready": {"get": _plain("Whether every deployment is loaded")},
        "/ping": {"get": _plain("Whether every deployment is loaded (MLflow)")},
        "/v1/status": {"get": _operation("Deployments, their variants and loaded versions", [], None)},
        "/v2": {"get": _operation("The server's metadata (Open Inference Protocol)", [], None)},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "Metrics."}}}},
    }


def document(app: FastAPI) -> None:
    """Have ``app``'s ``/openapi.json`` describe the server's Starlette routes beside FastAPI's own."""
    described = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = described()
            schema["paths"] = {**_paths(), **schema.get("paths", {})}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
