"""Preprocessing is fitted on the training split only and applied identically at prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fti.errors import ValidationError
from fti.training import PreprocessingConfig, train
from fti.training.ports import Splits
from fti.training.preprocessing import build_preprocessor


def _frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    n = 200
    amount = rng.normal(100.0, 20.0, n)
    amount[::10] = np.nan
    country = rng.choice(["fr", "de", "it"], n).astype(object)
    country[::7] = None
    X = pd.DataFrame({"amount": amount, "count": rng.integers(0, 5, n), "country": country})
    y = pd.Series((np.nan_to_num(amount, nan=100.0) > 100).astype(int), name="label")
    return X, y


def _by_hand(train: pd.DataFrame, X: pd.DataFrame) -> np.ndarray:
    """Median imputation and standard scaling from the training rows; one-hot with a 'missing' category."""
    columns = []
    for name in ("amount", "count"):
        filled = X[name].astype(float).fillna(train[name].median())
        reference = train[name].astype(float).fillna(train[name].median())
        columns.append(((filled - reference.mean()) / reference.std(ddof=0)).to_numpy())
    categories = sorted(train["country"].fillna("missing").unique())
    country = X["country"].fillna("missing")
    columns += [(country == category).astype(float).to_numpy() for category in categories]
    return np.column_stack(columns)


def test_fitted_preprocessing_equals_a_hand_made_transform() -> None:
    X, y = _frame()
    data = Splits(train=(X.iloc[:150], y.iloc[:150]), test=(X.iloc[150:], y.iloc[150:]))

    result = train(data, "logistic_regression")

    applied = result.model.named_steps["preprocess"].transform(X.iloc[150:])
    np.testing.assert_allclose(applied, _by_hand(X.iloc[:150], X.iloc[150:]), rtol=1e-12, atol=1e-12)
    expected = result.model.named_steps["model"].predict(_by_hand(X.iloc[:150], X.iloc[150:]))
    np.testing.assert_array_equal(result.model.predict(X.iloc[150:]), expected)


@pytest.mark.parametrize("encoding", ["onehot", "ordinal"])
def test_unseen_categories_do_not_crash_prediction(encoding: str) -> None:
    X, y = _frame()
    config = PreprocessingConfig(encoding=encoding, scaling="minmax", numeric_impute="mean")
    result = train(Splits(train=(X, y)), "random_forest", params={"n_estimators": 10}, preprocessing=config)
    unseen = pd.DataFrame({"amount": [120.0, None], "count": [1, 2], "country": ["jp", None]})

    predicted = result.model.predict(unseen)

    assert predicted.shape == (2,)
    encoded = result.model.named_steps["preprocess"].transform(unseen)
    if encoding == "onehot":
        assert encoded[0, 2:].tolist() == [0.0, 0.0, 0.0, 0.0]  # no known country, not an error
    else:
        assert encoded[0, 2] == -1.0


def test_category_dtype_and_pandas_missing_values_are_handled() -> None:
    X, y = _frame()
    X = X.astype({"country": "category", "count": "Int64"})
    X.loc[3, "count"] = pd.NA

    result = train(
        Splits(train=(X, y)),
        "logistic_regression",
        preprocessing=PreprocessingConfig(numeric_impute="constant", numeric_fill_value=-1.0),
    )

    assert result.model.predict(X).shape == (len(X),)


def test_declared_columns_override_dtypes_and_drop() -> None:
    X, _ = _frame()
    config = PreprocessingConfig(categorical_columns=["count"], drop_columns=["amount"], encoding="ordinal")

    preprocessor = build_preprocessor(config, X).fit(X)

    assert list(preprocessor.get_feature_names_out()) == ["categorical__count", "categorical__country"]


def test_unknown_column_is_named() -> None:
    X, _ = _frame()
    with pytest.raises(
        ValidationError, match=r"Preprocessing names column\(s\) \['amout'\] that the training data lacks"
    ):
        build_preprocessor(PreprocessingConfig(drop_columns=["amout"]), X)


def test_config_rejects_unknown_strategy() -> None:
    with pytest.raises(ValueError, match="numeric_impute"):
        PreprocessingConfig.model_validate({"numeric_impute": "mode"})
