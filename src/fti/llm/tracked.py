"""Tracked fine-tuning: base model in, evaluated and registered model version out, all in one run.

The function behind ``project.finetune``. Everything that can be checked is checked before the run
starts (settings, base model, tokenizer, every data row, LoRA targets), so bad input leaves no run and
no model version behind. The run records the settings, the base model and the data's row counts as
params; the evaluation before and after fine-tuning (``base_perplexity`` ... and ``perplexity``,
``bleu``, ``rouge1``, ``rouge2``, ``rougeL``, ``exact_match``, with ``base_samples.json`` and
``samples.json``); and every step's ``train_loss``, ``learning_rate`` and ``eval_loss``. The registered
version keeps the lineage of the run (its training dataset) and of the base model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fti.core.registry import ColumnSpec, Signature
from fti.errors import ValidationError
from fti.llm.evaluation import TextEvaluation, evaluate_text
from fti.llm.finetune import FinetuneResult, finetune, prepare
from fti.llm.finetune_config import FinetuneConfig, Method
from fti.llm.generation import GenerationParams
from fti.llm.generator import TextGenerator
from fti.llm.lora import lora_targets
from fti.llm.ports import ModelSource, TextRunStarter
from fti.llm.pretrained import PACKAGE_PREFIX, is_registered_reference, load_pretrained
from fti.llm.text_data import TextDataset

__all__ = [
    "TEXT_SIGNATURE",
    "Finetuned",
    "as_registered",
    "check_save",
    "experiment_name",
    "finetune_tracked",
    "load_base_model",
    "options_config",
]

#: what a registered text generation model reads and returns
TEXT_SIGNATURE = Signature(inputs=(ColumnSpec("prompt", "string"),), outputs=(ColumnSpec("text", "string"),))


@dataclass(frozen=True, slots=True)
class Finetuned:
    """What ``project.finetune`` produced: the training result, the evaluations, the run and the version."""

    result: FinetuneResult
    run_id: str
    #: the registered model version (None when nothing was registered)
    version: Any
    before: TextEvaluation | None
    after: TextEvaluation | None

    @property
    def generator(self) -> TextGenerator:
        """The fine-tuned model, ready to generate."""
        return self.result.generator

    @property
    def metrics(self) -> dict[str, float]:
        """The evaluation metrics before (``base_*``) and after fine-tuning."""
        found: dict[str, float] = {}
        for evaluation in (self.before, self.after):
            if evaluation is not None:
                found |= evaluation.metrics
        return found


def load_base_model(models: ModelSource, source: Any, pad_token: str | None = "eos") -> TextGenerator:
    """The base model from a registered version (a model version or ``"name:3"``), a folder or a package.

    A string is a folder when it contains a path separator or starts with ``.`` (model names cannot),
    a package when it starts with ``package:``, and a model reference otherwise.
    """
    if isinstance(source, TextGenerator):
        return source
    is_local = isinstance(source, str) and (source.startswith((".", PACKAGE_PREFIX)) or "/" in source)
    if isinstance(source, Path) or is_local:
        return load_pretrained(source, pad_token=pad_token)
    if isinstance(source, str):
        version = models.get_model(source)
    elif hasattr(source, "load") and hasattr(source, "version"):
        # a fresh handle: fine-tuning changes the loaded model, which the caller's handle caches
        version = models.get_model(f"{source.name}:{source.version}")
    else:
        raise ValidationError(
            f"Cannot use a {type(source).__name__} as a base model: pass a registered model ('name:3'), a model "
            "version, a folder or 'package:<name>'."
        )
    loaded = version.load()
    if not isinstance(loaded, TextGenerator):
        raise ValidationError(
            f"Model '{version.name}' v{version.version} is a {version.flavor} model, not a causal language model: "
            "fine-tune a model registered with the transformers flavor."
        )
    loaded.base_model = f"{version.name}:{version.version}"
    return loaded


def experiment_name(experiment: str | None, register: str | None, default: str = "finetune") -> str:
    """``experiment``, else the registered model's name as an identifier, else ``default``."""
    if experiment:
        return experiment
    return register.replace("-", "_").replace(".", "_") if register else default


def check_save(config: FinetuneConfig, base: TextGenerator) -> None:
    """Refuse ``save_as="adapter"`` over a base model that is not a registered version."""
    if config.save_as == "adapter" and not is_registered_reference(base.base_model):
        raise ValidationError(
            f"save_as='adapter' needs a registered base model to refer to, and this one is {base.base_model}: "
            "register the base model first, or save the merged model (save_as='merged')."
        )


def finetune_tracked(
    runs: TextRunStarter,
    models: ModelSource,
    base_model: Any,
    training_data: Any,
    config: FinetuneConfig,
    *,
    register: str | None = None,
    experiment: str | None = None,
    run_name: str | None = None,
    evaluation: GenerationParams | None = None,
) -> Finetuned:
    """Fine-tune ``base_model`` on ``training_data`` in a new run, evaluate before and after, register.

    Args:
        runs: starts the run (a project's tracking service).
        models: reads registered base models (the model registry).
        base_model: a registered model (``"name:3"``, ``"name@alias"``, a model version), a folder or
            ``"package:<name>"``.
        training_data: a :class:`TextDataset`, or what one reads (a training dataset keeps its lineage).
        config: the settings.
        register: register the fine-tuned model under this name.
        experiment: the run's experiment (default: the registered name, else ``finetune``).
        run_name: the run's name.
        evaluation: generation parameters of the evaluation samples (default: greedy).
    """
    data = training_data if isinstance(training_data, TextDataset) else TextDataset(training_data)
    base = load_base_model(models, base_model, config.pad_token)
    check_save(config, base)
    tokenized = prepare(base, data, config)
    if config.method == "lora":
        lora_targets(base.model, config.target_modules)
    held_out = data.held_out_split()
    checks = config.row_checks(base.context_length)
    params = evaluation or GenerationParams(temperature=0, max_new_tokens=config.eval_max_new_tokens)
    with runs.start_run(experiment_name(experiment, register), run_name, training_data=data.source) as run:
        reports = {
            key: value
            for name, split in tokenized.splits.items()
            for key, value in split.report.as_params(name).items()
        }
        run.log_params({**config.as_params(), "base_model": base.base_model, **reports})
        run.set_tag("task", "text-generation")

        def evaluate(generator: TextGenerator, prefix: str) -> TextEvaluation | None:
            if held_out is None:
                return None
            return evaluate_text(
                generator, data, tokenized=tokenized, checks=checks, samples=config.eval_samples, params=params,
                logger=run, prefix=prefix,
            )  # fmt: skip

        before = evaluate(base, "base_")
        result = finetune(base, tokenized, config, logger=run)
        generator = result.generator
        as_registered(generator, config)  # evaluate exactly what is registered
        after = evaluate(generator, "")
        run.log_metrics(
            {
                "tokens_per_second": result.tokens_per_second,
                "trainable_parameters": float(result.trainable_parameters),
                "train_seconds": result.seconds,
            }
        )
        version = None
        if register is not None:
            version = run.log_model(generator, register, signature=TEXT_SIGNATURE, tags={"base_model": base.base_model})
        return Finetuned(result, run.id, version, before, after)


def as_registered(generator: TextGenerator, config: FinetuneConfig) -> None:
    """Merge ``generator``'s LoRA adapters into its weights unless they are saved as an adapter (LoRA with
    ``save_as`` other than ``"merged"``, over a registered base model)."""
    is_adapter = (
        config.method == "lora" and config.save_as != "merged" and is_registered_reference(generator.base_model)
    )
    if config.method == "lora" and not is_adapter:
        generator.model = generator.model.merge_and_unload()


def options_config(config: FinetuneConfig | None, method: Method | None, options: Mapping[str, Any]) -> FinetuneConfig:
    """``config`` with ``method`` and ``options`` over it (the arguments of ``project.finetune``)."""
    given = dict(options)
    if method is not None:
        given["method"] = method
    return FinetuneConfig.build(config, given)
