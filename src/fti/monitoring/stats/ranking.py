"""Ranking metrics of a binary classifier's scores (ROC-AUC, average precision) and their A/B comparison.

Both metrics are computed for many weightings of the same rows at once: a bootstrap resample of ``n`` rows is the
same rows weighted by how often each was drawn, so the rows are sorted by score once and every resample costs
one pass of cumulative sums (O(resamples x rows), no sort per resample). Tied scores count as one threshold, as
in scikit-learn (``roc_auc_score``, ``average_precision_score``).

The A/B comparison (:func:`compare_ranking`) bootstraps over requests: each variant's labelled requests are
resampled with replacement, the metric computed on each resample, and the p-value is twice the share of
resampled differences on the far side of zero. The sample size needed for a minimum detectable effect comes from
the bootstrap's standard error of the difference: an error shrinks with the square root of the sample.

Example:
    >>> import numpy as np
    >>> scores, labels = np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])
    >>> round(float(ranking_metric("roc_auc", scores, labels)[0]), 2)
    0.75
"""

from __future__ import annotations

import math
from dataclasses import replace
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

from fti.errors import ValidationError
from fti.monitoring.stats.ab import ABDecision

__all__ = ["RANKING_METRICS", "RankingMetric", "compare_ranking", "ranking_metric"]

RankingMetric = Literal["roc_auc", "average_precision"]
RANKING_METRICS: tuple[str, ...] = ("roc_auc", "average_precision")
#: resampled weights held in memory at once
_CHUNK_VALUES = 4_000_000
_NORMAL = NormalDist()


def ranking_metric(
    metric: str, scores: Any, labels: Any, weights: np.ndarray[Any, Any] | None = None
) -> np.ndarray[Any, Any]:
    """``metric`` of ``scores`` against 0/1 ``labels``, once per row of ``weights`` (``[resamples, rows]``, how
    often each row counts; default: each row once). NaN where a weighting has no positive row (ROC-AUC: or no
    negative row)."""
    if metric not in RANKING_METRICS:
        raise ValidationError(f"Unknown ranking metric {metric!r}: use one of {', '.join(RANKING_METRICS)}.")
    values = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(labels, dtype=np.float64)
    if values.shape != truth.shape or values.ndim != 1:
        raise ValidationError(f"Scores and labels need the same length, got {values.shape} and {truth.shape}.")
    if np.isnan(values).any() or not np.isin(truth, (0.0, 1.0)).all():
        raise ValidationError("Ranking metrics need a score for every row and labels of 0 or 1.")
    counted = np.ones((1, values.size)) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(-values, kind="stable")
    values, truth, counted = values[order], truth[order], counted[:, order]
    # the first row of each run of tied scores: one threshold per distinct score, highest first
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    positives = np.add.reduceat(counted * truth, starts, axis=1)
    negatives = np.add.reduceat(counted * (1.0 - truth), starts, axis=1)
    above_positive, above_negative = np.cumsum(positives, axis=1), np.cumsum(negatives, axis=1)
    total_positive, total_negative = above_positive[:, -1], above_negative[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "roc_auc":
            # each positive against the negatives scored lower, ties counting half
            below = total_negative[:, None] - above_negative + 0.5 * negatives
            result = (positives * below).sum(axis=1) / (total_positive * total_negative)
        else:
            above = above_positive + above_negative
            # a threshold above which nothing was drawn holds no positive either: its precision never counts
            precision = np.divide(above_positive, above, out=np.zeros_like(above), where=above > 0)
            result = (positives * precision).sum(axis=1) / total_positive
    undefined = (total_positive == 0) | ((total_negative == 0) if metric == "roc_auc" else False)
    return np.where(undefined, np.nan, result)


def _resampled(
    metric: str, scores: np.ndarray[Any, Any], labels: np.ndarray[Any, Any], resamples: int, rng: np.random.Generator
) -> np.ndarray[Any, Any]:
    """The metric on ``resamples`` bootstrap resamples of the rows (each a count per row)."""
    out = np.empty(resamples)
    chunk = max(1, _CHUNK_VALUES // max(1, scores.size))
    rows = scores.size
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        # each resample draws rows with replacement; its weights are how often each row was drawn
        drawn = rng.integers(0, rows, (size, rows)) + np.arange(size)[:, None] * rows
        counts = np.bincount(drawn.ravel(), minlength=size * rows).reshape(size, rows)
        out[start : start + size] = ranking_metric(metric, scores, labels, counts)
    return out


def _ordered(
    scores: np.ndarray[Any, Any], labels: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The rows sorted by score and label: resamples are drawn by position, so the decision depends on the rows,
    not on the order a query returned them in."""
    if scores.shape != labels.shape:
        raise ValidationError(f"Scores and labels need the same length, got {scores.shape} and {labels.shape}.")
    order = np.lexsort((labels, scores))
    return scores[order], labels[order]


def compare_ranking(
    control: tuple[Any, Any],
    treatment: tuple[Any, Any],
    *,
    metric: str = "roc_auc",
    names: tuple[str, str] = ("control", "treatment"),
    mde: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    resamples: int = 2000,
    seed: int = 0,
) -> ABDecision:
    """Compare a ranking metric of the treatment's ``(scores, labels)`` with the control's, by a bootstrap over
    requests (higher is better).

    Raises:
        ValidationError: a variant has no labelled positive or no labelled negative: the metric is undefined.
    """
    if metric not in RANKING_METRICS:
        raise ValidationError(f"Unknown ranking metric {metric!r}: use one of {', '.join(RANKING_METRICS)}.")
    arrays = [
        _ordered(np.asarray(s, dtype=np.float64), np.asarray(y, dtype=np.float64)) for s, y in (control, treatment)
    ]
    values = []
    for name, (scores, labels) in zip(names, arrays, strict=True):
        positives = int((labels == 1).sum())
        if positives == 0 or positives == labels.size:
            raise ValidationError(
                f"{metric} of '{name}' is undefined: its {labels.size} labelled requests hold {positives} positives "
                "and it needs both classes. Wait for more labelled traffic, or compare on another metric."
            )
        values.append(float(ranking_metric(metric, scores, labels)[0]))
    rng = np.random.default_rng(seed)
    first = _resampled(metric, *arrays[0], resamples, rng)
    second = _resampled(metric, *arrays[1], resamples, rng)
    differences = second - first
    differences = differences[~np.isnan(differences)]  # a resample that drew no positive has no value
    if differences.size == 0:
        raise ValidationError(f"No bootstrap resample of the A/B data had both classes in both variants ({metric}).")
    share = min(float((differences <= 0).mean()), float((differences >= 0).mean()))
    p_value = min(1.0, 2 * share)
    low, high = np.quantile(differences, [alpha / 2, 1 - alpha / 2])
    effect = values[1] - values[0]
    samples = (int(arrays[0][1].size), int(arrays[1][1].size))
    needed: int | None = None
    if mde is not None:
        if mde <= 0:
            raise ValidationError(f"mde must be positive for {metric}, got {mde}.")
        spread = float(differences.std(ddof=1)) * math.sqrt(min(samples))
        needed = max(2, math.ceil(((_NORMAL.inv_cdf(1 - alpha / 2) + _NORMAL.inv_cdf(power)) * spread / mde) ** 2))
    decision = ABDecision(
        metric=metric,
        test="bootstrap",
        control=names[0],
        treatment=names[1],
        control_value=values[0],
        treatment_value=values[1],
        effect=effect,
        interval=(float(low), float(high)),
        p_value=p_value,
        alpha=alpha,
        is_significant=p_value < alpha,
        samples=samples,
        samples_needed=needed,
        winner=None,
    )
    if decision.is_significant and decision.is_sample_reached and effect != 0:
        decision = replace(decision, winner=names[1] if effect > 0 else names[0])
    return decision
