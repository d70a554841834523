"""Preference tuning with DPO (Direct Preference Optimization): teach a model to prefer one response over another.

**Pairs from feedback** (:func:`preference_pairs`): a feedback row with a ``preferred`` and a ``rejected``
response is one pair, as it is. Ratings become pairs by prompt: the responses rated for one prompt (the mean
when one response was rated several times) are paired best against worse, every response rated higher than
another being ``chosen`` over it; equal ratings make no pair, and a prompt with one rated response makes none.

**The loss** (Rafailov et al., 2023): for a pair, the policy's log-probability of the chosen and the rejected
response given the prompt, each relative to the reference model's (the base model before tuning, computed
once before the first step), ``loss = -log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r)))``. The
*rewards* are ``beta * (pi - ref)``; their ``reward_margin`` (chosen minus rejected) and ``reward_accuracy``
(the share of pairs whose chosen reward is higher) are logged at every step and on the held-out pairs.

The optimizer loop, LoRA and the settings are fine-tuning's (:mod:`fti.llm.finetune`): a
:class:`~fti.llm.finetune_config.FinetuneConfig` says how to train (LoRA or every weight, learning rate,
steps, batch size, seed), and ``beta`` how far the policy may move from the reference.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fti.errors import ValidationError
from fti.llm.finetune import Progress, Trainer, total_steps
from fti.llm.finetune_config import FinetuneConfig
from fti.llm.generator import TextGenerator
from fti.llm.lora import apply_lora
from fti.llm.ports import NullTextRunLogger, TextRunLogger
from fti.llm.pretrained import ensure_pad_token
from fti.llm.runtime import pick_device, torch_module
from fti.llm.text_data import assign_text_splits
from fti.llm.tokenized import IGNORE_INDEX, TokenizedSplit, tokenize_pairs

__all__ = ["PAIR_COLUMNS", "DPOResult", "PreferencePairs", "dpo", "preference_pairs", "tokenize_preferences"]

PAIR_COLUMNS = ("prompt", "chosen", "rejected")
_EVAL_BATCH = 16


def preference_pairs(feedback: pd.DataFrame) -> pd.DataFrame:
    """Preference pairs (``prompt``, ``chosen``, ``rejected``) from feedback rows (the rule: module docstring).

    ``feedback`` has ``prompt`` and ``preferred``/``rejected`` or ``response``/``rating`` columns (the
    feedback group's rows have all of them); a frame that already has ``chosen`` and ``rejected`` is taken as
    pairs.

    Example:
        >>> rows = pd.DataFrame({"prompt": ["p", "p"], "response": ["good", "bad"], "rating": [1.0, 0.0]})
        >>> preference_pairs(rows).to_dict("records")
        [{'prompt': 'p', 'chosen': 'good', 'rejected': 'bad'}]
    """
    if {"chosen", "rejected", "prompt"} <= set(feedback.columns):
        pairs = feedback.loc[:, list(PAIR_COLUMNS)]
    else:
        if "prompt" not in feedback.columns:
            raise ValidationError(
                f"Preference feedback needs a 'prompt' column; it has {', '.join(map(repr, feedback.columns))}."
            )
        parts = []
        if {"preferred", "rejected"} <= set(feedback.columns):
            given = feedback.dropna(subset=["prompt", "preferred", "rejected"])
            parts.append(given.rename(columns={"preferred": "chosen"}).loc[:, list(PAIR_COLUMNS)])
        if {"response", "rating"} <= set(feedback.columns):
            parts.append(_rated_pairs(feedback))
        if not parts:
            raise ValidationError(
                "Preference feedback needs 'preferred' and 'rejected' columns, or 'response' and 'rating': "
                f"it has {', '.join(map(repr, feedback.columns))}."
            )
        pairs = pd.concat(parts, ignore_index=True)
    pairs = pairs.dropna().astype(str)
    return pairs[pairs["chosen"] != pairs["rejected"]].drop_duplicates().reset_index(drop=True)


def _rated_pairs(feedback: pd.DataFrame) -> pd.DataFrame:
    rated = feedback.dropna(subset=["prompt", "response", "rating"])
    means = rated.groupby(["prompt", "response"], as_index=False, sort=False)["rating"].mean()
    both = means.merge(means, on="prompt", suffixes=("_chosen", "_rejected"))
    better = both[both["rating_chosen"] > both["rating_rejected"]]
    renamed = better.rename(columns={"response_chosen": "chosen", "response_rejected": "rejected"})
    pairs: pd.DataFrame = renamed.loc[:, list(PAIR_COLUMNS)]
    return pairs


@dataclass(frozen=True, slots=True)
class PreferencePairs:
    """One split of tokenized pairs: row ``i`` of ``chosen`` and of ``rejected`` share a prompt."""

    chosen: TokenizedSplit
    rejected: TokenizedSplit

    def __len__(self) -> int:
        return len(self.chosen)


def tokenize_preferences(
    pairs: pd.DataFrame, tokenizer: Any, config: FinetuneConfig, context_length: int, *, held_out: float
) -> dict[str, PreferencePairs]:
    """The pairs tokenized into a ``train`` split and, when ``held_out`` > 0, a ``test`` split (by prompt).

    Raises:
        ValidationError: no pairs, no training pairs, or a pair that does not fit (the row checks of ``config``;
            a pair is kept or refused whole).
    """
    if pairs.empty:
        raise ValidationError(
            "No preference pairs: give feedback with 'preferred' responses, or ratings that differ between "
            "responses to one prompt."
        )
    if not 0 <= held_out < 1:
        raise ValidationError(f"held_out must be in [0, 1), got {held_out!r}.")
    names = (
        assign_text_splits(pairs["prompt"], {"train": 1 - held_out, "test": held_out})
        if held_out
        else np.full(len(pairs), "train", dtype=object)
    )
    ensure_pad_token(tokenizer, config.pad_token)
    checks = config.row_checks(context_length)
    splits: dict[str, PreferencePairs] = {}
    for name in ("train", "test"):
        rows = pairs[names == name]
        if rows.empty:
            continue
        sides = [
            tokenize_pairs(rows.rename(columns={side: "response"}), tokenizer, checks, split=f"{name} ({side})")
            for side in ("chosen", "rejected")
        ]
        if any(side.report.kept != len(rows) for side in sides):
            raise ValidationError(
                f"Some {name} preference pairs do not fit in max_length {checks.max_length} tokens: a pair is "
                "trained whole, so raise max_length or leave out the pairs with long prompts."
            )
        splits[name] = PreferencePairs(*sides)
    if "train" not in splits:
        raise ValidationError(f"All {len(pairs)} preference pair(s) are held out: lower held_out.")
    return splits


def _sequence_logps(model: Any, data: TokenizedSplit, rows: np.ndarray, device: str) -> Any:
    """The summed log-probability of each row's response tokens (labels) given its prompt."""
    torch = torch_module()
    ids, mask, labels = (torch.from_numpy(part).to(device) for part in data.batch(rows))
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
    targets = labels[:, 1:]
    valid = targets != IGNORE_INDEX
    picked = torch.log_softmax(logits, dim=-1).gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * valid).sum(dim=-1)


def _all_logps(model: Any, pairs: PreferencePairs, device: str) -> tuple[Any, Any]:
    """Every pair's chosen and rejected log-probabilities, in eval mode without gradients."""
    torch = torch_module()
    was_training = bool(getattr(model, "training", False))
    model.eval()
    chosen, rejected = [], []
    with torch.no_grad():  # not inference mode: the reference values enter the training loss
        for start in range(0, len(pairs), _EVAL_BATCH):
            rows = np.arange(start, min(start + _EVAL_BATCH, len(pairs)))
            chosen.append(_sequence_logps(model, pairs.chosen, rows, device))
            rejected.append(_sequence_logps(model, pairs.rejected, rows, device))
    if was_training:
        model.train()
    return torch.cat(chosen), torch.cat(rejected)


def _rewards(beta: float, policy: tuple[Any, Any], reference: tuple[Any, Any]) -> dict[str, Any]:
    """The DPO loss (a tensor) and the reward statistics (floats) of a batch."""
    torch = torch_module()
    chosen = beta * (policy[0] - reference[0])
    rejected = beta * (policy[1] - reference[1])
    margin = chosen - rejected
    return {
        "loss": -torch.nn.functional.logsigmoid(margin).mean(),
        "chosen_reward": float(chosen.detach().mean()),
        "rejected_reward": float(rejected.detach().mean()),
        "reward_margin": float(margin.detach().mean()),
        "reward_accuracy": float((margin.detach() > 0).float().mean()),
    }


@dataclass(frozen=True, slots=True)
class DPOResult:
    """What preference tuning produced and how it went."""

    generator: TextGenerator
    steps: int
    train_loss: float
    seconds: float
    trainable_parameters: int
    total_parameters: int
    #: held-out statistics: ``base_logp_margin`` and ``logp_margin`` (mean chosen minus rejected
    #: log-probability before and after), ``eval_reward_margin``, ``eval_reward_accuracy`` (empty without a
    #: held-out split)
    evaluation: dict[str, float]


def dpo(
    base: TextGenerator,
    splits: dict[str, PreferencePairs],
    config: FinetuneConfig,
    *,
    beta: float = 0.1,
    logger: TextRunLogger | None = None,
) -> DPOResult:
    """Tune ``base`` with DPO on ``splits["train"]`` (from :func:`tokenize_preferences`); ``base``'s model is
    trained in place (LoRA wraps it).

    Every step logs ``train_loss``, ``learning_rate``, ``chosen_reward``, ``rejected_reward``,
    ``reward_margin`` and ``reward_accuracy`` to ``logger``.
    """
    if not (isinstance(beta, int | float) and beta > 0 and math.isfinite(beta)):
        raise ValidationError(f"DPO setting 'beta' must be a positive number, got {beta!r}.")
    torch = torch_module()
    logger = logger or NullTextRunLogger()
    device = pick_device(config.device, config.threads)
    torch.manual_seed(config.seed)
    base.model.to(device.name)
    train, test = splits["train"], splits.get("test")
    reference = {name: _all_logps(base.model, split, device.name) for name, split in splits.items()}
    model = apply_lora(base.model, config.lora) if config.method == "lora" else base.model
    total = total_steps(config, len(train))
    trainer = Trainer(model, config, device, total)
    order = torch.Generator().manual_seed(config.seed)
    stats: dict[str, Any] = {}
    seconds, loss = 0.0, math.nan
    model.train()
    with Progress(config.progress, total, "preference tuning") as progress:
        for step in range(1, total + 1):
            started = time.perf_counter()
            rate = trainer.optimizer.param_groups[0]["lr"]

            def batch_loss() -> tuple[Any, int]:
                rows = torch.randint(len(train), (min(config.batch_size, len(train)),), generator=order).numpy()
                policy = (
                    _sequence_logps(model, train.chosen, rows, device.name),
                    _sequence_logps(model, train.rejected, rows, device.name),
                )
                picked = tuple(side[torch.as_tensor(rows, device=side.device)] for side in reference["train"])
                stats.update(_rewards(beta, policy, picked))
                tokens = int(train.chosen.lengths[rows].sum() + train.rejected.lengths[rows].sum())
                return stats.pop("loss"), tokens

            loss = trainer.optimize(batch_loss)
            seconds += time.perf_counter() - started
            logger.log_metrics({"train_loss": loss, "learning_rate": rate, **stats}, step=step)
            progress.update(loss, trainer.tokens / seconds)
    model.eval()
    evaluation: dict[str, float] = {}
    if test is not None:
        after = _all_logps(model, test, device.name)
        before = reference["test"]
        evaluation = {
            "base_logp_margin": float((before[0] - before[1]).mean()),
            "logp_margin": float((after[0] - after[1]).mean()),
        }
        held = _rewards(beta, after, before)
        evaluation |= {"eval_reward_margin": held["reward_margin"], "eval_reward_accuracy": held["reward_accuracy"]}
    generator = TextGenerator(model, base.tokenizer, defaults=base.defaults, base_model=base.base_model)
    return DPOResult(
        generator=generator,
        steps=total,
        train_loss=loss,
        seconds=seconds,
        trainable_parameters=sum(parameter.numel() for parameter in trainer.parameters),
        total_parameters=sum(parameter.numel() for parameter in model.parameters()),
        evaluation=evaluation,
    )
