"""Text training data: prompt/response, instruction/input/output or chat rows, split by a key.

A :class:`TextDataset` is a view over rows from the feature store (a training dataset, whose lineage it
keeps) or from any table. It recognises three layouts by their columns:

============== ============================================ =====================================
layout         columns                                      prompt / response
============== ============================================ =====================================
prompt         ``prompt``, ``response``                     as they are
instruction    ``instruction``, ``input`` (optional),       an instruction template; the output
               ``output``
chat           ``messages`` (a list of ``{role, content}``  the tokenizer's chat template up to
               or its JSON text)                            the last assistant message; that one
============== ============================================ =====================================

Rows are assigned to splits by a hash of the ``split_by`` column (all rows of one document land in the
same split, so nothing leaks from training into evaluation), and the assignment does not depend on the
other rows. :meth:`TextDataset.tokenize` turns the texts into token ids with the base model's tokenizer
(see :mod:`fti.llm.tokenized`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from fti.core.lineage import TrainingDataRef
from fti.errors import ValidationError
from fti.llm.tokenized import RowChecks, TokenizedText, tokenize_pairs

__all__ = ["INSTRUCTION_TEMPLATE", "TextDataset", "TextLayout", "assign_text_splits"]

TextLayout = Literal["prompt", "instruction", "chat"]

#: the prompt of an instruction row (the ``input`` section is left out when the row has none)
INSTRUCTION_TEMPLATE = "### Instruction:\n{instruction}\n\n{input_section}### Response:\n"
_INPUT_SECTION = "### Input:\n{input}\n\n"
_SPLITS = ("train", "validation", "test")
_COLUMNS: dict[TextLayout, tuple[str, ...]] = {
    "prompt": ("prompt", "response"),
    "instruction": ("instruction", "output"),
    "chat": ("messages",),
}


def assign_text_splits(keys: pd.Series, split: Mapping[str, float]) -> np.ndarray:
    """The split name of each row, from a stable hash of its key (the same key always gets the same split).

    Example:
        >>> assign_text_splits(pd.Series(["a.py", "b.py", "a.py"]), {"train": 0.5, "test": 0.5})[0] == \
assign_text_splits(pd.Series(["a.py"]), {"train": 0.5, "test": 0.5})[0]
        True
    """
    hashed = pd.util.hash_pandas_object(keys.astype(str), index=False).to_numpy()
    position = hashed.astype(np.float64) / 2.0**64
    bounds = np.cumsum(list(split.values()))
    bounds[-1] = 1.0
    names = np.array(list(split), dtype=object)
    return np.asarray(names[np.searchsorted(bounds, position, side="right").clip(max=len(names) - 1)])


def _check_split(split: Mapping[str, float]) -> dict[str, float]:
    unknown = [name for name in split if name not in _SPLITS]
    if unknown or not split:
        raise ValidationError(
            f"Unknown split {', '.join(map(repr, unknown)) or '(none given)'}: use {', '.join(_SPLITS)}, "
            "e.g. split={'train': 0.9, 'test': 0.1}."
        )
    fractions = {name: float(split[name]) for name in _SPLITS if name in split}
    if any(not 0 < value <= 1 for value in fractions.values()) or abs(sum(fractions.values()) - 1) > 1e-9:
        raise ValidationError(f"Split fractions must be in (0, 1] and add up to 1, got {dict(split)}.")
    return fractions


class TextDataset:
    """Prompt/response pairs for fine-tuning and evaluation, split by a key.

    Args:
        data: a training dataset from the feature store (its lineage is kept), a pandas DataFrame, an Arrow
            table or a list of row dicts.
        layout: ``"prompt"``, ``"instruction"`` or ``"chat"``; detected from the columns when None.
        columns: renames, e.g. ``{"prompt": "docstring", "response": "code"}``.
        split: split name -> fraction (``train``, ``validation``, ``test``).
        split_by: the column whose value keeps rows together in one split (a document or file id); the
            prompt when None.

    Example:
        >>> data = TextDataset(td, split={"train": 0.9, "test": 0.1}, split_by="file")  # doctest: +SKIP
        >>> data.rows("test").head()  # doctest: +SKIP
    """

    def __init__(
        self,
        data: Any,
        *,
        layout: TextLayout | None = None,
        columns: Mapping[str, str] | None = None,
        split: Mapping[str, float] | None = None,
        split_by: str | None = None,
    ) -> None:
        self.source: TrainingDataRef | None = data if isinstance(data, TrainingDataRef) else None
        frame = _as_frame(data)
        renames = {given: ours for ours, given in (columns or {}).items() if given in frame.columns}
        frame = frame.rename(columns=renames)
        self.layout: TextLayout = layout or _detect_layout(frame)
        missing = [column for column in _COLUMNS[self.layout] if column not in frame.columns]
        if missing:
            raise ValidationError(
                f"Text data in the {self.layout} layout needs column(s) {', '.join(map(repr, missing))}; it has "
                f"{', '.join(map(repr, frame.columns))}. Rename them with columns={{'{missing[0]}': '<yours>'}}."
            )
        self.split = _check_split(split or {"train": 0.9, "test": 0.1})
        key = split_by or _COLUMNS[self.layout][0]
        if key not in frame.columns:
            raise ValidationError(
                f"split_by column '{key}' is not in the text data; its columns are "
                f"{', '.join(map(repr, frame.columns))}."
            )
        self.split_by = key
        self._frame = frame.reset_index(drop=True)
        self._splits = assign_text_splits(self._frame[key], self.split)

    @property
    def splits(self) -> tuple[str, ...]:
        """The split names that have rows."""
        present = set(self._splits.tolist())
        return tuple(name for name in self.split if name in present)

    def __len__(self) -> int:
        return len(self._frame)

    def frame(self, split: str | None = None) -> pd.DataFrame:
        """The rows as given (of one split, if named), with their original columns and row numbers."""
        if split is None:
            return self._frame
        self._check_split_name(split)
        chosen: pd.DataFrame = self._frame[self._splits == split]
        return chosen

    def rows(self, split: str | None = None, tokenizer: Any = None) -> pd.DataFrame:
        """``prompt`` and ``response`` texts of the rows (chat rows need the ``tokenizer``'s chat template)."""
        frame = self.frame(split)
        if self.layout == "prompt":
            return pd.DataFrame({"prompt": frame["prompt"], "response": frame["response"]})
        if self.layout == "instruction":
            return _instruction_rows(frame)
        return _chat_rows(frame, tokenizer)

    def held_out_split(self) -> str | None:
        """The split evaluation reads: ``test``, else ``validation``, else None."""
        return next((name for name in ("test", "validation") if name in self.splits), None)

    def tokenize(self, tokenizer: Any, checks: RowChecks) -> TokenizedText:
        """Token ids and loss labels of every split (the prompt is masked out of the loss).

        Raises:
            ValidationError: rows are empty or longer than ``checks.max_length`` and ``checks`` says to
                refuse them (the message counts them and names the first).
        """
        splits = {}
        for name in self.splits:
            splits[name] = tokenize_pairs(self.rows(name, tokenizer), tokenizer, checks, split=name)
        return TokenizedText(splits)

    def _check_split_name(self, split: str) -> None:
        if split not in self.split:
            raise ValidationError(f"The text data has no split '{split}'; its splits are {', '.join(self.split)}.")


def _as_frame(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pa.Table):
        converted: pd.DataFrame = data.to_pandas()
        return converted
    reader: Any = data
    if isinstance(data, TrainingDataRef) and callable(getattr(reader, "read", None)):
        frame: pd.DataFrame = reader.read()
        return frame
    if isinstance(data, Sequence) and not isinstance(data, str):
        return pd.DataFrame(list(data))
    raise ValidationError(
        f"Cannot read text data from a {type(data).__name__}: pass a training dataset, a DataFrame, an Arrow "
        "table or a list of row dicts."
    )


def _detect_layout(frame: pd.DataFrame) -> TextLayout:
    for layout, needed in _COLUMNS.items():
        if all(column in frame.columns for column in needed):
            return layout
    raise ValidationError(
        f"Cannot tell the layout of text data with columns {', '.join(map(repr, frame.columns))}: give "
        "'prompt' and 'response', or 'instruction', 'input' and 'output', or 'messages' (rename yours with "
        "columns={...}), or pass layout=..."
    )


def _instruction_rows(frame: pd.DataFrame) -> pd.DataFrame:
    instruction = frame["instruction"].fillna("").astype(str)
    given = frame["input"].fillna("").astype(str) if "input" in frame.columns else pd.Series("", index=frame.index)
    sections = given.map(lambda text: _INPUT_SECTION.format(input=text) if text.strip() else "")
    prompts = [
        INSTRUCTION_TEMPLATE.format(instruction=text, input_section=section)
        for text, section in zip(instruction, sections, strict=True)
    ]
    return pd.DataFrame({"prompt": prompts, "response": frame["output"]}, index=frame.index)


def _chat_rows(frame: pd.DataFrame, tokenizer: Any) -> pd.DataFrame:
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise ValidationError(
            "Chat rows are turned into text by the tokenizer's chat template, and this tokenizer has none: set "
            "tokenizer.chat_template (a Jinja template) or give the rows as 'prompt' and 'response'."
        )
    prompts, responses = [], []
    for index, value in enumerate(frame["messages"]):
        messages = json.loads(value) if isinstance(value, str) else list(value)
        if not messages or messages[-1].get("role") != "assistant":
            raise ValidationError(
                f"Chat row {index} must end with an assistant message (the response to learn); it ends with "
                f"{messages[-1].get('role') if messages else 'nothing'}."
            )
        history = [{"role": str(item["role"]), "content": str(item["content"])} for item in messages[:-1]]
        prompts.append(tokenizer.apply_chat_template(history, tokenize=False, add_generation_prompt=True))
        responses.append(str(messages[-1]["content"]))
    return pd.DataFrame({"prompt": prompts, "response": responses}, index=frame.index)
