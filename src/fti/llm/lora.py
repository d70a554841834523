"""LoRA adapters with peft: which modules to adapt, found per architecture, and checked when given.

By default every linear projection inside the transformer blocks is adapted (attention and MLP; not
the output head), which is what the model's own layers are: ``c_attn``, ``c_proj`` and ``c_fc`` in
GPT-2, ``q_proj`` ... ``down_proj`` in Llama. GPT-2 and its relatives implement these with
``transformers.Conv1D``, whose weight is stored transposed, so peft is told ``fan_in_fan_out``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fti.errors import ValidationError
from fti.llm.runtime import peft_module, quiet_peft, torch_module, transformers_module

__all__ = ["LoraSettings", "apply_lora", "linear_modules", "lora_targets"]


@dataclass(frozen=True, slots=True)
class LoraSettings:
    """Rank, scaling, dropout and target modules of a LoRA adapter."""

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] | None = None


def linear_modules(model: Any) -> dict[str, str]:
    """Short name -> layer type of the projections LoRA can adapt (the output head left out)."""
    torch = torch_module()
    conv1d = transformers_module().pytorch_utils.Conv1D
    head = model.get_output_embeddings()
    found: dict[str, str] = {}
    for name, module in model.named_modules():
        if module is head or not isinstance(module, torch.nn.Linear | conv1d):
            continue
        found.setdefault(name.rsplit(".", 1)[-1], type(module).__name__)
    return found


def lora_targets(model: Any, wanted: Sequence[str] | None) -> tuple[list[str], bool]:
    """The target modules (``wanted``, else all projections) and whether they are Conv1D (``fan_in_fan_out``).

    Raises:
        ValidationError: a wanted module does not exist, or mixes Conv1D and Linear layers.
    """
    available = linear_modules(model)
    if not available:
        raise ValidationError(
            f"{type(model).__name__} has no linear or Conv1D layers for LoRA to adapt: fine-tune it with method='full'."
        )
    targets = list(wanted) if wanted else sorted(available)
    unknown = [name for name in targets if name not in available]
    if unknown:
        raise ValidationError(
            f"LoRA target module(s) {', '.join(map(repr, unknown))} do not exist in {type(model).__name__}: its "
            f"adaptable modules are {', '.join(sorted(available))}."
        )
    kinds = {available[name] for name in targets}
    if len(kinds) > 1:
        raise ValidationError(
            f"LoRA target modules {', '.join(targets)} mix {' and '.join(sorted(kinds))} layers, which store their "
            "weights differently: pick modules of one kind."
        )
    return targets, kinds == {"Conv1D"}


def apply_lora(model: Any, settings: LoraSettings) -> Any:
    """``model`` wrapped in a peft model with fresh LoRA adapters (only they are trainable)."""
    peft = peft_module()
    targets, fan_in_fan_out = lora_targets(model, settings.target_modules)
    config = peft.LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=targets,
        fan_in_fan_out=fan_in_fan_out,
        bias="none",
        task_type="CAUSAL_LM",
    )
    with quiet_peft():
        return peft.get_peft_model(model, config)
