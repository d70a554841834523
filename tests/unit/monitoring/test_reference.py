"""The reference profile: statistics equal numpy's, kinds chosen as documented, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from fti.errors import ValidationError
from fti.monitoring.stats.reference import (
    QUANTILES,
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    build_reference,
)


@pytest.fixture
def training() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = 3000
    amount = rng.lognormal(3.0, 1.0, rows)
    amount[::100] = np.nan
    return pd.DataFrame(
        {
            "amount": amount,
            "age": rng.integers(18, 90, rows),
            "flag": rng.integers(0, 2, rows),
            "city": rng.choice(["paris", "rome", "oslo", "kyiv"], rows, p=[0.4, 0.3, 0.2, 0.1]),
            "ts": pd.date_range("2026-01-01", periods=rows, freq="min"),
        }
    )


def test_numeric_statistics_match_numpy(training: pd.DataFrame) -> None:
    profile = build_reference(training, sample_size=500)
    amount = profile["amount"]
    assert isinstance(amount, NumericProfile)
    values = training["amount"].dropna().to_numpy()
    assert amount.count == values.size
    assert amount.nulls == 30
    assert amount.min == values.min() and amount.max == values.max()
    assert amount.mean == pytest.approx(values.mean())
    assert amount.std == pytest.approx(values.std())
    assert amount.quantiles == pytest.approx(np.quantile(values, QUANTILES))
    assert sum(amount.counts) == values.size
    assert len(amount.counts) == len(amount.edges) - 1 == 100
    assert amount.edges[0] == values.min() and amount.edges[-1] == values.max()
    assert len(amount.sample) == 500 and not amount.is_sample_complete
    assert set(amount.sample) <= set(values)


def test_kinds_follow_type_and_distinct_values(training: pd.DataFrame) -> None:
    profile = build_reference(training)
    kinds = {name: column.kind for name, column in profile.columns.items()}
    # two distinct numbers make a category; timestamps are not features
    assert kinds == {"amount": "numeric", "age": "numeric", "flag": "categorical", "city": "categorical"}
    assert profile.schema["ts"].startswith("timestamp[")
    forced = build_reference(training, categorical=["age"], numerical=["flag"])
    assert forced["age"].kind == "categorical" and forced["flag"].kind == "numeric"


def test_categories_keep_top_k_and_count_the_rest(training: pd.DataFrame) -> None:
    city = build_reference(training, top_k=2)["city"]
    assert isinstance(city, CategoricalProfile)
    counts = training["city"].value_counts()
    assert city.categories == tuple(counts.index[:2])
    assert city.counts == tuple(int(count) for count in counts.iloc[:2])
    assert city.other == int(counts.iloc[2:].sum())
    assert city.distinct == 4 and not city.is_complete


def test_small_reference_keeps_every_value(training: pd.DataFrame) -> None:
    amount = build_reference(training.head(400))["amount"]
    assert isinstance(amount, NumericProfile)
    assert amount.is_sample_complete
    assert sorted(amount.sample) == sorted(training["amount"].head(400).dropna())


def test_profile_round_trips_through_json(training: pd.DataFrame) -> None:
    profile = build_reference(pa.Table.from_pandas(training))
    restored = ReferenceProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert restored == profile


def test_constant_numeric_column_gets_one_bin() -> None:
    profile = build_reference(pd.DataFrame({"x": [2.5] * 50}), numerical=["x"])
    x = profile["x"]
    assert isinstance(x, NumericProfile)
    assert x.edges == (2.5, 2.5) and x.counts == (50,) and x.std == 0.0


def test_errors_name_the_column(training: pd.DataFrame) -> None:
    with pytest.raises(ValidationError, match=r"Reference data has no column 'nope' .*Fix the column names"):
        build_reference(training, columns=["amount", "nope"])
    with pytest.raises(ValidationError, match=r"Column 'city' has type large_string, not a number"):
        build_reference(training, numerical=["city"])
    with pytest.raises(ValidationError, match=r"Column 'x' has no non-null values in the reference"):
        build_reference(pd.DataFrame({"x": [np.nan] * 10}), numerical=["x"])
    with pytest.raises(ValidationError, match=r"Column 'zip' is not in the reference profile"):
        build_reference(training)["zip"]
    with pytest.raises(ValidationError, match=r"Reference profile format 99 is not supported"):
        ReferenceProfile.from_dict({"format": 99})
