"""LoRA and full fine-tuning of the tiny GPT-2: held-out perplexity falls, the version reloads identically."""

from __future__ import annotations

import json
import math

import pytest

import fti
import fti.llm
from fti.tracking import Run

pytestmark = pytest.mark.xdist_group("llm")

STEPS = 60


def _reloaded_perplexity(project: fti.Project, reference: str, data: fti.llm.TextDataset) -> float:
    generator = project.get_model(reference).load()
    tokenized = fti.llm.prepare(generator, data, fti.llm.FinetuneConfig(on_long="truncate"))
    return generator.perplexity(tokenized["test"])


def test_lora_lowers_perplexity_and_registers_an_adapter_with_lineage(
    llm_project: fti.Project, text_data: fti.llm.TextDataset
) -> None:
    tuned = llm_project.finetune(
        "tiny-gpt2:1", text_data, method="lora", learning_rate=2e-3, max_steps=STEPS, eval_every=20,
        on_long="truncate", eval_max_new_tokens=32, register="code-writer", progress=False,
    )  # fmt: skip
    metrics = tuned.metrics
    assert metrics["perplexity"] < 0.97 * metrics["base_perplexity"]
    for name in ("bleu", "rouge1", "rouge2", "rougeL", "exact_match"):
        assert math.isfinite(metrics[name]) and metrics[name] >= 0
    assert metrics["bleu"] <= 100 and metrics["rougeL"] <= 1 and metrics["exact_match"] <= 1
    version = tuned.version
    assert version.flavor == "transformers"
    assert version.record.flavor_options["kind"] == "adapter"
    assert version.record.flavor_options["base_model"] == "tiny-gpt2:1"
    lineage = version.lineage()
    assert lineage.base_model == "tiny-gpt2:1"
    assert lineage.feature_view == ("code_pairs", 1) and lineage.training_dataset_version == 1
    assert _reloaded_perplexity(llm_project, f"code-writer:{version.version}", text_data) == metrics["perplexity"]
    _check_tracking(llm_project.get_run(version.run_id))


def _check_tracking(run: Run) -> None:
    """Every step's loss and learning rate, the evaluations and the sample tables are in the run."""
    assert list(run.metric_history("train_loss")["step"]) == list(range(1, STEPS + 1))
    assert len(run.metric_history("learning_rate")) == STEPS
    assert list(run.metric_history("eval_loss")["step"]) == [20, 40, 60]
    params = run.params
    assert params["base_model"] == "tiny-gpt2:1" and params["method"] == "lora"
    assert int(params["rows_train"]) > int(params["rows_test"]) > 0
    samples = json.loads(run.read_artifact("samples.json"))
    assert samples["columns"] == ["prompt", "reference", "generated"] and len(samples["data"]) == 16
    assert json.loads(run.read_artifact("base_samples.json"))["data"][0][1] == samples["data"][0][1]
    assert run.tags["task"] == "text-generation"


def test_full_finetuning_lowers_perplexity_and_registers_the_whole_model(
    llm_project: fti.Project, text_data: fti.llm.TextDataset
) -> None:
    tuned = llm_project.finetune(
        "tiny-gpt2:1", text_data, method="full", learning_rate=1e-3, max_steps=STEPS, batch_size=4,
        gradient_accumulation=2, schedule="cosine", warmup_steps=5, on_long="truncate", eval_max_new_tokens=32,
        register="code-writer", progress=False,
    )  # fmt: skip
    assert tuned.metrics["perplexity"] < 0.97 * tuned.metrics["base_perplexity"]
    assert tuned.result.trainable_parameters == tuned.result.total_parameters
    assert tuned.version.record.flavor_options["kind"] == "model"
    reference = f"code-writer:{tuned.version.version}"
    assert _reloaded_perplexity(llm_project, reference, text_data) == tuned.metrics["perplexity"]


def test_lora_from_a_folder_is_merged_and_names_the_folder(
    llm_project: fti.Project, text_data: fti.llm.TextDataset, tiny_model: object
) -> None:
    tuned = llm_project.finetune(
        str(tiny_model), text_data, max_steps=3, lora_rank=4, target_modules=["c_attn"], on_long="truncate",
        eval_samples=2, eval_max_new_tokens=4, register="from-folder", progress=False,
    )  # fmt: skip
    assert tuned.result.trainable_parameters == 2 * 4 * (64 + 192)  # rank 4 on c_attn (64 -> 192) in 2 layers
    options = tuned.version.record.flavor_options
    assert options["kind"] == "model" and options["base_model"].startswith("folder:")
    reference = f"from-folder:{tuned.version.version}"
    assert _reloaded_perplexity(llm_project, reference, text_data) == tuned.metrics["perplexity"]


def test_early_stopping_keeps_the_best_weights(llm_project: fti.Project, pairs: object) -> None:
    data = fti.llm.TextDataset(pairs, split={"train": 0.8, "validation": 0.1, "test": 0.1}, split_by="file")
    base = llm_project.get_model("tiny-gpt2:1").load()
    config = fti.llm.FinetuneConfig(
        method="full", learning_rate=0.5, max_steps=20, eval_every=1, early_stopping_patience=2, on_long="truncate",
        gradient_checkpointing=True, progress=False,
    )  # fmt: skip
    result = fti.llm.finetune(base, data, config)
    assert result.stopped_early and result.steps < 20
    tokenized = fti.llm.prepare(result.generator, data, config)
    assert math.log(result.generator.perplexity(tokenized["validation"])) == pytest.approx(result.eval_loss)
