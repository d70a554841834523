"""A/B analysis: tests against hand-checked values and SciPy, seeded bootstrap, power analysis, decisions."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fti.errors import ValidationError
from fti.monitoring.stats.ab import (
    analyze_ab,
    bootstrap_interval,
    compare_variants,
    samples_needed_means,
    samples_needed_proportions,
    two_proportion_ztest,
    welch_ttest,
)


def test_two_proportion_ztest_by_hand() -> None:
    # 200/1000 vs 250/1000: pooled 0.225, SE = sqrt(0.225 * 0.775 * 2 / 1000) = 0.0186748
    result = two_proportion_ztest(200, 1000, 250, 1000)
    assert result.statistic == pytest.approx(0.05 / math.sqrt(0.225 * 0.775 * 0.002), rel=1e-12)
    assert result.statistic == pytest.approx(2.677398, abs=1e-6)
    # two-sided normal tail: erfc(z / sqrt 2)
    assert result.p_value == pytest.approx(math.erfc(result.statistic / math.sqrt(2)), rel=1e-12)
    assert result.p_value == pytest.approx(0.0074196, abs=1e-7)
    assert two_proportion_ztest(0, 10, 0, 10).p_value == 1.0


@pytest.mark.parametrize("seed", range(4))
def test_welch_equals_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(10, 2, 40), rng.normal(10.8, 5, 70)
    expected = stats.ttest_ind(b, a, equal_var=False)
    result = welch_ttest(a, b)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-10)
    assert result.dof == pytest.approx(expected.df, rel=1e-12)


def test_sample_sizes_by_hand() -> None:
    # 10% -> 12%: (1.95996 * sqrt(2 * .11 * .89) + 0.84162 * sqrt(.09 + .1056))^2 / .02^2 = 3840.8
    assert samples_needed_proportions(0.10, 0.02) == 3841
    # means: 2 * (1.95996 + 0.84162)^2 * 1^2 / 0.2^2 = 392.4
    assert samples_needed_means(1.0, 0.2) == 393
    assert samples_needed_means(1.0, 0.2, power=0.9) > 393
    # a rate near 1 can only fall: 95% -> 85% is the move sized, as 85% -> 95% would be
    assert samples_needed_proportions(0.95, 0.1) == samples_needed_proportions(0.85, 0.1)
    assert samples_needed_proportions(0.999999, 0.05) > 0
    with pytest.raises(ValidationError, match=r"A rate test needs 0 < baseline < 1 .*got baseline 0.5 and mde 0.6"):
        samples_needed_proportions(0.5, 0.6)


def test_bootstrap_interval_is_seeded_and_covers_the_difference() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 500), rng.normal(0.5, 1, 500)
    low, high = bootstrap_interval(a, b, seed=7)
    assert (low, high) == bootstrap_interval(a, b, seed=7)
    assert low < b.mean() - a.mean() < high
    # close to the normal-theory interval of the difference of means
    error = math.sqrt(a.var(ddof=1) / 500 + b.var(ddof=1) / 500)
    assert low == pytest.approx(b.mean() - a.mean() - 1.96 * error, abs=0.02)
    assert high == pytest.approx(b.mean() - a.mean() + 1.96 * error, abs=0.02)
    medians = bootstrap_interval(a, b, statistic=np.median, resamples=500, seed=1)
    assert medians[0] < np.median(b) - np.median(a) < medians[1]


def test_the_bootstrap_depends_on_the_values_not_their_order() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.gamma(2.0, 1.0, 400), rng.gamma(2.2, 1.0, 300)
    shuffled = rng.permutation(a), rng.permutation(b)
    assert bootstrap_interval(*shuffled, seed=2) == bootstrap_interval(a, b, seed=2)
    medians = bootstrap_interval(*shuffled, statistic=np.median, resamples=300, seed=2)
    assert medians == bootstrap_interval(a, b, statistic=np.median, resamples=300, seed=2)


def test_bootstrap_of_a_rate_counts_levels_and_matches_the_normal_interval() -> None:
    # 0/1 outcomes are bootstrapped from counts per level (a multinomial per resample), not by resampling rows
    rng = np.random.default_rng(4)
    a, b = (rng.random(200_000) < 0.70).astype(float), (rng.random(20_000) < 0.72).astype(float)
    low, high = bootstrap_interval(a, b, seed=3)
    assert (low, high) == bootstrap_interval(a, b, seed=3)
    error = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert low == pytest.approx(b.mean() - a.mean() - 1.96 * error, abs=0.0015)
    assert high == pytest.approx(b.mean() - a.mean() + 1.96 * error, abs=0.0015)
    # three levels (absolute errors of a 3-class label) work the same way
    c, d = rng.integers(0, 3, 5000).astype(float), rng.integers(0, 3, 5000).astype(float) + 0.1
    low, high = bootstrap_interval(c, d, seed=1)
    error = math.sqrt(c.var(ddof=1) / c.size + d.var(ddof=1) / d.size)
    assert low == pytest.approx(d.mean() - c.mean() - 1.96 * error, abs=0.01)
    assert high == pytest.approx(d.mean() - c.mean() + 1.96 * error, abs=0.01)


def test_a_better_rate_wins_once_the_sample_is_reached() -> None:
    rng = np.random.default_rng(11)
    control, treatment = rng.random(5000) < 0.10, rng.random(5000) < 0.13
    decision = compare_variants(control, treatment, metric="converted", names=("v1", "v2"), mde=0.02)
    assert decision.test == "proportion" and decision.is_significant
    assert decision.samples == (5000, 5000) and decision.samples_needed is not None
    assert decision.is_sample_reached and decision.winner == "v2"
    assert decision.effect == pytest.approx(treatment.mean() - control.mean())
    assert decision.interval[0] < decision.effect < decision.interval[1]
    expected = two_proportion_ztest(int(control.sum()), 5000, int(treatment.sum()), 5000)
    assert decision.p_value == expected.p_value
    # the same difference on too few samples for a 0.5-point effect does not promote
    small = compare_variants(control, treatment, names=("v1", "v2"), mde=0.005)
    assert small.is_significant and not small.is_sample_reached and small.winner is None


def test_lower_is_better_and_no_difference() -> None:
    rng = np.random.default_rng(5)
    slow, fast = rng.normal(120, 20, 400), rng.normal(100, 20, 400)
    decision = compare_variants(slow, fast, metric="latency_ms", is_higher_better=False)
    assert decision.test == "mean" and decision.winner == "treatment"
    same = compare_variants(rng.normal(0, 1, 300), rng.normal(0, 1, 300))
    assert not same.is_significant and same.winner is None


def test_bootstrap_test_for_any_statistic() -> None:
    rng = np.random.default_rng(8)
    a, b = rng.exponential(1.0, 800), rng.exponential(1.4, 800)
    decision = compare_variants(a, b, test="bootstrap", statistic=np.median, resamples=1000)
    assert decision.test == "bootstrap" and decision.is_significant and decision.winner == "treatment"
    assert decision.effect == pytest.approx(np.median(b) - np.median(a))


def test_analyze_ab_per_variant() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "variant": np.repeat(["champion", "challenger", "third"], 4000),
            "correct": np.concatenate([rng.random(4000) < 0.80, rng.random(4000) < 0.84, rng.random(4000) < 0.80]),
        }
    )
    decisions = analyze_ab(frame, variant="variant", metric="correct", control="champion", mde=0.03)
    assert [d.treatment for d in decisions] == ["challenger", "third"]
    assert decisions[0].winner == "challenger" and decisions[1].winner is None
    data = json.loads(json.dumps(decisions[0].to_dict()))
    assert data["samples"] == {"champion": 4000, "challenger": 4000} and data["is_sample_reached"]


def test_ab_errors_name_the_problem() -> None:
    frame = pd.DataFrame({"variant": ["a", "b"] * 5, "y": [1.0] * 10})
    with pytest.raises(ValidationError, match=r"A/B data has no column 'clicks' \(columns: variant, y\)"):
        analyze_ab(frame, variant="variant", metric="clicks", control="a")
    with pytest.raises(ValidationError, match=r"Control variant 'z' has no rows with a 'y' value \(variants: a, b\)"):
        analyze_ab(frame, variant="variant", metric="y", control="z")
    with pytest.raises(ValidationError, match=r"needs at least 2 values per variant, got 1 for 'control'"):
        compare_variants([1.0], [1.0, 2.0])
