"""The drift statistics: two-sample tests and distances, computed from samples or binned counts.

Each function takes what the reference profile keeps (a sample, bin edges and counts, category counts)
and the current data's counts over the same bins, so the reference never has to be reloaded whole.
The tests use SciPy's distributions for their p-values (the ``monitoring`` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fti.monitoring.stats.distributions import scipy_stats

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = [
    "chisquare_test",
    "jensenshannon_distance",
    "ks_test",
    "population_stability_index",
    "wasserstein_binned",
]


def ks_test(reference: npt.ArrayLike, current: npt.ArrayLike) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test: (statistic, p-value), exactly as ``scipy.stats.ks_2samp``."""
    result = scipy_stats().ks_2samp(np.asarray(reference, dtype=np.float64), np.asarray(current, dtype=np.float64))
    return float(result.statistic), float(result.pvalue)


def chisquare_test(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike) -> tuple[float, float]:
    """Pearson's chi-square test that the reference and current counts come from one distribution.

    The test of homogeneity on the 2 x k table of reference and current counts: unlike a goodness-of-fit test
    against the reference frequencies taken as exact (Evidently's variant), it accounts for the reference
    being a sample too, so its false alarm rate stays at the threshold when both samples are small.
    Categories absent from both are left out.

    Returns:
        (statistic, p-value); equal to ``scipy.stats.chi2_contingency([reference, current], correction=False)``.
    """
    table = np.vstack([np.asarray(reference_counts, dtype=np.float64), np.asarray(current_counts, dtype=np.float64)])
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1)
    if table.shape[1] < 2 or np.any(rows == 0):
        return 0.0, 1.0
    expected = np.outer(rows, table.sum(axis=0)) / rows.sum()
    statistic = float((((table - expected) ** 2) / expected).sum())
    return statistic, float(scipy_stats().chi2.sf(statistic, table.shape[1] - 1))


def _frequencies(counts: npt.ArrayLike) -> npt.NDArray[np.float64]:
    values = np.asarray(counts, dtype=np.float64)
    total = values.sum()
    return values / total if total > 0 else values


def jensenshannon_distance(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike) -> float:
    """Jensen-Shannon distance (natural log) of two count vectors over the same bins.

    Equal to ``scipy.spatial.distance.jensenshannon(reference, current)``; 0 for identical frequencies and
    at most sqrt(ln 2) ~ 0.83 for disjoint ones.
    """
    p = _frequencies(reference_counts)
    q = _frequencies(current_counts)
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(p > 0, p * np.log(p / m), 0.0).sum()
        right = np.where(q > 0, q * np.log(q / m), 0.0).sum()
    return float(np.sqrt(max((left + right) / 2.0, 0.0)))


def population_stability_index(
    reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike, *, epsilon: float = 1e-4
) -> float:
    """Population stability index: sum of (current - reference) * ln(current / reference) over the bins.

    Empty bins count as ``epsilon`` (Evidently's convention) so the index stays finite.
    """
    p = np.maximum(_frequencies(reference_counts), epsilon)
    q = np.maximum(_frequencies(current_counts), epsilon)
    return float(((q - p) * np.log(q / p)).sum())


def wasserstein_binned(
    edges: npt.ArrayLike,
    reference: tuple[npt.ArrayLike, npt.ArrayLike],
    current: tuple[npt.ArrayLike, npt.ArrayLike],
    *,
    below: tuple[int, float] = (0, 0.0),
    above: tuple[int, float] = (0, 0.0),
) -> float:
    """Wasserstein-1 distance (the integral of ``|F - G|``) between a reference and current values, from bins.

    Both sides are given as (counts, means) per bin between ``edges``. Knowing each bin's mass and mean
    makes the integral of ``F - G`` over every bin exact (``integral of F over [a, b] = F(a) (b - a) +
    mass (b - mean)``), so the distance is exact in every bin where the two CDFs do not cross; in a bin where
    they cross, both are taken as uniform inside the bin. Outside ``[edges[0], edges[-1]]`` the reference has
    no mass and the current values count exactly.

    Args:
        edges: the reference bin edges (non-decreasing).
        reference: reference (counts, means) per bin.
        current: current (counts, means) per bin, for the values inside the reference range.
        below: (count, sum of ``edges[0] - x``) over the current values below the first edge.
        above: (count, sum of ``x - edges[-1]``) over the current values above the last edge.

    Returns:
        The distance, in the units of the values; equal to ``scipy.stats.wasserstein_distance`` when no bin
        holds a crossing of the CDFs, and to it on the data spread evenly inside each bin otherwise.
    """
    bounds = np.asarray(edges, dtype=np.float64)
    reference_counts = np.asarray(reference[0], dtype=np.float64)
    current_counts = np.asarray(current[0], dtype=np.float64)
    reference_total = reference_counts.sum()
    current_total = current_counts.sum() + below[0] + above[0]
    if current_total == 0 or reference_total == 0:
        return 0.0
    f = np.concatenate([[0.0], np.cumsum(reference_counts)]) / reference_total
    g = (below[0] + np.concatenate([[0.0], np.cumsum(current_counts)])) / current_total
    d = f - g
    width = np.diff(bounds)
    right = bounds[1:]
    reference_mass = reference_counts / reference_total
    current_mass = current_counts / current_total
    reference_pull = np.where(reference_mass > 0, reference_mass * (right - np.asarray(reference[1])), 0.0)
    current_pull = np.where(current_mass > 0, current_mass * (right - np.asarray(current[1])), 0.0)
    exact = np.abs(d[:-1] * width + reference_pull - current_pull)
    d0, d1 = np.abs(d[:-1]), np.abs(d[1:])
    total = d0 + d1
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = np.where(total > 0, (d0**2 + d1**2) / (2.0 * total), 0.0) * width
    inner = np.where(d[:-1] * d[1:] >= 0, exact, crossing)
    return float(inner.sum() + (below[1] + above[1]) / current_total)
