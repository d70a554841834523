"""The settings of a fine-tuning run, checked before anything is loaded, trained or written."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fti.errors import ValidationError
from fti.llm.lora import LoraSettings
from fti.llm.tokenized import RowChecks

__all__ = ["DEFAULT_LEARNING_RATES", "FinetuneConfig", "Method"]

Method = Literal["lora", "full"]
Schedule = Literal["linear", "cosine", "constant"]
SaveAs = Literal["auto", "adapter", "merged"]

#: full fine-tuning moves every weight, so it takes small steps; LoRA trains fresh low-rank adapters
DEFAULT_LEARNING_RATES: dict[Method, float] = {"full": 2e-5, "lora": 2e-4}
_DEFAULT_MAX_LENGTH = 512


def _positive(name: str, value: Any, *, integer: bool = True, allow_zero: bool = False) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or value < 0 or (value == 0 and not allow_zero):
        what = "an integer" if integer else "a number"
        bound = ">= 0" if allow_zero else "> 0"
        raise ValidationError(f"Fine-tuning setting '{name}' must be {what} {bound}, got {value!r}.")


@dataclass(frozen=True, slots=True)
class FinetuneConfig:
    """How to fine-tune: method, optimization, LoRA, evaluation, data checks, device and saving.

    Attributes:
        method: ``"lora"`` (train low-rank adapters, the base weights frozen) or ``"full"`` (every weight).
        learning_rate: AdamW's peak rate (default: 2e-4 for LoRA, 2e-5 for full fine-tuning).
        epochs: passes over the training split (fractions allowed); ignored when ``max_steps`` is set.
        max_steps: optimizer steps to take.
        batch_size: rows per forward pass.
        gradient_accumulation: forward passes per optimizer step.
        max_length: the most tokens of one row (default: the model's context, at most 512).
        lora_rank: the adapters' rank ``r``.
        lora_alpha: their scaling (``alpha / r``).
        lora_dropout: dropout on the adapters' input.
        target_modules: module names to adapt (default: every projection of the blocks, see
            :mod:`fti.llm.lora`).
        warmup_steps: steps of linear warmup from 0 to the learning rate.
        schedule: the rate after warmup: ``"linear"`` decay to 0, ``"cosine"`` or ``"constant"``.
        weight_decay: AdamW's weight decay.
        max_grad_norm: clip gradients to this norm (None: no clipping).
        eval_every: compute the evaluation loss every this many steps (None: at the end only).
        early_stopping_patience: stop after this many evaluations without a better validation loss and
            keep the best weights (needs a ``validation`` split and ``eval_every``).
        gradient_checkpointing: recompute activations in the backward pass (less memory, slower).
        seed: seeds the adapters' initialization, dropout and batch order.
        threads: CPU threads (None: torch's default).
        device: ``"cpu"`` or ``"cuda"`` (None: CUDA when present).
        on_long: rows over ``max_length``: ``"error"``, ``"truncate"`` or ``"drop"``.
        on_empty: rows with an empty response: ``"error"`` or ``"drop"``.
        pack: pack rows into blocks of ``max_length`` tokens instead of padding them.
        pad_token: the pad token to set when the tokenizer has none (``"eos"``: its EOS token; None: refuse).
        save_as: ``"adapter"`` (LoRA only, needs a registered base model), ``"merged"`` (the whole model), or
            ``"auto"`` (the adapter when the base model is a registered version, else merged).
        eval_samples: held-out rows to generate answers for (BLEU, ROUGE, exact match, samples table).
        eval_max_new_tokens: tokens to generate for each of them.
        progress: show a progress bar with the loss and tokens/s.
    """

    method: Method = "lora"
    learning_rate: float | None = None
    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 8
    gradient_accumulation: int = 1
    max_length: int | None = None
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] | None = None
    warmup_steps: int = 0
    schedule: Schedule = "linear"
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    eval_every: int | None = None
    early_stopping_patience: int | None = None
    gradient_checkpointing: bool = False
    seed: int = 0
    threads: int | None = None
    device: str | None = None
    on_long: Literal["error", "truncate", "drop"] = "error"
    on_empty: Literal["error", "drop"] = "error"
    pack: bool = False
    pad_token: str | None = "eos"
    save_as: SaveAs = "auto"
    eval_samples: int = 16
    eval_max_new_tokens: int = 64
    progress: bool = True

    def __post_init__(self) -> None:
        if self.method not in ("lora", "full"):
            raise ValidationError(f"method must be 'lora' or 'full', got {self.method!r}.")
        if self.learning_rate is not None:
            _positive("learning_rate", self.learning_rate, integer=False)
        _positive("epochs", self.epochs, integer=False)
        for name in ("batch_size", "gradient_accumulation", "lora_rank", "lora_alpha", "eval_max_new_tokens"):
            _positive(name, getattr(self, name))
        for name in ("max_steps", "max_length", "eval_every", "early_stopping_patience", "threads"):
            if getattr(self, name) is not None:
                _positive(name, getattr(self, name))
        for name in ("warmup_steps", "seed", "eval_samples"):
            _positive(name, getattr(self, name), allow_zero=True)
        _positive("weight_decay", self.weight_decay, integer=False, allow_zero=True)
        if not 0 <= self.lora_dropout < 1:
            raise ValidationError(f"Fine-tuning setting 'lora_dropout' must be in [0, 1), got {self.lora_dropout!r}.")
        if self.schedule not in ("linear", "cosine", "constant"):
            raise ValidationError(f"schedule must be 'linear', 'cosine' or 'constant', got {self.schedule!r}.")
        if self.save_as not in ("auto", "adapter", "merged"):
            raise ValidationError(f"save_as must be 'auto', 'adapter' or 'merged', got {self.save_as!r}.")
        if self.save_as == "adapter" and self.method == "full":
            raise ValidationError("save_as='adapter' needs method='lora': full fine-tuning changes every weight.")
        if self.early_stopping_patience is not None and self.eval_every is None:
            raise ValidationError("early_stopping_patience needs eval_every: the steps at which to evaluate.")
        if self.target_modules is not None:
            object.__setattr__(self, "target_modules", tuple(self.target_modules))
        RowChecks(max_length=self.max_length or 2, on_long=self.on_long, on_empty=self.on_empty)

    @property
    def resolved_learning_rate(self) -> float:
        """The learning rate, or the method's default."""
        return self.learning_rate if self.learning_rate is not None else DEFAULT_LEARNING_RATES[self.method]

    @property
    def lora(self) -> LoraSettings:
        """The LoRA part."""
        return LoraSettings(self.lora_rank, self.lora_alpha, self.lora_dropout, self.target_modules)

    def row_checks(self, context_length: int) -> RowChecks:
        """The data checks, with ``max_length`` bounded by the model's context."""
        length = min(self.max_length or _DEFAULT_MAX_LENGTH, context_length)
        return RowChecks(max_length=length, on_long=self.on_long, on_empty=self.on_empty, pack=self.pack)

    def as_params(self) -> dict[str, Any]:
        """Every setting (the learning rate resolved) as run params."""
        values = dataclasses.asdict(self)
        values["learning_rate"] = self.resolved_learning_rate
        values.pop("progress")
        return values

    @classmethod
    def build(cls, config: FinetuneConfig | None, options: Mapping[str, Any]) -> FinetuneConfig:
        """``config`` (or the defaults) with ``options`` over it; unknown option names are refused."""
        known = {item.name for item in dataclasses.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValidationError(
                f"Unknown fine-tuning setting(s) {', '.join(map(repr, unknown))}: the settings are "
                f"{', '.join(sorted(known))}."
            )
        base = config or cls()
        return dataclasses.replace(base, **options) if options else base
