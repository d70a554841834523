"""A/B analysis: which variant wins, with a significance test suited to the metric and the sample it needs.

- rates (0/1 outcomes): the two-proportion z-test (pooled);
- means: Welch's t-test (unequal variances);
- any statistic (a median, a percentile): a seeded bootstrap of the difference, which also gives every
  decision its confidence interval.

The normal tail and quantiles come from the standard library and the t tail from ``scipy.special``, so a first
analysis in a fresh process does not wait for ``scipy.stats`` to import. The bootstrap of a mean over values with
few distinct levels (0/1 outcomes, errors of a classifier) draws each resample's counts per level (a multinomial),
which has the same distribution as resampling the rows and costs O(resamples x levels), not O(resamples x rows).

The sample size needed per variant comes from the power analysis for the minimum detectable effect (an
absolute difference) at ``alpha`` 0.05 and power 0.8 by default. A variant wins only when its difference is
significant and the sample size it needs is reached, so stopping early on a lucky streak does not promote.

Example:
    >>> decisions = analyze_ab(log, variant="version", metric="is_correct", control="3", mde=0.02)  # doctest: +SKIP
    >>> decisions[0].winner, decisions[0].p_value, decisions[0].samples_needed  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

from fti.errors import ValidationError
from fti.monitoring.stats.columns import TableLike, as_table
from fti.monitoring.stats.distributions import scipy_special

__all__ = [
    "ABDecision",
    "ABTest",
    "TestResult",
    "analyze_ab",
    "bootstrap_interval",
    "compare_variants",
    "samples_needed_means",
    "samples_needed_proportions",
    "two_proportion_ztest",
    "welch_ttest",
]

ABTest = Literal["proportion", "mean", "bootstrap"]
Statistic = Callable[..., Any]

#: resampled values held in memory at once by the bootstrap
_BOOTSTRAP_CHUNK = 4_000_000
#: a mean is bootstrapped from counts per distinct value when a variant has at most this many distinct values
_MAX_LEVELS = 256
_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class TestResult:
    """A test statistic, its two-sided p-value and (for t-tests) the degrees of freedom."""

    statistic: float
    p_value: float
    dof: float | None = None


def two_proportion_ztest(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> TestResult:
    """Two-sided two-proportion z-test with the pooled rate: z = (p_b - p_a) / SE."""
    if min(trials_a, trials_b) < 1:
        raise ValidationError(f"Both variants need at least one trial, got {trials_a} and {trials_b}.")
    rate_a, rate_b = successes_a / trials_a, successes_b / trials_b
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    error = math.sqrt(pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b))
    if error == 0:
        return TestResult(0.0, 1.0)
    z = (rate_b - rate_a) / error
    return TestResult(z, math.erfc(abs(z) / math.sqrt(2)))  # two normal tails: 2 * sf(|z|)


def welch_ttest(a: Any, b: Any) -> TestResult:
    """Welch's two-sided t-test of mean(b) - mean(a); equal to ``scipy.stats.ttest_ind(b, a, equal_var=False)``."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if min(x.size, y.size) < 2:
        raise ValidationError(f"Welch's t-test needs at least 2 values per variant, got {x.size} and {y.size}.")
    var_x, var_y = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    error = math.sqrt(var_x + var_y)
    if error == 0:
        return TestResult(0.0, 1.0, float(x.size + y.size - 2))
    t = float((y.mean() - x.mean()) / error)
    dof = (var_x + var_y) ** 2 / (var_x**2 / (x.size - 1) + var_y**2 / (y.size - 1))
    return TestResult(t, float(2 * scipy_special().stdtr(dof, -abs(t))), float(dof))


def _bootstrap_differences(
    a: np.ndarray[Any, Any], b: np.ndarray[Any, Any], statistic: Statistic, resamples: int, seed: int
) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed)
    if statistic is np.mean:
        levels_a, levels_b = _levels(a), _levels(b)
        if levels_a is not None and levels_b is not None:
            means_a = _resampled_means(levels_a, a.size, resamples, rng)
            counted: np.ndarray[Any, Any] = _resampled_means(levels_b, b.size, resamples, rng) - means_a
            return counted
    # resamples are drawn by position: sorted first, the differences depend on the values, not on their order (a
    # query that joins on several threads returns the same rows in another order)
    a, b = np.sort(a), np.sort(b)
    differences = np.empty(resamples)
    chunk = max(1, _BOOTSTRAP_CHUNK // max(a.size, b.size))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        left = a[rng.integers(0, a.size, (size, a.size))]
        right = b[rng.integers(0, b.size, (size, b.size))]
        differences[start : start + size] = statistic(right, axis=1) - statistic(left, axis=1)
    return differences


def _levels(values: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None:
    """The distinct values and their shares, or None when there are too many for counting to pay."""
    levels, counts = np.unique(values, return_counts=True)
    if levels.size > _MAX_LEVELS or levels.size * 4 > values.size:
        return None
    return levels, counts / values.size


def _resampled_means(
    levels: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]], size: int, resamples: int, rng: np.random.Generator
) -> np.ndarray[Any, Any]:
    """Means of ``resamples`` bootstrap resamples of ``size`` values: each resample's count per distinct value is
    one multinomial draw, exactly as if ``size`` rows were drawn with replacement."""
    values, shares = levels
    counts = rng.multinomial(size, shares, size=resamples)
    means: np.ndarray[Any, Any] = counts @ values / size
    return means


def bootstrap_interval(
    a: Any,
    b: Any,
    *,
    statistic: Statistic = np.mean,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(b) - statistic(a)``; seeded, so it is reproducible.

    ``statistic`` is called as ``statistic(values, axis=1)`` on a batch of resamples (``np.mean``,
    ``np.median``, or ``lambda v, axis: np.percentile(v, 95, axis=axis)``).
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if min(x.size, y.size) < 1:
        raise ValidationError(f"The bootstrap needs values in both variants, got {x.size} and {y.size}.")
    if not 0 < confidence < 1:
        raise ValidationError(f"confidence must be in (0, 1), got {confidence}.")
    differences = _bootstrap_differences(x, y, statistic, resamples, seed)
    tail = (1 - confidence) / 2
    low, high = np.quantile(differences, [tail, 1 - tail])
    return float(low), float(high)


def _z(probability: float) -> float:
    return _NORMAL.inv_cdf(probability)


def samples_needed_proportions(baseline: float, mde: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Samples per variant to detect a rate moving from ``baseline`` by ``mde`` (absolute), two-sided.

    Near 0 or 1 a rate can move only away from the bound (a 99.7% accuracy cannot rise by 5 points), so the
    move by ``mde`` in the direction that stays a rate is the one sized.
    """
    treated = baseline + mde
    if not 0 < treated < 1:
        treated = baseline - mde
    if not (0 < baseline < 1 and 0 < treated < 1 and mde != 0):
        raise ValidationError(
            f"A rate test needs 0 < baseline < 1 and 0 < baseline ± mde < 1 with mde != 0, got baseline {baseline} "
            f"and mde {mde}: pass a smaller mde."
        )
    mean = (baseline + treated) / 2
    spread = _z(1 - alpha / 2) * math.sqrt(2 * mean * (1 - mean)) + _z(power) * math.sqrt(
        baseline * (1 - baseline) + treated * (1 - treated)
    )
    return math.ceil(spread**2 / (treated - baseline) ** 2)


def samples_needed_means(std: float, mde: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Samples per variant to detect a mean moving by ``mde`` (absolute) when values spread by ``std``."""
    if mde == 0 or std < 0:
        raise ValidationError(f"A mean test needs mde != 0 and std >= 0, got mde {mde} and std {std}.")
    return max(2, math.ceil(2 * (_z(1 - alpha / 2) + _z(power)) ** 2 * std**2 / mde**2))


@dataclass(frozen=True, slots=True)
class ABDecision:
    """The verdict on one treatment variant against the control.

    ``effect`` is treatment minus control of the metric (its rate, mean or statistic) and ``interval`` its
    bootstrap confidence interval. ``winner`` is the better variant when the difference is significant and
    the needed sample size is reached (always, when no ``mde`` was given), else ``None``.
    """

    metric: str
    test: ABTest
    control: str
    treatment: str
    control_value: float
    treatment_value: float
    effect: float
    interval: tuple[float, float]
    p_value: float
    alpha: float
    is_significant: bool
    samples: tuple[int, int]
    samples_needed: int | None
    winner: str | None

    @property
    def is_sample_reached(self) -> bool:
        """Whether both variants have the samples the power analysis asks for (true when none was asked)."""
        return self.samples_needed is None or min(self.samples) >= self.samples_needed

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "metric": self.metric,
            "test": self.test,
            "control": self.control,
            "treatment": self.treatment,
            "control_value": self.control_value,
            "treatment_value": self.treatment_value,
            "effect": self.effect,
            "interval": list(self.interval),
            "p_value": self.p_value,
            "alpha": self.alpha,
            "is_significant": self.is_significant,
            "samples": {self.control: self.samples[0], self.treatment: self.samples[1]},
            "samples_needed": self.samples_needed,
            "is_sample_reached": self.is_sample_reached,
            "winner": self.winner,
        }


def compare_variants(
    control: Any,
    treatment: Any,
    *,
    test: ABTest | None = None,
    metric: str = "metric",
    names: tuple[str, str] = ("control", "treatment"),
    mde: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    is_higher_better: bool = True,
    statistic: Statistic = np.mean,
    resamples: int = 2000,
    seed: int = 0,
) -> ABDecision:
    """Compare the metric values of one treatment with the control's.

    Args:
        control: the control's values (0/1 outcomes for a rate).
        treatment: the treatment's values.
        test: ``proportion``, ``mean`` or ``bootstrap``; by default ``proportion`` for 0/1 values and
            ``mean`` otherwise.
        metric: the metric's name, for the report.
        names: the variants' names.
        mde: the minimum detectable effect (absolute) the sample size is planned for.
        alpha: the significance level.
        power: the power the sample size is planned for.
        is_higher_better: whether a higher metric wins.
        statistic: the statistic of the bootstrap test and interval (``np.mean`` by default).
        resamples: bootstrap resamples.
        seed: bootstrap seed.

    Returns:
        The decision.
    """
    a, b = np.asarray(control, dtype=np.float64), np.asarray(treatment, dtype=np.float64)
    if min(a.size, b.size) < 2:
        raise ValidationError(
            f"Metric '{metric}' needs at least 2 values per variant, got {a.size} for '{names[0]}' and {b.size} for "
            f"'{names[1]}'. Wait for more traffic or labels."
        )
    chosen: ABTest = test or ("proportion" if np.isin(np.concatenate([a, b]), (0.0, 1.0)).all() else "mean")
    needed: int | None = None
    if chosen == "proportion":
        result = two_proportion_ztest(int(a.sum()), a.size, int(b.sum()), b.size)
        baseline = float(a.mean())
        if mde is not None:
            needed = samples_needed_proportions(min(max(baseline, 1e-6), 1 - 1e-6), mde, alpha=alpha, power=power)
    elif chosen == "mean":
        result = welch_ttest(a, b)
        if mde is not None:
            needed = samples_needed_means(float(a.std(ddof=1)), mde, alpha=alpha, power=power)
    else:
        differences = _bootstrap_differences(a, b, statistic, resamples, seed)
        share = min(float((differences <= 0).mean()), float((differences >= 0).mean()))
        result = TestResult(float(np.median(differences)), min(1.0, 2 * share))
    center = statistic if chosen == "bootstrap" else np.mean
    control_value, treatment_value = float(center(a)), float(center(b))
    effect = treatment_value - control_value
    interval = bootstrap_interval(a, b, statistic=center, confidence=1 - alpha, resamples=resamples, seed=seed)
    is_significant = result.p_value < alpha
    decision = ABDecision(
        metric=metric,
        test=chosen,
        control=names[0],
        treatment=names[1],
        control_value=control_value,
        treatment_value=treatment_value,
        effect=effect,
        interval=interval,
        p_value=result.p_value,
        alpha=alpha,
        is_significant=is_significant,
        samples=(int(a.size), int(b.size)),
        samples_needed=needed,
        winner=None,
    )
    if is_significant and decision.is_sample_reached and effect != 0:
        better = names[1] if (effect > 0) == is_higher_better else names[0]
        decision = replace(decision, winner=better)
    return decision


def analyze_ab(
    data: TableLike,
    *,
    variant: str,
    metric: str,
    control: str,
    **options: Any,
) -> list[ABDecision]:
    """Compare every variant in ``data`` with the control on one metric column.

    Args:
        data: one row per request (or labelled outcome): an Arrow table or a pandas/Polars DataFrame.
        variant: the column naming each row's variant (read as text).
        metric: the metric column (0/1 for a rate).
        control: the control variant's name.
        **options: passed to :func:`compare_variants` (test, mde, alpha, power, is_higher_better, ...).

    Returns:
        One decision per treatment variant, in name order.
    """
    table = as_table(data, what="A/B data")
    for name in (variant, metric):
        if name not in table.column_names:
            raise ValidationError(
                f"A/B data has no column '{name}' (columns: {', '.join(table.column_names)}). Pass variant= and "
                "metric= with existing columns."
            )
    # each row's variant as an index into the distinct names (-1 for null), so rows are split without Python objects
    encoded = table.column(variant).cast("string").combine_chunks().dictionary_encode()
    names: list[str] = encoded.dictionary.to_pylist()
    labels = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    values = np.asarray(table.column(metric).cast("double").to_numpy(zero_copy_only=False), dtype=np.float64)
    known = ~np.isnan(values) & (labels >= 0)
    labels, values = labels[known], values[known]
    variants = sorted(names[index] for index in np.unique(labels))
    if control not in variants:
        raise ValidationError(
            f"Control variant '{control}' has no rows with a '{metric}' value (variants: {', '.join(variants)}). "
            "Name an existing variant as control."
        )
    base = values[labels == names.index(control)]
    return [
        compare_variants(base, values[labels == names.index(name)], metric=metric, names=(control, name), **options)
        for name in variants
        if name != control
    ]
