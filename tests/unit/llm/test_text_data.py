"""Text data without a model: layouts, key splits, row checks and the token arrays (a stand-in tokenizer)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fti.errors import ValidationError
from fti.llm.text_data import TextDataset, assign_text_splits
from fti.llm.tokenized import IGNORE_INDEX, RowChecks, tokenize_pairs


class CharTokenizer:
    """One token per character (its code point), EOS 0: enough to check the arrays by hand."""

    eos_token_id = 0
    pad_token_id = 0
    chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}<assistant>"

    def __call__(self, texts: list[str], add_special_tokens: bool = False) -> dict[str, list[list[int]]]:
        return {"input_ids": [[ord(char) for char in text] for text in texts]}

    def apply_chat_template(self, messages: list[dict[str, str]], tokenize: bool, add_generation_prompt: bool) -> str:
        return "".join(f"<{item['role']}>{item['content']}" for item in messages) + "<assistant>"


def test_rows_of_a_document_stay_in_one_split() -> None:
    frame = pd.DataFrame({"file": [f"f{i % 20}" for i in range(400)], "prompt": ["p"] * 400, "response": ["r"] * 400})
    data = TextDataset(frame, split={"train": 0.7, "validation": 0.1, "test": 0.2}, split_by="file")
    splits = {name: set(data.frame(name)["file"]) for name in data.splits}
    assert sum(len(files) for files in splits.values()) == 20
    assert not splits["train"] & splits.get("test", set())
    alone = assign_text_splits(pd.Series(["f3"]), data.split)[0]
    assert "f3" in splits[alone]


def test_the_layout_is_detected_and_columns_can_be_renamed() -> None:
    instruction = TextDataset(
        [{"instruction": "Add", "input": "1, 2", "output": "3"}, {"instruction": "Hi", "output": "x"}]
    )
    rows = instruction.rows()
    assert instruction.layout == "instruction"
    assert rows["prompt"].tolist()[0] == "### Instruction:\nAdd\n\n### Input:\n1, 2\n\n### Response:\n"
    assert rows["prompt"].tolist()[1] == "### Instruction:\nHi\n\n### Response:\n"
    renamed = TextDataset(pd.DataFrame({"doc": ["a"], "code": ["b"]}), columns={"prompt": "doc", "response": "code"})
    assert renamed.rows()["response"].tolist() == ["b"]


def test_chat_rows_use_the_chat_template_up_to_the_last_answer() -> None:
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    data = TextDataset(pd.DataFrame({"messages": [messages]}), split={"train": 1.0})
    rows = data.rows(tokenizer=CharTokenizer())
    assert rows["prompt"].tolist() == ["<user>Hi<assistant>"] and rows["response"].tolist() == ["Hello"]
    with pytest.raises(ValidationError, match="Chat row 0 must end with an assistant message"):
        TextDataset(pd.DataFrame({"messages": [messages[:1]]}), split={"train": 1.0}).rows(tokenizer=CharTokenizer())


def test_unknown_columns_and_splits_are_refused() -> None:
    with pytest.raises(ValidationError, match="Cannot tell the layout of text data with columns 'a'"):
        TextDataset(pd.DataFrame({"a": [1]}))
    with pytest.raises(ValidationError, match="Unknown split 'dev'"):
        TextDataset(pd.DataFrame({"prompt": ["a"], "response": ["b"]}), split={"dev": 1.0})
    with pytest.raises(ValidationError, match="split_by column 'file' is not in the text data"):
        TextDataset(pd.DataFrame({"prompt": ["a"], "response": ["b"]}), split_by="file")


def test_tokens_join_prompt_response_and_eos_with_the_prompt_masked() -> None:
    rows = pd.DataFrame({"prompt": ["ab", "c"], "response": ["xy", "z"]})
    split = tokenize_pairs(rows, CharTokenizer(), RowChecks(max_length=10), split="train")
    assert split.input_ids.tolist() == [97, 98, 120, 121, 0, 99, 122, 0]
    assert split.labels.tolist() == [IGNORE_INDEX, IGNORE_INDEX, 120, 121, 0, IGNORE_INDEX, 122, 0]
    ids, mask, labels = split.batch(np.array([1, 0]))
    assert ids.tolist() == [[99, 122, 0, 0, 0], [97, 98, 120, 121, 0]]
    assert mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert labels[0].tolist() == [IGNORE_INDEX, 122, 0, IGNORE_INDEX, IGNORE_INDEX]


def test_empty_and_long_rows_are_counted_and_refused_or_handled() -> None:
    rows = pd.DataFrame({"prompt": ["ab", "c", "d", "longprompt"], "response": ["xy", " ", "zzzzzzzz", "r"]})
    with pytest.raises(ValidationError) as info:
        tokenize_pairs(rows, CharTokenizer(), RowChecks(max_length=5), split="train")
    assert str(info.value) == (
        "The 'train' split has 1 row(s) with an empty response (first: row 1) and 2 row(s) longer than max_length "
        "5 tokens (first: row 2, 10 tokens). Pass on_empty='drop' and on_long='truncate' or 'drop' to keep going "
        "without them, or raise max_length."
    )
    truncated = tokenize_pairs(rows, CharTokenizer(), RowChecks(5, on_long="truncate", on_empty="drop"), split="t")
    assert (truncated.report.kept, truncated.report.empty, truncated.report.long, truncated.report.truncated) == (
        2,
        1,
        2,
        1,
    )
    assert truncated.input_ids.tolist() == [97, 98, 120, 121, 0, 100, 122, 122, 122, 122]
    dropped = tokenize_pairs(rows, CharTokenizer(), RowChecks(5, on_long="drop", on_empty="drop"), split="t")
    assert dropped.report.kept == 1 and len(dropped) == 1


def test_packing_cuts_the_rows_into_blocks() -> None:
    rows = pd.DataFrame({"prompt": ["ab", "c"], "response": ["xy", "z"]})
    split = tokenize_pairs(rows, CharTokenizer(), RowChecks(max_length=3, on_long="truncate", pack=True), split="t")
    assert split.offsets.tolist() == [0, 3, 6]
    assert split.lengths.tolist() == [3, 3]
