"""Drift per feature and per dataset: calibrated on unshifted traffic, exact on shifted features, configurable."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats
from scipy.spatial import distance

from fti.errors import ValidationError
from fti.monitoring.stats.drift import DriftConfig, DriftReport, FeatureDriftConfig, detect_drift
from fti.monitoring.stats.reference import NumericProfile, build_reference

from .traffic import FEATURES, traffic

SHIFTED = frozenset({"amount", "city"})


def _false_alarms(reference_rows: int, current_rows: int, seeds: int) -> dict[str, float]:
    alarms = dict.fromkeys(FEATURES, 0)
    for seed in range(seeds):
        report = detect_drift(build_reference(traffic(reference_rows, seed)), traffic(current_rows, 10_000 + seed))
        for name in report.drifted_features:
            alarms[name] += 1
    return {name: count / seeds for name, count in alarms.items()}


def test_small_reference_false_alarm_rate_is_at_most_five_percent() -> None:
    """KS and chi-square at p < 0.05 over 200 seeds: the rate over all features is at most 5%.

    Each feature's own rate is an estimate from 200 draws (standard error ~1.5 points), so it is held to 5%
    plus two standard errors.
    """
    rates = _false_alarms(500, 500, seeds=200)
    assert np.mean(list(rates.values())) <= 0.05
    assert max(rates.values()) <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / 200)


def test_large_reference_raises_no_false_alarm() -> None:
    rates = _false_alarms(5000, 5000, seeds=40)
    assert rates == dict.fromkeys(FEATURES, 0.0)


def test_large_reference_flags_exactly_the_shifted_features() -> None:
    for seed in range(40):
        report = detect_drift(build_reference(traffic(5000, seed)), traffic(5000, 10_000 + seed, shift=SHIFTED))
        assert set(report.drifted_features) == SHIFTED, seed
        assert report.share_drifted == 0.25 and not report.dataset_drift


def test_small_reference_flags_the_shifted_features() -> None:
    flagged = dict.fromkeys(FEATURES, 0)
    seeds = 100
    for seed in range(seeds):
        report = detect_drift(build_reference(traffic(500, seed)), traffic(500, 10_000 + seed, shift=SHIFTED))
        for name in report.drifted_features:
            flagged[name] += 1
    assert all(flagged[name] == seeds for name in SHIFTED)
    assert np.mean([flagged[name] / seeds for name in FEATURES if name not in SHIFTED]) <= 0.05


def test_defaults_follow_the_reference_size() -> None:
    small = detect_drift(build_reference(traffic(1000, 1)), traffic(300, 2))
    large = detect_drift(build_reference(traffic(1001, 1)), traffic(300, 2))
    assert {small.features["income"].method, small.features["city"].method} == {"ks", "chisquare"}
    assert {large.features["income"].method, large.features["city"].method} == {"wasserstein", "jensenshannon"}
    assert small.features["income"].threshold == 0.05 and large.features["income"].threshold == 0.1


def test_scores_equal_scipy_on_the_same_samples() -> None:
    reference, current = traffic(800, 1), traffic(900, 2, shift=SHIFTED)
    profile = build_reference(reference)
    report = detect_drift(profile, current)
    expected = stats.ks_2samp(reference.column("amount").to_numpy(), current.column("amount").to_numpy())
    assert report.features["amount"].score == expected.pvalue
    assert report.features["amount"].statistic == expected.statistic
    cities = ["paris", "rome", "oslo", "kyiv"]
    table = [[reference.column("city").to_pylist().count(c) for c in cities] for _ in range(1)]
    table.append([current.column("city").to_pylist().count(c) for c in cities])
    assert report.features["city"].score == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue)

    big_reference, big_current = traffic(20_000, 3), traffic(20_000, 4, shift=SHIFTED)
    big = detect_drift(build_reference(big_reference), big_current)
    amount = big_reference.column("amount").to_numpy()
    exact = stats.wasserstein_distance(amount, big_current.column("amount").to_numpy()) / amount.std()
    assert big.features["amount"].score == pytest.approx(exact, rel=1e-3)
    table = [[big_reference.column("city").to_pylist().count(c) for c in cities] for _ in range(1)]
    table.append([big_current.column("city").to_pylist().count(c) for c in cities])
    assert big.features["city"].score == pytest.approx(distance.jensenshannon(table[0], table[1]))


def test_methods_and_thresholds_are_configurable_per_feature() -> None:
    profile = build_reference(traffic(5000, 1))
    config = DriftConfig(
        numeric_method="psi",
        features={
            "income": FeatureDriftConfig(method="ks", threshold=0.01),
            "amount": FeatureDriftConfig(threshold=0.0),
            "city": FeatureDriftConfig(method="chisquare"),
            "tier": FeatureDriftConfig(method="psi", threshold=0.2),
        },
        drift_share=0.25,
    )
    report = detect_drift(profile, traffic(5000, 2), config=config)
    chosen = {name: (result.method, result.threshold) for name, result in report.features.items()}
    assert chosen["income"] == ("ks", 0.01)
    assert chosen["amount"] == ("psi", 0.0) and report.features["amount"].drifted  # a zero threshold always fires
    assert chosen["ratio"] == ("psi", 0.1)
    assert chosen["city"] == ("chisquare", 0.05) and chosen["tier"] == ("psi", 0.2)
    assert chosen["is_new"] == ("jensenshannon", 0.1)
    assert report.dataset_drift == (report.share_drifted >= 0.25)


def test_psi_of_a_numeric_feature_uses_ten_bins_of_equal_reference_share() -> None:
    reference, current = traffic(5000, 1), traffic(5000, 2, shift=SHIFTED)
    profile = build_reference(reference)
    report = detect_drift(profile, current, config=DriftConfig(numeric_method="psi"))
    amount = reference.column("amount").to_numpy()
    edges = np.quantile(amount, np.linspace(0, 1, 11))
    now = current.column("amount").to_numpy()
    ours = np.histogram(np.clip(amount, edges[0], edges[-1]), edges)[0] / amount.size
    theirs = np.histogram(np.clip(now, edges[0], edges[-1]), edges)[0] / now.size
    expected = float(((theirs - ours) * np.log(theirs / ours)).sum())
    assert report.features["amount"].score == pytest.approx(expected, rel=0.02)
    assert report.features["amount"].drifted and not report.features["income"].drifted


def test_dataset_drift_needs_the_share() -> None:
    profile = build_reference(traffic(5000, 1))
    shifted = frozenset({"income", "amount", "ratio", "city"})
    report = detect_drift(profile, traffic(5000, 2, shift=shifted))
    assert report.share_drifted == 0.5 and report.dataset_drift
    stricter = detect_drift(profile, traffic(5000, 2, shift=shifted), config=DriftConfig(drift_share=0.6))
    assert not stricter.dataset_drift


def test_prediction_drift_is_reported_apart() -> None:
    reference = traffic(3000, 1)
    reference = reference.append_column("score", pa.array(np.random.default_rng(1).beta(2, 5, 3000)))
    current = traffic(3000, 2)
    current = current.append_column("score", pa.array(np.random.default_rng(2).beta(5, 2, 3000)))
    report = detect_drift(build_reference(reference), current, prediction="score")
    assert report.prediction is not None and report.prediction.drifted
    assert "score" not in report.features and report.share_drifted == 0.0


def test_report_is_json_and_carries_both_distributions() -> None:
    report = detect_drift(build_reference(traffic(2000, 1)), traffic(2000, 2, shift=SHIFTED))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["drifted_features"] == ["amount", "city"]
    amount = data["features"]["amount"]
    assert amount["method"] == "wasserstein" and amount["drifted"]
    assert len(amount["bins"]) == len(amount["reference"]) == len(amount["current"]) <= 22
    assert sum(amount["reference"]) == pytest.approx(1.0) and sum(amount["current"]) == pytest.approx(1.0)
    assert data["features"]["city"]["bins"] == ["paris", "rome", "oslo", "kyiv"]
    assert DriftReport.from_dict(data) == report


def test_report_with_an_extreme_score_round_trips() -> None:
    profile = build_reference(traffic(300, 1))
    current = traffic(300, 2).set_column(0, "income", pa.array(np.full(300, 1e9)))
    report = detect_drift(profile, current, config=DriftConfig(numeric_method="wasserstein"))
    restored = DriftReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert restored.features["income"].score == report.features["income"].score


def test_values_outside_the_reference_range_count_in_full() -> None:
    profile = build_reference(traffic(2000, 1))
    current = traffic(2000, 2)
    income = current.column("income").to_numpy() + 1e6  # all far beyond the max
    current = current.set_column(0, "income", pa.array(income))
    result = detect_drift(profile, current).features["income"]
    reference_income = traffic(2000, 1).column("income").to_numpy()
    exact = stats.wasserstein_distance(reference_income, income) / reference_income.std()
    assert result.score == pytest.approx(exact, rel=1e-9)
    assert result.bins[-1].startswith(">") and result.current[-1] == 1.0


def test_empty_current_column_does_not_drift() -> None:
    profile = build_reference(traffic(2000, 1))
    current = traffic(10, 2).set_column(0, "income", pa.nulls(10, pa.float64()))
    result = detect_drift(profile, current).features["income"]
    assert result.current_count == 0 and not result.drifted


def test_numeric_profile_is_used_by_name() -> None:
    profile = build_reference(traffic(100, 1))
    assert isinstance(profile["income"], NumericProfile)


def test_errors_name_the_column_and_the_fix() -> None:
    profile = build_reference(traffic(500, 1))
    with pytest.raises(ValidationError, match=r"Current data has no column 'city' .*Log every feature"):
        detect_drift(profile, traffic(10, 2).drop_columns(["city"]))
    with pytest.raises(ValidationError, match=r"Drift method 'ks' does not apply to categorical column 'city'"):
        detect_drift(profile, traffic(10, 2), config=DriftConfig(features={"city": FeatureDriftConfig(method="ks")}))
    with pytest.raises(ValidationError, match=r"Unknown drift method 'kl'. Use one of: ks, chisquare"):
        DriftConfig(numeric_method="kl")  # type: ignore[arg-type]
    wrong = traffic(10, 2).set_column(0, "income", pa.array(["high"] * 10))
    with pytest.raises(
        ValidationError,
        match=r"Column 'income' of the current data is string, which cannot be read as"
        r" numeric like the reference's double: cast it before logging",
    ):
        detect_drift(profile, wrong)
    with pytest.raises(ValidationError, match=r"drift_share must be in \(0, 1\], got 1.5"):
        DriftConfig(drift_share=1.5)


def test_categories_match_across_integer_and_float_columns() -> None:
    codes = np.tile([0, 1, 2], 1000)
    profile = build_reference(pa.table({"tier": codes}))
    as_floats = np.concatenate([codes.astype(float), [np.nan] * 10])
    result = detect_drift(profile, pa.table({"tier": as_floats})).features["tier"]
    assert result.bins == ("0", "1", "2") and result.current_count == 3000
    assert result.score == pytest.approx(0.0, abs=1e-7) and not result.drifted
