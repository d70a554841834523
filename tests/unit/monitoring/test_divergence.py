"""The drift statistics equal SciPy's on the same samples, and the binned ones approach the exact values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from fti.monitoring.stats.divergence import (
    chisquare_test,
    jensenshannon_distance,
    ks_test,
    population_stability_index,
    wasserstein_binned,
)
from fti.monitoring.stats.reference import bin_values


@pytest.mark.parametrize("seed", range(5))
def test_ks_equals_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference, current = rng.normal(size=700), rng.normal(0.1, 1.2, size=900)
    expected = stats.ks_2samp(reference, current)
    assert ks_test(reference, current) == (expected.statistic, expected.pvalue)


@pytest.mark.parametrize("seed", range(5))
def test_chisquare_equals_scipy_contingency_test(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.integers(5, 200, size=6)
    current = rng.integers(5, 200, size=6)
    expected = stats.chi2_contingency(np.vstack([reference, current]), correction=False)
    statistic, p_value = chisquare_test(reference, current)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_chisquare_with_a_category_new_to_the_reference() -> None:
    statistic, p_value = chisquare_test([50, 50, 0], [40, 40, 20])
    expected = stats.chi2_contingency([[50, 50, 0], [40, 40, 20]], correction=False)
    assert (statistic, p_value) == pytest.approx((expected.statistic, expected.pvalue))
    assert p_value < 1e-4
    # a category absent from both sides is left out
    assert chisquare_test([50, 50, 0], [40, 60, 0])[0] == pytest.approx(
        stats.chi2_contingency([[50, 50], [40, 60]], correction=False).statistic
    )


def test_chisquare_of_identical_frequencies_is_zero() -> None:
    assert chisquare_test([10, 20, 30], [20, 40, 60]) == (0.0, 1.0)
    assert chisquare_test([10], [20]) == (0.0, 1.0)


@pytest.mark.parametrize("seed", range(5))
def test_jensenshannon_equals_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.integers(0, 100, size=12).astype(float)
    current = rng.integers(0, 100, size=12).astype(float)
    current[3] = 0.0
    assert jensenshannon_distance(reference, current) == pytest.approx(distance.jensenshannon(reference, current))
    assert jensenshannon_distance(reference, reference * 3) == pytest.approx(0.0, abs=1e-7)
    assert jensenshannon_distance([1, 0], [0, 1]) == pytest.approx(np.sqrt(np.log(2)))


def test_psi_by_hand() -> None:
    reference, current = np.array([0.5, 0.3, 0.2]), np.array([0.4, 0.4, 0.2])
    expected = (0.4 - 0.5) * np.log(0.4 / 0.5) + (0.4 - 0.3) * np.log(0.4 / 0.3)
    assert population_stability_index(reference * 10, current * 7) == pytest.approx(expected)
    # an empty bin counts as 1e-4, so the index stays finite
    assert np.isfinite(population_stability_index([1, 0], [0, 1]))


def _binned(reference: np.ndarray, current: np.ndarray, bins: int = 100) -> float:
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    ours, theirs = bin_values(reference, edges), bin_values(current, edges)
    return wasserstein_binned(
        edges,
        (ours.counts, ours.sums / np.maximum(ours.counts, 1)),
        (theirs.counts, theirs.sums / np.maximum(theirs.counts, 1)),
        below=(theirs.below, theirs.below * edges[0] - theirs.below_sum),
        above=(theirs.above, theirs.above_sum - theirs.above * edges[-1]),
    )


@pytest.mark.parametrize("seed", range(3))
def test_binned_wasserstein_equals_scipy_on_the_binned_data(seed: int) -> None:
    """SciPy on the same histograms (each bin's mass spread evenly inside it) plus the values outside the range."""
    rng = np.random.default_rng(seed)
    reference, current = rng.normal(size=2000), rng.normal(0.4, 1.3, size=3000)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, 21)))
    reference_counts = bin_values(reference, edges).counts
    binned = bin_values(current, edges)
    middles = (edges[:-1] + edges[1:]) / 2
    steps = 4000
    offsets = (np.arange(steps) + 0.5) / steps
    points = (edges[:-1, None] + np.diff(edges)[:, None] * offsets).ravel()
    outside = current[(current < edges[0]) | (current > edges[-1])]
    expected = stats.wasserstein_distance(
        points,
        np.concatenate([points, outside]),
        np.repeat(reference_counts / steps, steps),
        np.concatenate([np.repeat(binned.counts / steps, steps), np.ones(outside.size)]),
    )
    actual = wasserstein_binned(
        edges,
        (reference_counts, middles),
        (binned.counts, middles),
        below=(binned.below, binned.below * edges[0] - binned.below_sum),
        above=(binned.above, binned.above_sum - binned.above * edges[-1]),
    )
    assert binned.below + binned.above == outside.size
    assert actual == pytest.approx(expected, rel=1e-4)


def test_binned_wasserstein_is_exact_when_the_cdfs_never_cross() -> None:
    rng = np.random.default_rng(5)
    reference = rng.exponential(size=5000)
    current = rng.exponential(size=5000) * 1.5  # stochastically larger: G <= F everywhere in expectation
    exact = stats.wasserstein_distance(reference, current)
    assert _binned(reference, current, bins=10) == pytest.approx(exact, rel=1e-3)


@pytest.mark.parametrize(
    ("reference", "current"),
    [
        (lambda rng: rng.normal(size=100_000), lambda rng: rng.normal(0.2, 1.1, size=200_000)),
        (lambda rng: rng.lognormal(size=100_000), lambda rng: rng.lognormal(0.1, 1.0, size=200_000)),
        (lambda rng: rng.uniform(size=100_000), lambda rng: rng.uniform(0.05, 1.05, size=200_000)),
    ],
    ids=["normal", "lognormal", "uniform"],
)
def test_binned_wasserstein_is_close_to_the_exact_value_on_large_samples(reference, current) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(11)
    reference_values, current_values = reference(rng), current(rng)
    exact = stats.wasserstein_distance(reference_values, current_values)
    assert _binned(reference_values, current_values) == pytest.approx(exact, rel=1e-3)


def test_binned_wasserstein_of_the_reference_against_itself_is_zero() -> None:
    values = np.random.default_rng(3).gamma(2.0, size=5000)
    assert _binned(values, values) == pytest.approx(0.0, abs=1e-12)
