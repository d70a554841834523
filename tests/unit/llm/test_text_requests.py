"""Request bodies of the generation endpoints: every refusal names its field."""

from __future__ import annotations

import pytest

from fti.errors import ParameterError
from fti.inference.text_requests import parse_chat, parse_completions, parse_generate
from fti.llm.generation import GenerationParams


def test_generate_bodies_give_the_prompt_and_the_overrides() -> None:
    call = parse_generate({"prompt": "Hi", "temperature": 0.5, "stop": ["\n"], "stream": True}, "writer")
    assert call.prompts == ("Hi",) and call.overrides == {"temperature": 0.5, "stop": ["\n"]} and call.stream


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"temperature": 1}, "prompt", "needs a 'prompt'"),
        ({"prompt": 3}, "prompt", "Field 'prompt' must be text, got int"),
        ({"prompt": "a", "beam": 2}, "beam", "Unknown field 'beam'"),
        ({"prompt": "a", "stream": "yes"}, "stream", "Field 'stream' must be true or false"),
    ],
)
def test_bad_generate_bodies_name_the_field(body: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message) as info:
        parse_generate(body, "writer")
    assert info.value.name == field


def test_openai_bodies_map_to_our_parameters() -> None:
    call = parse_completions({"model": "w", "prompt": ["a", "b"], "max_tokens": 7, "top_k": 5, "user": "me", "n": 1})
    assert call.prompts == ("a", "b") and call.overrides == {"top_k": 5, "max_new_tokens": 7}
    chat = parse_chat(
        {
            "model": "w",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
            "max_completion_tokens": 3,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )
    assert chat.messages == ({"role": "user", "content": "Hi"},) and chat.overrides == {"max_new_tokens": 3}
    assert chat.stream and chat.include_usage


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": "a"}, "model"),
        ({"model": "w", "prompt": []}, "prompt"),
        ({"model": "w", "prompt": "a", "n": 2}, "n"),
        ({"model": "w", "prompt": "a", "logprobs": 3}, "logprobs"),
        ({"model": "w", "prompt": "a", "frequency_penalty": 0.5}, "frequency_penalty"),
        ({"model": "w", "prompt": "a", "max_tokens": 0}, "max_tokens"),
        ({"model": "w", "prompt": "a", "mystery": 1}, "mystery"),
    ],
)
def test_unsupported_openai_fields_are_refused_by_name(body: dict[str, object], field: str) -> None:
    with pytest.raises(ParameterError) as info:
        parse_completions(body)
    assert info.value.name == field


def test_params_replace_ignores_none_and_keeps_the_rest() -> None:
    params = GenerationParams(temperature=0.3).replace(top_k=None, seed=4, stop="END")
    assert (params.temperature, params.seed, params.stop) == (0.3, 4, ("END",))
    assert GenerationParams.from_dict(params.to_dict()) == params
    assert GenerationParams(temperature=0).is_greedy
