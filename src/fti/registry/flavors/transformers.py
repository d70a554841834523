"""Causal language models (``fti.llm.TextGenerator``): the model or its LoRA adapter, tokenizer, generation defaults.

A LoRA fine-tuned model whose base model is a registered version is saved as its adapter only (a few
hundred KB) with a reference to that version; loading reads the base version first and applies the
adapter to it. Anything else is saved whole (``save_pretrained``, safetensors). ``load`` gives a ready
:class:`~fti.llm.TextGenerator`; ``predict`` generates for a ``prompt`` column.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TransformersFlavor"]


class TransformersFlavor:
    """Text generation models, saved in the transformers format."""

    name = "transformers"

    def matches(self, model: Any) -> bool:
        """A TextGenerator (never one while ``fti.llm.generator`` is not imported: the registry's imports stay
        off the LLM library until a generator exists)."""
        generator = sys.modules.get("fti.llm.generator")
        return generator is not None and isinstance(model, generator.TextGenerator)

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        """The adapter (a LoRA model of a registered base version) or the whole model, with the tokenizer."""
        from fti.llm.pretrained import is_registered_reference, save_generator

        is_adapter = hasattr(model.model, "peft_config") and is_registered_reference(model.base_model)
        return save_generator(model, folder, adapter=is_adapter)

    def load(self, folder: Path, options: dict[str, Any]) -> Any:
        """The generator (an adapter version needs :meth:`load_referencing`, which gets its base)."""
        from fti.llm.pretrained import load_saved

        return load_saved(folder, options)

    def load_referencing(self, folder: Path, options: dict[str, Any], load_version: Callable[[str], Any]) -> Any:
        """The generator; an adapter is applied to its base model version, read with ``load_version``."""
        from fti.llm.pretrained import load_saved

        base = load_version(str(options["base_model"])) if options.get("kind") == "adapter" else None
        return load_saved(folder, options, base)

    def predict(self, model: Any, frame: pd.DataFrame, options: dict[str, Any]) -> Any:
        """Generated text for each row's ``prompt``."""
        return model.predict(frame)
