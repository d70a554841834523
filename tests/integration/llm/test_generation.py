"""Generation honours seed, temperature, top-k, top-p, repetition penalty and stop sequences."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import fti.llm
from fti.errors import ParameterError, ValidationError

pytestmark = pytest.mark.xdist_group("llm")

PROMPT = "# Task: Return the number of items in the list.\n"


@pytest.fixture(scope="module")
def generator(tiny_model: Path) -> fti.llm.TextGenerator:
    """The tiny GPT-2, loaded from its folder."""
    return fti.llm.load_pretrained(tiny_model)


def _top_tokens(generator: fti.llm.TextGenerator, k: int) -> set[int]:
    import torch

    with torch.inference_mode():
        logits = generator.model(torch.tensor([generator.encode(PROMPT)])).logits[0, -1]
    return set(logits.topk(k).indices.tolist())


def _first_tokens(generator: fti.llm.TextGenerator, seeds: range, **params: object) -> set[int]:
    prompts = [PROMPT] * len(seeds)
    requests = [
        generator.request(prompt, generator.params(max_new_tokens=1, seed=seed, **params))
        for prompt, seed in zip(prompts, seeds, strict=True)
    ]
    generator.run(requests)
    return {request._ids[0] for request in requests if request._ids}


def test_greedy_decoding_matches_transformers_generate(generator: fti.llm.TextGenerator) -> None:
    import torch

    ids = torch.tensor([generator.encode(PROMPT)])
    expected = generator.model.generate(
        ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, min_new_tokens=12, do_sample=False,
        pad_token_id=generator.tokenizer.pad_token_id,
    )  # fmt: skip
    text = generator.tokenizer.decode(expected[0, ids.shape[1] :], skip_special_tokens=True)
    assert generator.generate(PROMPT, temperature=0, max_new_tokens=12) == text


def test_a_seed_reproduces_a_sample_and_another_seed_changes_it(generator: fti.llm.TextGenerator) -> None:
    first = generator.generate(PROMPT, temperature=1.0, max_new_tokens=24, seed=7)
    assert generator.generate(PROMPT, temperature=1.0, max_new_tokens=24, seed=7) == first
    others = {generator.generate(PROMPT, temperature=1.0, max_new_tokens=24, seed=seed) for seed in range(8, 12)}
    assert others - {first}


def test_a_batch_answers_each_request_as_alone(generator: fti.llm.TextGenerator) -> None:
    prompts = [PROMPT, "def", "# Task: Close the file.\n"]
    alone = [generator.generate(prompt, temperature=0.8, max_new_tokens=10, seed=3) for prompt in prompts]
    together = generator.complete(prompts, temperature=0.8, max_new_tokens=10, seed=3)
    assert [item.text for item in together] == alone
    assert all(item.completion_tokens <= 10 and item.prompt_tokens > 0 for item in together)


def test_temperature_zero_top_k_one_and_a_tiny_top_p_all_decode_greedily(generator: fti.llm.TextGenerator) -> None:
    greedy = generator.generate(PROMPT, temperature=0, max_new_tokens=16)
    assert generator.generate(PROMPT, temperature=1.5, top_k=1, max_new_tokens=16, seed=1) == greedy
    assert generator.generate(PROMPT, temperature=1.5, top_p=1e-6, max_new_tokens=16, seed=2) == greedy


def test_top_k_and_top_p_limit_the_tokens_sampled(generator: fti.llm.TextGenerator) -> None:
    seeds = range(40)
    top3 = _first_tokens(generator, seeds, temperature=2.0, top_k=3)
    assert top3 <= _top_tokens(generator, 3) and len(top3) > 1
    unfiltered = _first_tokens(generator, seeds, temperature=2.0)
    assert len(unfiltered) > len(top3)
    nucleus = _first_tokens(generator, seeds, temperature=1.0, top_p=0.3)
    assert len(nucleus) < len(unfiltered)


def test_a_lower_temperature_samples_fewer_distinct_tokens(generator: fti.llm.TextGenerator) -> None:
    seeds = range(40)
    assert len(_first_tokens(generator, seeds, temperature=0.2)) < len(_first_tokens(generator, seeds, temperature=2.0))


def test_repetition_penalty_discourages_repeats(generator: fti.llm.TextGenerator) -> None:
    plain = generator.complete([PROMPT], temperature=0, max_new_tokens=40)[0]
    penalized = generator.complete([PROMPT], temperature=0, max_new_tokens=40, repetition_penalty=3.0)[0]
    plain_ids = generator.tokenizer(plain.text)["input_ids"]
    penalized_ids = generator.tokenizer(penalized.text)["input_ids"]
    assert len(set(penalized_ids)) / len(penalized_ids) > len(set(plain_ids)) / len(plain_ids)


def test_generation_ends_before_a_stop_sequence(generator: fti.llm.TextGenerator) -> None:
    full = generator.generate(PROMPT, temperature=1.0, max_new_tokens=40, seed=5)
    stop = full[len(full) // 2 : len(full) // 2 + 2]
    cut = generator.complete([PROMPT], temperature=1.0, max_new_tokens=40, seed=5, stop=["@@never@@", stop])[0]
    assert cut.text == full[: full.index(stop)]
    assert cut.finish_reason == "stop"
    streamed = "".join(generator.stream(PROMPT, temperature=1.0, max_new_tokens=40, seed=5, stop=[stop]))
    assert streamed == cut.text


def test_streaming_gives_the_same_text_piece_by_piece(generator: fti.llm.TextGenerator) -> None:
    pieces = list(generator.stream(PROMPT, temperature=0.9, max_new_tokens=20, seed=11))
    assert len(pieces) > 1
    assert "".join(pieces) == generator.generate(PROMPT, temperature=0.9, max_new_tokens=20, seed=11)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("temperature", 2.5, "'temperature' must be in [0, 2], got 2.5"),
        ("top_p", 0, "'top_p' must be in (0, 1], got 0"),
        ("top_k", -1, "'top_k' must be in [0, 1000000], got -1"),
        ("max_new_tokens", 0, "'max_new_tokens' must be in [1, 4096], got 0"),
        ("repetition_penalty", 0.0, "'repetition_penalty' must be in (0, 10], got 0.0"),
        ("seed", -3, "'seed' must be in [0, 9223372036854775807], got -3"),
        ("stop", ["a", ""], "'stop' has an empty string"),
        ("stop", ["a", "b", "c", "d", "e"], "'stop' has 5 sequences; at most 4"),
        ("max_new_tokens", 2.5, "'max_new_tokens' must be an integer, got 2.5"),
        ("temperature", "hot", "'temperature' must be a number, got 'hot'"),
        ("warmth", 1, "Unknown generation parameter 'warmth'"),
    ],
)
def test_out_of_range_parameters_name_the_field(
    generator: fti.llm.TextGenerator, name: str, value: object, message: str
) -> None:
    with pytest.raises(ParameterError, match=re.escape(message)) as info:
        generator.generate(PROMPT, **{name: value})
    assert info.value.name == name


def test_the_prompt_and_new_tokens_must_fit_the_context(generator: fti.llm.TextGenerator) -> None:
    with pytest.raises(ParameterError, match="only 1.. tokens fit after the prompt") as info:
        generator.generate(PROMPT, max_new_tokens=200)
    assert info.value.name == "max_new_tokens"
    with pytest.raises(ValidationError, match="but the model reads at most 128: shorten it"):
        generator.generate("word " * 400)
