"""The heavy libraries of the LLM workflow, imported on first use, and the device they run on.

torch, transformers and peft take about ten seconds to import, so nothing in ``fti`` imports them at
module level: every function that needs them calls :func:`torch_module`, :func:`transformers_module` or
:func:`peft_module`, which import once and say which extra to install when one is missing. Models are
only ever read from local files: the Hugging Face hub is switched to offline mode before the first
import (``HF_HUB_OFFLINE=1`` unless the environment says otherwise).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from fti.errors import MissingExtraError, ValidationError

__all__ = ["Device", "peft_module", "pick_device", "quiet_peft", "torch_module", "transformers_module"]

Precision = Literal["float32", "bfloat16", "float16"]


def _require(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise MissingExtraError(
            f"The LLM workflow needs '{module.split('.')[0]}', which is not installed: pip install 'fti[llm]'"
        ) from exc


def torch_module() -> Any:
    """The ``torch`` module."""
    return _require("torch")


def transformers_module() -> Any:
    """The ``transformers`` module, offline and without its progress bars and info logging."""
    if "transformers" not in sys.modules:
        # read by huggingface_hub when it is imported: never reach for the network to find a model
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers = _require("transformers")
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


def peft_module() -> Any:
    """The ``peft`` module."""
    transformers_module()
    return _require("peft")


@contextlib.contextmanager
def quiet_peft() -> Iterator[None]:
    """Calls into peft without its FutureWarning about a transformers attribute (nothing to act on)."""
    with warnings.catch_warnings():
        # peft 0.21 reads transformers 5's deprecated ``is_gradient_checkpointing`` when it wraps a model
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


@dataclass(frozen=True, slots=True)
class Device:
    """Where a model runs and in which precision it computes (weights stay float32 for training).

    Attributes:
        name: ``"cpu"`` or ``"cuda"``.
        precision: the autocast precision: float32 on CPU, bfloat16 or float16 on CUDA.
    """

    name: str
    precision: Precision

    @property
    def is_cuda(self) -> bool:
        """Whether the model runs on a CUDA device."""
        return self.name == "cuda"

    def autocast(self) -> Any:
        """A context manager computing in :attr:`precision` (a no-op in float32)."""
        torch = torch_module()
        if self.precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.name, dtype=getattr(torch, self.precision))


def pick_device(device: str | None = None, threads: int | None = None) -> Device:
    """The device to use: ``device`` when given, else CUDA when present, else the CPU.

    Args:
        device: ``"cpu"``, ``"cuda"`` or None (detect).
        threads: intra-op threads on the CPU (None leaves torch's default).
    """
    torch = torch_module()
    if threads is not None:
        torch.set_num_threads(threads)
    has_cuda = bool(torch.cuda.is_available())
    name = device or ("cuda" if has_cuda else "cpu")
    if name == "cuda" and not has_cuda:
        raise ValidationError("device='cuda' was asked for but no CUDA device is available: use device='cpu'.")
    if name == "cuda":
        return Device("cuda", "bfloat16" if torch.cuda.is_bf16_supported() else "float16")
    return Device("cpu", "float32")
