"""Bodies of the text generation endpoints, checked field by field, and the shapes of their answers.

Three dialects map to the same :class:`TextCall`:

* ``/v1/deployments/{name}/generate``: ``prompt``, ``max_new_tokens``, ``temperature``, ``top_k``,
  ``top_p``, ``repetition_penalty``, ``stop``, ``seed``, ``stream``;
* ``/v1/completions`` (OpenAI): ``model`` (the deployment), ``prompt`` (a string or a list of them),
  ``max_tokens``, ``temperature``, ``top_p``, ``stop``, ``seed``, ``stream``, and ``top_k`` and
  ``repetition_penalty`` as extra fields;
* ``/v1/chat/completions`` (OpenAI): ``messages`` instead of ``prompt`` (turned into a prompt by the
  model's chat template), ``max_completion_tokens`` or ``max_tokens``.

A field that would change the answer in a way this server does not implement (``n`` > 1,
``logprobs``, ``echo``, penalties other than ``repetition_penalty``, tools) is refused with a 422 naming
it rather than silently ignored; fields that do not change the answer (``user``, ``metadata``) are
accepted. Out-of-range values raise :class:`~fti.errors.ParameterError` (422 with the field).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from fti.errors import ParameterError, ValidationError
from fti.llm.decoding import GenerationRequest

__all__ = ["AnswerShape", "Dialect", "TextCall", "parse_chat", "parse_completions", "parse_generate"]

Dialect = Literal["generate", "completions", "chat"]

_GENERATE_FIELDS = ("max_new_tokens", "temperature", "top_k", "top_p", "repetition_penalty", "stop", "seed")
_OPENAI_FIELDS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "repetition_penalty": "repetition_penalty",
    "stop": "stop",
    "seed": "seed",
}
#: OpenAI fields that do not change what is generated
_HARMLESS = frozenset({"user", "metadata", "store", "service_tier", "stream_options", "parallel_tool_calls"})
#: OpenAI fields accepted only at the value that means "off"
_OFF_VALUES: dict[str, tuple[Any, ...]] = {
    "n": (1, None),
    "best_of": (1, None),
    "logprobs": (None, False),
    "top_logprobs": (None, 0),
    "echo": (False, None),
    "suffix": (None,),
    "presence_penalty": (0, 0.0, None),
    "frequency_penalty": (0, 0.0, None),
    "logit_bias": (None, {}),
    "tools": (None, []),
    "tool_choice": (None, "none"),
    "functions": (None, []),
    "response_format": (None, {"type": "text"}),
}


@dataclass(frozen=True, slots=True)
class TextCall:
    """One generation request: what to complete, how, and where to send it."""

    dialect: Dialect
    #: the deployment (``model`` in the OpenAI dialects)
    deployment: str
    #: the prompts (chat: empty, see ``messages``)
    prompts: tuple[str, ...] = ()
    messages: tuple[dict[str, str], ...] = ()
    #: generation parameters the caller gave (the model's defaults fill in the rest)
    overrides: dict[str, Any] = field(default_factory=dict)
    stream: bool = False
    include_usage: bool = False


def _object(payload: Any, example: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ValidationError(f"The request body must be a JSON object such as {example}.")
    return payload


def _flag(payload: Mapping[str, Any], name: str) -> bool:
    value = payload.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ParameterError(name, f"Field '{name}' must be true or false, got {value!r}.")
    return value


def _prompt_text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ParameterError(name, f"Field '{name}' must be text, got {type(value).__name__}.")
    return value


def parse_generate(payload: Any, deployment: str) -> TextCall:
    """A ``/v1/deployments/{name}/generate`` body."""
    body = _object(payload, '{"prompt": "Once upon a time", "max_new_tokens": 32}')
    unknown = sorted(set(body) - {"prompt", "stream", *_GENERATE_FIELDS})
    if unknown:
        raise ParameterError(
            unknown[0],
            f"Unknown field '{unknown[0]}' in the request body: send 'prompt' with any of "
            f"{', '.join(_GENERATE_FIELDS)} and 'stream'.",
        )
    if "prompt" not in body:
        raise ParameterError("prompt", "The request body needs a 'prompt': the text to continue.")
    overrides = {name: body[name] for name in _GENERATE_FIELDS if name in body}
    return TextCall(
        "generate", deployment, (_prompt_text(body["prompt"], "prompt"),), (), overrides, _flag(body, "stream")
    )


def _openai_overrides(body: Mapping[str, Any], length_fields: tuple[str, ...]) -> dict[str, Any]:
    for name, allowed in _OFF_VALUES.items():
        if name in body and body[name] not in allowed:
            raise ParameterError(
                name,
                f"Field '{name}' = {body[name]!r} is not supported by this server: leave it out"
                + (" (use 'repetition_penalty' to discourage repeats)." if name.endswith("_penalty") else "."),
            )
    overrides = {ours: body[theirs] for theirs, ours in _OPENAI_FIELDS.items() if body.get(theirs) is not None}
    for name in length_fields:
        if body.get(name) is not None:
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(name, f"Field '{name}' must be a positive integer, got {value!r}.")
            overrides["max_new_tokens"] = value
            break
    return overrides


def _model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ParameterError("model", "Field 'model' must name a deployment (see GET /v1/models).")
    return model


def _include_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def _known(body: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed - set(_OFF_VALUES) - _HARMLESS)
    if unknown:
        raise ParameterError(unknown[0], f"Field '{unknown[0]}' is not supported by this server: leave it out.")


def parse_completions(payload: Any) -> TextCall:
    """A ``/v1/completions`` body."""
    body = _object(payload, '{"model": "my-deployment", "prompt": "def add(a, b):"}')
    _known(body, {"model", "prompt", "max_tokens", "stream", *_OPENAI_FIELDS})
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        prompts: tuple[str, ...] = (prompt,)
    elif isinstance(prompt, list) and prompt and all(isinstance(item, str) for item in prompt):
        prompts = tuple(prompt)
    else:
        raise ParameterError("prompt", "Field 'prompt' must be text or a non-empty list of texts.")
    overrides = _openai_overrides(body, ("max_tokens",))
    stream = _flag(body, "stream")
    return TextCall("completions", _model(body), prompts, (), overrides, stream, _include_usage(body))


def parse_chat(payload: Any) -> TextCall:
    """A ``/v1/chat/completions`` body."""
    body = _object(payload, '{"model": "my-deployment", "messages": [{"role": "user", "content": "Hi"}]}')
    _known(body, {"model", "messages", "max_tokens", "max_completion_tokens", "stream", *_OPENAI_FIELDS})
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ParameterError("messages", "Field 'messages' must be a non-empty list of {role, content} objects.")
    parsed = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ParameterError("messages", f"messages[{index}] must be an object with a 'role' and a 'content'.")
        content = message.get("content")
        if isinstance(content, list):  # content parts: only text parts can be read
            texts = [part.get("text") for part in content if isinstance(part, dict) and part.get("type") == "text"]
            if len(texts) != len(content):
                raise ParameterError("messages", f"messages[{index}].content has parts other than text.")
            content = "".join(str(text) for text in texts)
        if not isinstance(content, str):
            raise ParameterError("messages", f"messages[{index}].content must be text.")
        parsed.append({"role": message["role"], "content": content})
    overrides = _openai_overrides(body, ("max_completion_tokens", "max_tokens"))
    stream = _flag(body, "stream")
    return TextCall("chat", _model(body), (), tuple(parsed), overrides, stream, _include_usage(body))


def _usage(requests: Sequence[GenerationRequest]) -> dict[str, int]:
    prompt = sum(len(item.prompt_ids) for item in requests)
    completion = sum(item.completion_tokens for item in requests)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class AnswerShape:
    """The JSON of answers and stream events for one call, in its dialect.

    Args:
        call: the parsed request.
        request_id: the request's id.
        model: ``(name, version)`` of the model version that answers.
    """

    def __init__(self, call: TextCall, request_id: str, model: tuple[str, int]) -> None:
        self.call = call
        self.request_id = request_id
        self.model = model
        self.created = int(time.time())
        prefix = {"generate": "", "completions": "cmpl-", "chat": "chatcmpl-"}[call.dialect]
        self.id = f"{prefix}{request_id}"
        self._object = {"completions": "text_completion", "chat": "chat.completion.chunk"}.get(call.dialect, "")

    def answer(self, requests: Sequence[GenerationRequest]) -> dict[str, Any]:
        """The whole answer of a call that does not stream."""
        usage = _usage(requests)
        if self.call.dialect == "generate":
            item = requests[0]
            return {
                "request_id": self.request_id, "deployment": self.call.deployment, "model_name": self.model[0],
                "model_version": self.model[1], "text": item.text, "finish_reason": item.finish_reason, "usage": usage,
            }  # fmt: skip
        if self.call.dialect == "completions":
            choices = [
                {"index": index, "text": item.text, "finish_reason": item.finish_reason, "logprobs": None}
                for index, item in enumerate(requests)
            ]
            return {**self._head("text_completion"), "choices": choices, "usage": usage}
        message = {"role": "assistant", "content": requests[0].text}
        choice = {"index": 0, "message": message, "finish_reason": requests[0].finish_reason, "logprobs": None}
        return {**self._head("chat.completion"), "choices": [choice], "usage": usage}

    def _head(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.call.deployment}

    def opening(self) -> list[dict[str, Any]]:
        """Events before the first piece of text (chat: the assistant's role)."""
        if self.call.dialect != "chat":
            return []
        delta = {"role": "assistant", "content": ""}
        return [{**self._head(self._object), "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}]

    def piece(self, index: int, text: str) -> dict[str, Any]:
        """The event carrying ``text`` of choice ``index``."""
        if self.call.dialect == "generate":
            return {"text": text}
        if self.call.dialect == "completions":
            choice = {"index": index, "text": text, "finish_reason": None, "logprobs": None}
        else:
            choice = {"index": index, "delta": {"content": text}, "finish_reason": None}
        return {**self._head(self._object), "choices": [choice]}

    def closing(self, requests: Sequence[GenerationRequest]) -> list[dict[str, Any]]:
        """The events after the last piece: finish reasons, then usage when asked for."""
        usage = _usage(requests)
        if self.call.dialect == "generate":
            item = requests[0]
            return [
                {
                    "request_id": self.request_id, "model_name": self.model[0], "model_version": self.model[1],
                    "finish_reason": item.finish_reason, "usage": usage,
                }
            ]  # fmt: skip
        events = []
        for index, item in enumerate(requests):
            if self.call.dialect == "completions":
                choice = {"index": index, "text": "", "finish_reason": item.finish_reason, "logprobs": None}
            else:
                choice = {"index": index, "delta": {}, "finish_reason": item.finish_reason}
            events.append({**self._head(self._object), "choices": [choice]})
        if self.call.include_usage:
            events.append({**self._head(self._object), "choices": [], "usage": usage})
        return events
