"""Tracked preference tuning: base model and feedback in, a DPO-tuned, registered model version out, in one run.

The function behind ``project.preference_tune``. As in :mod:`fti.llm.tracked`, everything is checked before
the run starts (settings, base model, the pairs and their lengths, LoRA targets). The run records the
settings, ``beta``, the base model and the pair counts as params; every step's ``train_loss``,
``learning_rate``, ``chosen_reward``, ``rejected_reward``, ``reward_margin`` and ``reward_accuracy``; and on
the held-out pairs ``base_logp_margin`` and ``logp_margin`` (the mean chosen-minus-rejected log-probability
before and after), ``eval_reward_margin`` and ``eval_reward_accuracy``. Feedback read from a training dataset
(the ``feedback`` feature group's, say) gives the registered version its lineage to the feedback commits.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fti.core.lineage import TrainingDataRef
from fti.llm.finetune_config import FinetuneConfig
from fti.llm.generator import TextGenerator
from fti.llm.lora import lora_targets
from fti.llm.ports import ModelSource, TextRunStarter
from fti.llm.preference import DPOResult, dpo, preference_pairs, tokenize_preferences
from fti.llm.tracked import TEXT_SIGNATURE, as_registered, check_save, experiment_name, load_base_model

__all__ = ["PreferenceTuned", "preference_tune_tracked"]


@dataclass(frozen=True, slots=True)
class PreferenceTuned:
    """What ``project.preference_tune`` produced: the training result, the run, the version and the pairs."""

    result: DPOResult
    run_id: str
    #: the registered model version (None when nothing was registered)
    version: Any
    #: the preference pairs built from the feedback (``prompt``, ``chosen``, ``rejected``)
    pairs: pd.DataFrame

    @property
    def generator(self) -> TextGenerator:
        """The tuned model, ready to generate."""
        return self.result.generator

    @property
    def metrics(self) -> dict[str, float]:
        """The held-out statistics (``base_logp_margin``, ``logp_margin``, ``eval_reward_*``)."""
        return dict(self.result.evaluation)


def preference_tune_tracked(
    runs: TextRunStarter,
    models: ModelSource,
    base_model: Any,
    feedback: Any,
    config: FinetuneConfig,
    *,
    beta: float = 0.1,
    held_out: float = 0.2,
    lineage: TrainingDataRef | None = None,
    register: str | None = None,
    experiment: str | None = None,
    run_name: str | None = None,
) -> PreferenceTuned:
    """Tune ``base_model`` with DPO on the pairs ``feedback`` makes, in a new run; register the result.

    Args:
        runs: starts the run (a project's tracking service).
        models: reads registered base models (the model registry).
        base_model: a registered model (``"name:3"``, ``"name@alias"``, a model version), a folder or
            ``"package:<name>"``.
        feedback: feedback rows or pairs: a training dataset (its lineage is kept) or a DataFrame (see
            :func:`fti.llm.preference.preference_pairs`).
        config: how to train (LoRA or full, learning rate, steps, batch size, seed, row checks).
        beta: DPO's temperature: how far the tuned model may move from the base model.
        held_out: the share of prompts kept out of training to measure the margins on.
        lineage: the training dataset ``feedback`` was read from, when it is a DataFrame of its rows.
        register: register the tuned model under this name.
        experiment: the run's experiment (default: the registered name, else ``preference_tuning``).
        run_name: the run's name.
    """
    source = feedback if isinstance(feedback, TrainingDataRef) else lineage
    reader: Any = feedback  # a training dataset reads its rows
    rows = reader.read() if isinstance(feedback, TrainingDataRef) else feedback
    pairs = preference_pairs(pd.DataFrame(rows))
    base = load_base_model(models, base_model, config.pad_token)
    if hasattr(base.model, "peft_config"):
        # a LoRA version loads as adapters over its base: fold them in, train over the result, save it whole
        base.model = base.model.merge_and_unload()
        config = dataclasses.replace(config, save_as="merged")
    check_save(config, base)
    splits = tokenize_preferences(pairs, base.tokenizer, config, base.context_length, held_out=held_out)
    if config.method == "lora":
        lora_targets(base.model, config.target_modules)
    counts = {f"pairs_{name}": len(split) for name, split in splits.items()}
    name = experiment_name(experiment, register, "preference_tuning")
    with runs.start_run(name, run_name, training_data=source) as run:
        run.log_params({**config.as_params(), "preference_method": "dpo", "beta": beta, "base_model": base.base_model})
        run.log_params({**counts, "held_out": held_out})
        run.set_tag("task", "text-generation")
        result = dpo(base, splits, config, beta=beta, logger=run)
        as_registered(result.generator, config)
        run.log_metrics({**result.evaluation, "train_seconds": result.seconds})
        version = None
        if register is not None:
            tags = {"base_model": base.base_model, "preference_method": "dpo"}
            version = run.log_model(result.generator, register, signature=TEXT_SIGNATURE, tags=tags)
        return PreferenceTuned(result, run.id, version, pairs)
