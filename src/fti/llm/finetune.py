"""Fine-tuning a causal LM on text data: LoRA or every weight, one loop for CPU and CUDA.

The loop is plain PyTorch over the tokenized splits (no trainer framework between it and the model):
shuffled batches gathered from flat token arrays, gradient accumulation, AdamW with warmup and a
linear, cosine or constant schedule, gradient clipping, autocast on CUDA (bfloat16, or float16 with a
gradient scaler), optional gradient checkpointing. Every optimizer step logs ``train_loss`` and
``learning_rate`` to the run (buffered and written every few seconds, so the dashboard draws the curves
while it trains); every ``eval_every`` steps ``eval_loss`` on the validation split (the test split when
there is none), with early stopping on the validation loss. A progress bar shows the loss and tokens/s.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from fti.errors import ValidationError
from fti.llm.finetune_config import FinetuneConfig
from fti.llm.generator import TextGenerator, mean_loss
from fti.llm.lora import apply_lora
from fti.llm.ports import NullTextRunLogger, TextRunLogger
from fti.llm.pretrained import ensure_pad_token
from fti.llm.runtime import Device, pick_device, torch_module
from fti.llm.text_data import TextDataset
from fti.llm.tokenized import TokenizedSplit, TokenizedText

__all__ = ["FinetuneResult", "Progress", "Trainer", "finetune", "prepare", "total_steps"]


@dataclass(frozen=True, slots=True)
class FinetuneResult:
    """What fine-tuning produced and how it went."""

    generator: TextGenerator
    steps: int
    train_loss: float
    eval_loss: float | None
    stopped_early: bool
    #: tokens (not padding) through the forward and backward passes per second of training steps
    tokens_per_second: float
    seconds: float
    trainable_parameters: int
    total_parameters: int


def prepare(base: TextGenerator, data: TextDataset, config: FinetuneConfig) -> TokenizedText:
    """Check the tokenizer and tokenize ``data`` (every row check runs here, before any training)."""
    ensure_pad_token(base.tokenizer, config.pad_token)
    tokenized = data.tokenize(base.tokenizer, config.row_checks(base.context_length))
    if "train" not in tokenized or len(tokenized["train"]) == 0:
        raise ValidationError("The text data has no training rows left: check its split and the row checks.")
    if config.early_stopping_patience is not None and "validation" not in tokenized:
        raise ValidationError(
            "early_stopping_patience needs a validation split: TextDataset(..., split={'train': 0.8, "
            "'validation': 0.1, 'test': 0.1})."
        )
    return tokenized


def _batches(split: TokenizedSplit, batch_size: int, generator: Any) -> Iterator[np.ndarray]:
    torch = torch_module()
    while True:  # epochs without end: the step count decides when to stop
        order = torch.randperm(len(split), generator=generator).numpy()
        for start in range(0, len(order), batch_size):
            yield order[start : start + batch_size]


def _schedule(config: FinetuneConfig, total: int) -> Any:
    warmup = config.warmup_steps

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if config.schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total - warmup)
        return max(0.0, 1 - progress) if config.schedule == "linear" else 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def total_steps(config: FinetuneConfig, rows: int) -> int:
    """The optimizer steps to take: ``max_steps``, else ``epochs`` over ``rows``."""
    if config.max_steps is not None:
        return config.max_steps
    per_epoch = math.ceil(rows / config.batch_size) / config.gradient_accumulation
    return max(1, math.ceil(config.epochs * per_epoch))


class Progress:
    """A rich progress bar over steps with the loss and tokens/s, or nothing."""

    def __init__(self, enabled: bool, total: int, title: str = "fine-tuning") -> None:
        self._bar: Any = None
        self._task: Any = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn(title), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TextColumn("{task.description}"), refresh_per_second=2,
            )  # fmt: skip
            self._task = self._bar.add_task("", total=total)

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def update(self, loss: float, tokens_per_second: float) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=f"loss {loss:.4f}  {tokens_per_second:,.0f} tok/s")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


class Trainer:
    """The optimizer loop over one model."""

    def __init__(self, model: Any, config: FinetuneConfig, device: Device, total: int) -> None:
        torch = torch_module()
        self.torch, self.model, self.config, self.device = torch, model, config, device
        self.parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
        self.optimizer = torch.optim.AdamW(
            self.parameters, lr=config.resolved_learning_rate, weight_decay=config.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _schedule(config, total))
        self.scaler = torch.amp.GradScaler("cuda", enabled=device.precision == "float16")
        self.tokens = 0

    def step(self, split: TokenizedSplit, batches: Iterator[np.ndarray]) -> float:
        """One optimizer step over ``gradient_accumulation`` batches; returns its loss."""
        torch = self.torch

        def batch_loss() -> tuple[Any, int]:
            ids, mask, labels = (torch.from_numpy(part).to(self.device.name) for part in split.batch(next(batches)))
            return self.model(input_ids=ids, attention_mask=mask, labels=labels).loss, int(mask.sum())

        return self.optimize(batch_loss)

    def optimize(self, batch_loss: Callable[[], tuple[Any, int]]) -> float:
        """One optimizer step over ``gradient_accumulation`` calls of ``batch_loss`` (a loss tensor and the
        tokens it saw, computed under autocast); returns the step's loss."""
        accumulation = self.config.gradient_accumulation
        total = 0.0
        for _ in range(accumulation):
            with self.device.autocast():
                loss, tokens = batch_loss()
                loss = loss / accumulation
            self.scaler.scale(loss).backward()
            total += float(loss.detach())
            self.tokens += tokens
        if self.config.max_grad_norm is not None:
            self.scaler.unscale_(self.optimizer)
            self.torch.nn.utils.clip_grad_norm_(self.parameters, self.config.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        return total

    def snapshot(self) -> list[Any]:
        return [parameter.detach().clone() for parameter in self.parameters]

    def restore(self, saved: list[Any]) -> None:
        with self.torch.no_grad():
            for parameter, value in zip(self.parameters, saved, strict=True):
                parameter.copy_(value)


def finetune(
    base: TextGenerator, data: TextDataset | TokenizedText, config: FinetuneConfig, logger: TextRunLogger | None = None
) -> FinetuneResult:
    """Fine-tune ``base`` on ``data``'s training split; the result's generator holds the trained model.

    ``base``'s model is trained in place (LoRA wraps it in a peft model): load it afresh to keep the
    original.

    Args:
        base: the pretrained model and tokenizer.
        data: the text data (or its tokenized splits from :func:`prepare`).
        config: the settings.
        logger: the run to log ``train_loss``, ``learning_rate`` and ``eval_loss`` to at every step.

    Raises:
        ValidationError: bad settings or data, found before training starts.
    """
    torch = torch_module()
    logger = logger or NullTextRunLogger()
    tokenized = data if isinstance(data, TokenizedText) else prepare(base, data, config)
    device = pick_device(config.device, config.threads)
    torch.manual_seed(config.seed)
    model = apply_lora(base.model, config.lora) if config.method == "lora" else base.model
    model.to(device.name)
    if config.gradient_checkpointing:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    train = tokenized["train"]
    evaluation = next((tokenized[name] for name in ("validation", "test") if name in tokenized), None)
    total = total_steps(config, len(train))
    trainer = Trainer(model, config, device, total)
    batches = _batches(train, config.batch_size, torch.Generator().manual_seed(config.seed))
    best: tuple[float, list[Any] | None] = (math.inf, None)
    misses, stopped_early, loss, eval_loss = 0, False, math.nan, None
    seconds = 0.0
    model.train()
    with Progress(config.progress, total) as progress:
        for step in range(1, total + 1):
            started = time.perf_counter()
            rate = trainer.optimizer.param_groups[0]["lr"]
            loss = trainer.step(train, batches)
            seconds += time.perf_counter() - started
            logger.log_metrics({"train_loss": loss, "learning_rate": rate}, step=step)
            progress.update(loss, trainer.tokens / seconds)
            due = config.eval_every is not None and step % config.eval_every == 0
            if evaluation is None or not (due or step == total):
                continue
            eval_loss = mean_loss(model, evaluation, device.name)
            logger.log_metrics({"eval_loss": eval_loss}, step=step)
            if config.early_stopping_patience is None:
                continue
            if eval_loss < best[0]:
                best, misses = (eval_loss, trainer.snapshot()), 0
            else:
                misses += 1
                if misses >= config.early_stopping_patience:
                    stopped_early = True
                    break
    if stopped_early and best[1] is not None:
        trainer.restore(best[1])
        eval_loss = best[0]
    model.eval()
    if config.gradient_checkpointing:
        model.activation_checkpointing_disable()
    generator = TextGenerator(model, base.tokenizer, defaults=base.defaults, base_model=base.base_model)
    return FinetuneResult(
        generator=generator,
        steps=step,
        train_loss=loss,
        eval_loss=eval_loss,
        stopped_early=stopped_early,
        tokens_per_second=trainer.tokens / seconds if seconds else 0.0,
        seconds=seconds,
        trainable_parameters=sum(parameter.numel() for parameter in trainer.parameters),
        total_parameters=sum(parameter.numel() for parameter in model.parameters()),
    )
