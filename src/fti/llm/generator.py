"""A causal language model with its tokenizer and generation defaults: generate, stream, chat, score.

:class:`TextGenerator` is what ``project.finetune`` trains and registers, what a registered
``transformers`` model version loads as, and what the model server generates with. One lock serializes
its use of the model: the server gathers concurrent requests into batches before they get here.

Example:
    >>> generator = fti.llm.load_pretrained("models/tiny-gpt2")  # doctest: +SKIP
    >>> generator.generate("# Task: Return the sum of a and b.\\n", temperature=0.7, seed=1)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fti.errors import ParameterError, ValidationError
from fti.llm.decoding import GenerationRequest, decode
from fti.llm.generation import GenerationParams
from fti.llm.runtime import torch_module
from fti.llm.tokenized import IGNORE_INDEX, TokenizedSplit

__all__ = ["Completion", "TextGenerator", "mean_loss"]

_PERPLEXITY_BATCH = 16


@dataclass(frozen=True, slots=True)
class Completion:
    """One generated answer."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    first_token_seconds: float | None


class TextGenerator:
    """A causal LM, its tokenizer and its generation defaults.

    Args:
        model: a transformers causal LM (``...ForCausalLM``), or a peft model wrapping one.
        tokenizer: its tokenizer; a missing pad token is set to the EOS token.
        defaults: generation parameters a call does not give.
        base_model: where the model came from (a model version reference, ``folder:...`` or ``package:...``).
    """

    def __init__(
        self, model: Any, tokenizer: Any, *, defaults: GenerationParams | None = None, base_model: str | None = None
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.defaults = defaults or GenerationParams()
        self.base_model = base_model
        self._lock = threading.Lock()
        eos = getattr(model.generation_config, "eos_token_id", None)
        found = {*(eos if isinstance(eos, list) else [eos]), tokenizer.eos_token_id}
        self.eos_ids = frozenset(int(token) for token in found if token is not None)
        if not self.eos_ids:
            raise ValidationError(
                "The tokenizer has no EOS token and the model's generation config names none: set "
                "tokenizer.eos_token so generation knows where an answer ends."
            )

    @property
    def context_length(self) -> int:
        """The most tokens (prompt and generated) the model reads."""
        config = self.model.config
        for name in ("max_position_embeddings", "n_positions", "n_ctx"):
            value = getattr(config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return int(self.tokenizer.model_max_length)

    @property
    def has_chat_template(self) -> bool:
        """Whether the tokenizer can turn chat messages into a prompt."""
        return bool(getattr(self.tokenizer, "chat_template", None))

    # -- prompts -----------------------------------------------------------------------------------

    def encode(self, prompt: str) -> list[int]:
        """The prompt's token ids (with the special tokens the tokenizer adds, e.g. a BOS)."""
        ids: list[int] = self.tokenizer(prompt)["input_ids"]
        return ids

    def chat_prompt(self, messages: Sequence[Mapping[str, str]]) -> str:
        """The prompt for ``messages`` (``role`` and ``content`` each) by the tokenizer's chat template."""
        if not self.has_chat_template:
            raise ValidationError(
                "This model's tokenizer has no chat template, so chat messages cannot be turned into a prompt: "
                "send a plain prompt (completions), or set tokenizer.chat_template before registering the model."
            )
        text: str = self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return text

    def params(self, params: GenerationParams | None = None, **overrides: Any) -> GenerationParams:
        """``params`` (default: the generator's defaults) with ``overrides``, checked."""
        return (params or self.defaults).replace(**overrides)

    def request(self, prompt: str, params: GenerationParams, on_text: Any = None) -> GenerationRequest:
        """A checked request for ``prompt``: it and ``max_new_tokens`` must fit the context.

        Raises:
            ParameterError: ``max_new_tokens`` does not fit after the prompt.
            ValidationError: the prompt alone fills the context.
        """
        ids = self.encode(prompt)
        room = self.context_length - len(ids)
        if room < 1:
            raise ValidationError(
                f"The prompt has {len(ids)} tokens but the model reads at most {self.context_length}: shorten it."
            )
        if params.max_new_tokens > room:
            raise ParameterError(
                "max_new_tokens",
                f"Generation parameter 'max_new_tokens' is {params.max_new_tokens} but only {room} tokens fit after "
                f"the prompt's {len(ids)} in the model's context of {self.context_length}: ask for at most {room}.",
            )
        return GenerationRequest(ids, params, on_text)

    # -- generating --------------------------------------------------------------------------------

    def run(self, requests: Sequence[GenerationRequest]) -> None:
        """Generate for ``requests`` in one batch (fills them in); serialized with other callers."""
        if not requests:
            return
        with self._lock:
            if getattr(self.model, "training", False):
                self.model.eval()
            decode(self.model, self.tokenizer, requests, eos_ids=self.eos_ids)

    def complete(
        self, prompts: Sequence[str], params: GenerationParams | None = None, **overrides: Any
    ) -> list[Completion]:
        """Complete several prompts in one batch, with the same parameters."""
        chosen = self.params(params, **overrides)
        requests = [self.request(prompt, chosen) for prompt in prompts]
        started = time.perf_counter()
        self.run(requests)
        return [
            Completion(
                item.text,
                len(item.prompt_ids),
                item.completion_tokens,
                item.finish_reason,
                None if item.first_token_at is None else item.first_token_at - started,
            )
            for item in requests
        ]

    def generate(self, prompt: str, params: GenerationParams | None = None, **overrides: Any) -> str:
        """The text generated after ``prompt``.

        Args:
            prompt: the text to continue.
            params: generation parameters (default: the generator's).
            overrides: single parameters, e.g. ``temperature=0.7, top_k=50, seed=1, stop=["\\n\\n"]``.
        """
        return self.complete([prompt], params, **overrides)[0].text

    def chat(
        self, messages: Sequence[Mapping[str, str]], params: GenerationParams | None = None, **overrides: Any
    ) -> str:
        """The assistant's answer to ``messages``, through the tokenizer's chat template."""
        return self.generate(self.chat_prompt(messages), params, **overrides)

    def stream(self, prompt: str, params: GenerationParams | None = None, **overrides: Any) -> Iterator[str]:
        """The generated text piece by piece, as it is produced."""
        pieces: queue.SimpleQueue[str | BaseException | None] = queue.SimpleQueue()
        request = self.request(prompt, self.params(params, **overrides), pieces.put)

        def work() -> None:
            try:
                self.run([request])
            except BaseException as exc:  # handed to the consuming thread
                pieces.put(exc)
            finally:
                pieces.put(None)

        threading.Thread(target=work, name="fti-generate", daemon=True).start()
        while (piece := pieces.get()) is not None:
            if isinstance(piece, BaseException):
                raise piece
            yield piece

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Generated text for each row's ``prompt`` (the registry's and the server's ``predict``)."""
        if "prompt" not in frame.columns:
            raise ValidationError(
                f"A text generation model needs a 'prompt' column; the input has {', '.join(map(repr, frame.columns))}."
            )
        completions = self.complete(frame["prompt"].astype(str).tolist())
        return np.array([item.text for item in completions], dtype=object)

    # -- scoring -----------------------------------------------------------------------------------

    def perplexity(self, data: TokenizedSplit, *, batch_size: int = _PERPLEXITY_BATCH) -> float:
        """exp of the mean negative log-likelihood of the labelled tokens (the responses) of ``data``."""
        with self._lock:
            return math.exp(mean_loss(self.model, data, self.model.device, batch_size=batch_size))

    def __repr__(self) -> str:
        return f"TextGenerator(model={type(self.model).__name__}, base_model={self.base_model!r})"


def mean_loss(model: Any, data: TokenizedSplit, device: Any, *, batch_size: int = _PERPLEXITY_BATCH) -> float:
    """The mean negative log-likelihood per labelled token of ``data`` (rows in order, in eval mode)."""
    torch = torch_module()
    total, count = 0.0, 0
    was_training = bool(getattr(model, "training", False))
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(data), batch_size):
                rows = np.arange(start, min(start + batch_size, len(data)))
                ids, mask, labels = (torch.from_numpy(part).to(device) for part in data.batch(rows))
                logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
                targets = labels[:, 1:]
                total += float(
                    torch.nn.functional.cross_entropy(
                        logits.reshape(-1, logits.shape[-1]),
                        targets.reshape(-1),
                        ignore_index=IGNORE_INDEX,
                        reduction="sum",
                    )
                )
                count += int((targets != IGNORE_INDEX).sum())
    finally:
        if was_training:
            model.train()
    if count == 0:
        raise ValidationError("The loss needs at least one response token; the data has none.")
    return total / count
