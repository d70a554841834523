"""LLM workflow: text data, LoRA and full fine-tuning, preference tuning (DPO), text metrics and generation.

Every module here imports torch, transformers and peft only when a function needs them (about ten
seconds of imports), so importing :mod:`fti.llm` costs nothing until a model is loaded.

Example:
    >>> import fti.llm
    >>> data = fti.llm.TextDataset(td, split={"train": 0.9, "test": 0.1}, split_by="file")  # doctest: +SKIP
    >>> tuned = project.finetune("tiny-gpt2:1", data, method="lora", register="code-writer")  # doctest: +SKIP
    >>> tuned.generator.generate("# Task: Return the sum of a and b.\\n", temperature=0.7)  # doctest: +SKIP
"""

from __future__ import annotations

from fti.llm.embedding_features import TextEmbedding, add_embedding
from fti.llm.embeddings import embed
from fti.llm.evaluation import TextEvaluation, evaluate_text, text_metrics
from fti.llm.finetune import FinetuneResult, finetune, prepare
from fti.llm.finetune_config import FinetuneConfig
from fti.llm.generation import GenerationParams
from fti.llm.generator import Completion, TextGenerator
from fti.llm.preference import DPOResult, preference_pairs
from fti.llm.preference_tracked import PreferenceTuned
from fti.llm.pretrained import load_pretrained
from fti.llm.text_data import TextDataset
from fti.llm.tokenized import RowChecks, RowReport
from fti.llm.tracked import Finetuned

__all__ = [
    "Completion",
    "DPOResult",
    "FinetuneConfig",
    "FinetuneResult",
    "Finetuned",
    "GenerationParams",
    "PreferenceTuned",
    "RowChecks",
    "RowReport",
    "TextDataset",
    "TextEmbedding",
    "TextEvaluation",
    "TextGenerator",
    "add_embedding",
    "embed",
    "evaluate_text",
    "finetune",
    "load_pretrained",
    "preference_pairs",
    "prepare",
    "text_metrics",
]
