"""The decoding loop: several requests, each with its own parameters, generated together.

Prompts are left-padded into one batch and run through the model once (prefill); then one token per
request per step, reusing the key/value cache. Sampling is vectorized over the batch with per-row
temperature, top-k, top-p and repetition penalty; each row draws its random numbers from its own
seeded generator, so a seeded request gives the same text whatever else shares its batch. Rows that
finish (EOS, a stop sequence, ``max_new_tokens``) leave the batch and its cache at once. Text is
decoded incrementally and handed out as it becomes final: a tail that could still grow into a stop
sequence, or that ends inside a multi-byte character, is held back until it is settled.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fti.llm.generation import GenerationParams
from fti.llm.runtime import torch_module, transformers_module

__all__ = ["GenerationRequest", "decode"]


@dataclass(slots=True)
class GenerationRequest:
    """One prompt to complete, filled in by :func:`decode`.

    Attributes:
        prompt_ids: the prompt's token ids.
        params: how to generate.
        on_text: called with each piece of text as it becomes final (streaming); None to just collect.
        text: the generated text (without the stop sequence or EOS).
        completion_tokens: tokens generated.
        finish_reason: ``"stop"`` (EOS or a stop sequence) or ``"length"`` (``max_new_tokens``).
        first_token_at: when the first token was generated (``time.perf_counter()``).
    """

    prompt_ids: Sequence[int]
    params: GenerationParams
    on_text: Callable[[str], None] | None = None
    text: str = ""
    completion_tokens: int = 0
    finish_reason: str = ""
    first_token_at: float | None = None
    _ids: list[int] = field(default_factory=list, repr=False)
    _emitted: int = 0


class _Rows:
    """Per-row bookkeeping: token ids, incremental text, stop sequences, finishing."""

    def __init__(self, requests: Sequence[GenerationRequest], tokenizer: Any, eos_ids: frozenset[int]) -> None:
        self.requests = list(requests)
        self._tokenizer = tokenizer
        self._eos = eos_ids

    def push(self, request: GenerationRequest, token: int) -> bool:
        """Add ``token`` to ``request``; whether the request is finished."""
        if request.first_token_at is None:
            request.first_token_at = time.perf_counter()
        request.completion_tokens += 1
        if token in self._eos:
            return self._finish(request, request.text, "stop")
        request._ids.append(token)
        text = self._tokenizer.decode(request._ids, skip_special_tokens=True)
        stops = request.params.stop
        if stops:
            start = max(0, request._emitted - max(map(len, stops)))
            hits = [index for index in (text.find(stop, start) for stop in stops) if index >= 0]
            if hits:
                return self._finish(request, text[: min(hits)], "stop")
        if request.completion_tokens >= request.params.max_new_tokens:
            return self._finish(request, text, "length")
        self._emit(request, text, _settled(text, stops))
        return False

    def _finish(self, request: GenerationRequest, text: str, reason: str) -> bool:
        self._emit(request, text, len(text))
        request.finish_reason = reason
        return True

    @staticmethod
    def _emit(request: GenerationRequest, text: str, end: int) -> None:
        request.text = text[:end]
        if end > request._emitted:
            piece = text[request._emitted : end]
            request._emitted = end
            if request.on_text is not None:
                request.on_text(piece)


def _settled(text: str, stops: tuple[str, ...]) -> int:
    """How much of ``text`` is final: not a possible start of a stop sequence, not a broken character."""
    end = len(text)
    while end and text[end - 1] == "\ufffd":
        end -= 1
    held = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, end), 0, -1):
            if text.endswith(stop[:size], 0, end):
                held = max(held, size)
                break
    return end - held


class _Sampler:
    """Vectorized next-token choice with per-row parameters and per-row random generators."""

    def __init__(self, params: Sequence[GenerationParams], prompts: Any, vocab: int, device: Any) -> None:
        torch = torch_module()
        self._torch = torch
        self.temperature = torch.tensor([item.temperature for item in params], device=device)
        self.top_k = torch.tensor([item.top_k or vocab for item in params], device=device).clamp(max=vocab)
        self.top_p = torch.tensor([item.top_p for item in params], device=device)
        self.penalty = torch.tensor([item.repetition_penalty for item in params], device=device)
        self.generators = [
            torch.Generator().manual_seed(item.seed if item.seed is not None else secrets.randbits(63))
            for item in params
        ]
        self.seen = None
        if bool((self.penalty != 1).any()):
            self.seen = torch.zeros((len(params), vocab), dtype=torch.bool, device=device)
            ids, mask = prompts
            self.seen.scatter_(1, ids, mask.bool())

    def keep(self, rows: Any) -> None:
        """Keep only ``rows`` (the requests still generating)."""
        self.temperature, self.top_k = self.temperature[rows], self.top_k[rows]
        self.top_p, self.penalty = self.top_p[rows], self.penalty[rows]
        self.generators = [self.generators[index] for index in rows.tolist()]
        if self.seen is not None:
            self.seen = self.seen[rows]

    def choose(self, logits: Any) -> Any:
        """One token per row."""
        torch = self._torch
        scores = logits.float()
        if self.seen is not None:
            penalty = self.penalty[:, None]
            penalized = torch.where(scores < 0, scores * penalty, scores / penalty)
            scores = torch.where(self.seen, penalized, scores)
        chosen = scores.argmax(-1)
        greedy = self.temperature == 0
        if not bool(greedy.all()):
            chosen = torch.where(greedy, chosen, self._sample(scores))
        if self.seen is not None:
            self.seen[torch.arange(len(chosen), device=chosen.device), chosen] = True
        return chosen

    def _sample(self, scores: Any) -> Any:
        torch = self._torch
        scaled = scores / self.temperature.clamp(min=1e-5)[:, None]
        ordered, order = scaled.sort(-1, descending=True)
        ranks = torch.arange(ordered.shape[-1], device=ordered.device)
        ordered = ordered.masked_fill(ranks[None, :] >= self.top_k[:, None], float("-inf"))
        probabilities = ordered.softmax(-1)
        before = probabilities.cumsum(-1) - probabilities
        probabilities = probabilities.masked_fill(before > self.top_p[:, None], 0.0)
        cumulative = probabilities.cumsum(-1)
        cumulative = cumulative / cumulative[:, -1:]
        draws = torch.stack([torch.rand((), generator=generator) for generator in self.generators])
        index = torch.searchsorted(cumulative, draws.to(cumulative.device)[:, None]).clamp(max=ordered.shape[-1] - 1)
        return order.gather(1, index).squeeze(1)


def _left_padded(prompts: Sequence[Sequence[int]], pad: int) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, prompts), dtype=np.int64, count=len(prompts))
    width = int(lengths.max())
    flat = np.fromiter((token for prompt in prompts for token in prompt), dtype=np.int64, count=int(lengths.sum()))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    positions = np.arange(width)[None, :] - (width - lengths)[:, None]
    valid = positions >= 0
    ids = np.where(valid, flat[np.where(valid, starts[:, None] + positions, 0)], pad)
    return ids, valid.astype(np.int64)


def decode(model: Any, tokenizer: Any, requests: Sequence[GenerationRequest], *, eos_ids: frozenset[int]) -> None:
    """Generate for every request together; fills in each request's text, counts and finish reason."""
    torch = torch_module()
    transformers = transformers_module()
    device = model.device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(eos_ids)
    ids_np, mask_np = _left_padded([request.prompt_ids for request in requests], pad)
    ids, mask = torch.from_numpy(ids_np).to(device), torch.from_numpy(mask_np).to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    vocab = int(model.get_output_embeddings().weight.shape[0])
    sampler = _Sampler([request.params for request in requests], (ids, mask), vocab, device)
    rows = _Rows(requests, tokenizer, eos_ids)
    active = list(requests)
    cache = transformers.DynamicCache()
    with torch.inference_mode():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True).logits[
            :, -1, :
        ]
        last = positions[:, -1:]
        while True:
            tokens = sampler.choose(logits)
            finished = [rows.push(request, token) for request, token in zip(active, tokens.tolist(), strict=True)]
            if all(finished):
                return
            if any(finished):
                keep = torch.tensor([index for index, done in enumerate(finished) if not done], device=device)
                cache.batch_select_indices(keep)
                mask, last, tokens = mask[keep], last[keep], tokens[keep]
                sampler.keep(keep)
                active = [request for request, done in zip(active, finished, strict=True) if not done]
            mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=-1)
            last = last + 1
            logits = model(
                input_ids=tokens[:, None], attention_mask=mask, position_ids=last, cache=cache, use_cache=True
            ).logits[:, -1, :]
