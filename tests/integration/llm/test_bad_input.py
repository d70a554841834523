"""Bad input to fine-tuning fails before anything is written: no run, no model version."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import fti
import fti.llm
from fti.errors import NotFoundError, ValidationError

pytestmark = pytest.mark.xdist_group("llm")


@pytest.fixture
def counts(llm_project: fti.Project) -> tuple[int, int]:
    """Runs and registered models before the test."""
    return len(llm_project.runs()), len(llm_project.models())


def _nothing_written(project: fti.Project, before: tuple[int, int]) -> None:
    assert (len(project.runs()), len(project.models())) == before


def test_a_model_that_is_not_a_causal_lm_is_refused(
    llm_project: fti.Project, pairs: pd.DataFrame, tmp_path: Path, counts: tuple[int, int]
) -> None:
    import transformers

    folder = tmp_path / "encoder"
    config = transformers.BertConfig(
        vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    transformers.BertModel(config).save_pretrained(folder)
    with pytest.raises(ValidationError, match="is a BertModel, not a causal language model"):
        llm_project.finetune(str(folder), pairs, register="nope", progress=False)
    _nothing_written(llm_project, counts)


def test_a_missing_folder_or_package_says_where_models_come_from(llm_project: fti.Project, pairs: pd.DataFrame) -> None:
    with pytest.raises(NotFoundError, match="Base model folder 'no/such/model' does not exist"):
        llm_project.finetune("no/such/model", pairs)
    with pytest.raises(NotFoundError, match="No installed package 'not-a-model-package' ships a model"):
        llm_project.finetune("package:not-a-model-package", pairs)


def test_a_tokenizer_without_a_pad_token_is_padded_with_eos_or_refused(
    llm_project: fti.Project, tiny_model: Path, pairs: pd.DataFrame, counts: tuple[int, int]
) -> None:
    base = fti.llm.load_pretrained(tiny_model)
    base.tokenizer.pad_token = None
    data = fti.llm.TextDataset(pairs.head(40), split_by="file")
    with pytest.raises(
        ValidationError, match="The tokenizer has no pad token, which batching needs: pass pad_token='eos'"
    ):
        fti.llm.prepare(base, data, fti.llm.FinetuneConfig(pad_token=None, on_long="truncate"))
    fti.llm.prepare(base, data, fti.llm.FinetuneConfig(on_long="truncate"))
    assert base.tokenizer.pad_token == base.tokenizer.eos_token
    _nothing_written(llm_project, counts)


def test_empty_and_over_long_rows_are_counted_and_nothing_is_registered(
    llm_project: fti.Project, pairs: pd.DataFrame, counts: tuple[int, int]
) -> None:
    rows = pairs.head(60).copy()
    rows.loc[rows.index[3], "response"] = ""
    with pytest.raises(ValidationError) as info:
        llm_project.finetune("tiny-gpt2:1", fti.llm.TextDataset(rows, split={"train": 1.0}), register="nope")
    message = str(info.value)
    assert "The 'train' split has 1 row(s) with an empty response (first: row 3)" in message
    assert "longer than max_length 128 tokens" in message and "on_long='truncate'" in message
    _nothing_written(llm_project, counts)


def test_a_lora_target_the_model_lacks_lists_the_available_modules(
    llm_project: fti.Project, pairs: pd.DataFrame, counts: tuple[int, int]
) -> None:
    with pytest.raises(ValidationError) as info:
        llm_project.finetune(
            "tiny-gpt2:1", pairs.head(40), target_modules=["q_proj"], on_long="truncate", register="nope"
        )
    assert str(info.value) == (
        "LoRA target module(s) 'q_proj' do not exist in GPT2LMHeadModel: its adaptable modules are c_attn, "
        "c_fc, c_proj."
    )
    _nothing_written(llm_project, counts)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"learning_rate": -1.0}, "Fine-tuning setting 'learning_rate' must be a number > 0, got -1.0."),
        ({"method": "qlora"}, "method must be 'lora' or 'full', got 'qlora'."),
        ({"batch_size": 0}, "Fine-tuning setting 'batch_size' must be an integer > 0, got 0."),
        ({"lora_dropout": 1.0}, "Fine-tuning setting 'lora_dropout' must be in [0, 1), got 1.0."),
        ({"early_stopping_patience": 2}, "early_stopping_patience needs eval_every"),
        ({"warmup": 3}, "Unknown fine-tuning setting(s) 'warmup': the settings are batch_size, device"),
        ({"method": "full", "save_as": "adapter"}, "save_as='adapter' needs method='lora'"),
    ],
)
def test_bad_settings_are_refused_by_name(
    llm_project: fti.Project, pairs: pd.DataFrame, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        llm_project.finetune("tiny-gpt2:1", pairs, **options)
    assert str(info.value).startswith(message)


def test_an_adapter_needs_a_registered_base_model(
    llm_project: fti.Project, tiny_model: Path, pairs: pd.DataFrame, counts: tuple[int, int]
) -> None:
    with pytest.raises(ValidationError, match="save_as='adapter' needs a registered base model to refer to"):
        llm_project.finetune(str(tiny_model), pairs, save_as="adapter", on_long="truncate", register="nope")
    _nothing_written(llm_project, counts)


class Constant:
    """A model of the pyfunc flavor."""

    def predict(self, frame: pd.DataFrame) -> list[int]:
        return [0] * len(frame)


def test_a_model_of_another_flavor_is_not_a_base_model(llm_project: fti.Project, pairs: pd.DataFrame) -> None:
    with llm_project.start_run("other") as run:
        run.log_model(Constant(), "constant")
    with pytest.raises(ValidationError, match="Model 'constant' v1 is a pyfunc model, not a causal language model"):
        llm_project.finetune("constant:1", pairs)
