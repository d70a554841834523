"""Token ids of prompt/response pairs as flat arrays with offsets: checked, truncated, packed, batched.

Prompts and responses are tokenized separately, in one batched call each (the tokenizer's Rust code),
so the prompt's tokens are known exactly and masked out of the loss (label -100). Each row becomes
``prompt + response + EOS``; rows are kept as one flat ``int64`` array with row offsets, and every
step after tokenizing (joining, truncating, packing, padding a batch) is numpy index arithmetic over
those arrays, never a loop over rows.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from fti.errors import ValidationError

__all__ = ["IGNORE_INDEX", "RowChecks", "RowReport", "TokenizedSplit", "TokenizedText", "tokenize_pairs"]

IGNORE_INDEX = -100
_Array = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True, slots=True)
class RowChecks:
    """What to do with rows that do not fit.

    Attributes:
        max_length: the most tokens of one row (prompt, response and EOS).
        on_long: rows over ``max_length``: ``"error"``, ``"truncate"`` (the response's end is cut; a row
            whose prompt alone fills it is dropped) or ``"drop"``.
        on_empty: rows with an empty response: ``"error"`` or ``"drop"``.
        pack: concatenate the rows and cut them into blocks of ``max_length`` tokens (no padding).
    """

    max_length: int = 512
    on_long: Literal["error", "truncate", "drop"] = "error"
    on_empty: Literal["error", "drop"] = "error"
    pack: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.max_length, int) or self.max_length < 2:
            raise ValidationError(f"max_length must be an integer of at least 2 tokens, got {self.max_length!r}.")
        if self.on_long not in ("error", "truncate", "drop"):
            raise ValidationError(f"on_long must be 'error', 'truncate' or 'drop', got {self.on_long!r}.")
        if self.on_empty not in ("error", "drop"):
            raise ValidationError(f"on_empty must be 'error' or 'drop', got {self.on_empty!r}.")


@dataclass(frozen=True, slots=True)
class RowReport:
    """What happened to the rows of one split."""

    rows: int
    kept: int
    empty: int
    long: int
    truncated: int
    tokens: int

    def as_params(self, split: str) -> dict[str, int]:
        """The counts as run params (``rows_train``, ``rows_train_truncated``, ...)."""
        return {
            f"rows_{split}": self.rows,
            f"rows_{split}_kept": self.kept,
            f"rows_{split}_empty": self.empty,
            f"rows_{split}_long": self.long,
            f"rows_{split}_truncated": self.truncated,
            f"tokens_{split}": self.tokens,
        }


@dataclass(frozen=True, slots=True)
class TokenizedSplit:
    """One split's rows: ``input_ids`` and ``labels`` flat, row ``i`` at ``offsets[i]:offsets[i + 1]``."""

    input_ids: _Array
    labels: _Array
    offsets: _Array
    report: RowReport
    pad_id: int

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> _Array:
        """Tokens per row."""
        return np.diff(self.offsets)

    def batch(self, rows: _Array) -> tuple[_Array, _Array, _Array]:
        """``(input_ids, attention_mask, labels)`` of ``rows``, right-padded to the longest of them."""
        starts = self.offsets[rows]
        lengths = self.offsets[rows + 1] - starts
        width = int(lengths.max())
        positions = np.arange(width)
        valid = positions[None, :] < lengths[:, None]
        index = np.where(valid, starts[:, None] + positions[None, :], 0)
        ids = np.where(valid, self.input_ids[index], self.pad_id)
        labels = np.where(valid, self.labels[index], IGNORE_INDEX)
        return ids, valid.astype(np.int64), labels


@dataclass(frozen=True, slots=True)
class TokenizedText:
    """The tokenized splits by name."""

    splits: dict[str, TokenizedSplit]

    def __getitem__(self, split: str) -> TokenizedSplit:
        return self.splits[split]

    def __contains__(self, split: object) -> bool:
        return split in self.splits


def _flat(lists: list[list[int]]) -> tuple[_Array, _Array]:
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    flat = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64, count=int(lengths.sum()))
    return flat, lengths


def _offsets(lengths: _Array) -> _Array:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def _within(lengths: _Array) -> tuple[_Array, _Array]:
    """For every element of rows of these lengths: its row and its position within the row."""
    rows = np.repeat(np.arange(len(lengths)), lengths)
    within = np.arange(int(lengths.sum())) - np.repeat(_offsets(lengths)[:-1], lengths)
    return rows, within


def _join(prompt: tuple[_Array, _Array], response: tuple[_Array, _Array], eos: int) -> tuple[_Array, _Array, _Array]:
    """``prompt + response + EOS`` per row, with labels masking the prompt; returns ids, labels, lengths."""
    (prompt_ids, prompt_lengths), (response_ids, response_lengths) = prompt, response
    lengths = prompt_lengths + response_lengths + 1
    starts = _offsets(lengths)[:-1]
    ids = np.empty(int(lengths.sum()), dtype=np.int64)
    labels = np.empty_like(ids)
    rows, within = _within(prompt_lengths)
    ids[starts[rows] + within] = prompt_ids
    labels[starts[rows] + within] = IGNORE_INDEX
    rows, within = _within(response_lengths)
    target = starts[rows] + prompt_lengths[rows] + within
    ids[target] = response_ids
    labels[target] = response_ids
    ids[starts + lengths - 1] = eos
    labels[starts + lengths - 1] = eos
    return ids, labels, lengths


def tokenize_pairs(rows: pd.DataFrame, tokenizer: Any, checks: RowChecks, *, split: str) -> TokenizedSplit:
    """Tokenize ``prompt``/``response`` rows, check them against ``checks`` and keep what fits."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValidationError(
            "The tokenizer has no EOS token, which ends every response the model learns: set "
            "tokenizer.eos_token (e.g. to '</s>') before fine-tuning."
        )
    prompts = rows["prompt"].fillna("").astype(str).tolist()
    responses = rows["response"].fillna("").astype(str)
    is_empty = (responses.str.strip() == "").to_numpy()
    prompt = _flat(tokenizer(prompts, add_special_tokens=False)["input_ids"])
    response = _flat(tokenizer(responses.tolist(), add_special_tokens=False)["input_ids"])
    ids, labels, lengths = _join(prompt, response, int(eos))
    is_long = lengths > checks.max_length
    _refuse(split, checks, is_empty, is_long, lengths, rows.index.to_numpy())
    # a truncated row keeps its prompt and the start of its response; one whose prompt fills it is dropped
    can_truncate = prompt[1] < checks.max_length
    keep = ~is_empty & (~is_long | (checks.on_long == "truncate") & can_truncate)
    kept_lengths = np.minimum(lengths, checks.max_length)
    rows_of, within = _within(lengths)
    mask = keep[rows_of] & (within < checks.max_length)
    ids, labels = ids[mask], labels[mask]
    kept_lengths = kept_lengths[keep]
    report = RowReport(
        rows=len(rows),
        kept=int(keep.sum()),
        empty=int(is_empty.sum()),
        long=int(is_long.sum()),
        truncated=int((keep & is_long).sum()),
        tokens=len(ids),
    )
    if checks.pack:
        blocks = -(-len(ids) // checks.max_length)
        offsets = np.minimum(np.arange(blocks + 1, dtype=np.int64) * checks.max_length, len(ids))
    else:
        offsets = _offsets(kept_lengths)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    return TokenizedSplit(ids, labels, offsets, report, int(pad))


def _refuse(
    split: str, checks: RowChecks, is_empty: np.ndarray, is_long: np.ndarray, lengths: _Array, index: np.ndarray
) -> None:
    """Refuse the rows ``checks`` says to refuse, counting them and naming the first by its row index."""
    problems = []
    if checks.on_empty == "error" and is_empty.any():
        first = int(np.flatnonzero(is_empty)[0])
        problems.append(f"{int(is_empty.sum())} row(s) with an empty response (first: row {index[first]})")
    if checks.on_long == "error" and is_long.any():
        first = int(np.flatnonzero(is_long)[0])
        problems.append(
            f"{int(is_long.sum())} row(s) longer than max_length {checks.max_length} tokens (first: row "
            f"{index[first]}, {int(lengths[first])} tokens)"
        )
    if problems:
        raise ValidationError(
            f"The '{split}' split has {' and '.join(problems)}. Pass on_empty='drop' and on_long='truncate' or "
            "'drop' to keep going without them, or raise max_length."
        )
