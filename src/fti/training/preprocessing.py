"""Model-dependent preprocessing, declared once and fitted on the training split only.

The fitted :class:`~sklearn.compose.ColumnTransformer` is the first step of the model's
:class:`~sklearn.pipeline.Pipeline`, so batch and online inference apply exactly the transformation
fitted at training.

Example:
    >>> config = PreprocessingConfig(scaling="minmax", encoding="ordinal")
    >>> config.numeric_impute
    'median'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, OneHotEncoder, OrdinalEncoder, StandardScaler

from fti.errors import ValidationError

__all__ = ["PreprocessingConfig", "build_pipeline", "build_preprocessor", "split_columns"]


class PreprocessingConfig(BaseModel):
    """How to turn raw feature columns into model inputs (readable from YAML).

    Columns not listed are typed by their dtype: numbers and booleans are numeric, everything else
    (strings, categories) is categorical.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    numeric_impute: Literal["mean", "median", "most_frequent", "constant"] = "median"
    numeric_fill_value: float = 0.0
    categorical_impute: Literal["most_frequent", "constant"] = "constant"
    categorical_fill_value: str = "missing"
    scaling: Literal["standard", "minmax", "none"] = "standard"
    encoding: Literal["onehot", "ordinal"] = "onehot"
    numeric_columns: list[str] | None = None
    categorical_columns: list[str] | None = None
    drop_columns: list[str] = []


def split_columns(config: PreprocessingConfig, X: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The numeric and categorical columns of ``X`` under ``config``, in frame order."""
    declared = [*(config.numeric_columns or []), *(config.categorical_columns or []), *config.drop_columns]
    missing = [column for column in declared if column not in X.columns]
    if missing:
        raise ValidationError(
            f"Preprocessing names column(s) {missing} that the training data lacks "
            f"(it has {list(X.columns)}). Fix the column names in the preprocessing config."
        )
    dropped = set(config.drop_columns)
    numeric = set(config.numeric_columns or [])
    categorical = set(config.categorical_columns or [])
    both = numeric & categorical
    if both:
        raise ValidationError(f"Column(s) {sorted(both)} are declared both numeric and categorical; pick one.")
    numeric_out: list[str] = []
    categorical_out: list[str] = []
    for column in X.columns:
        if column in dropped:
            continue
        if column in numeric or (column not in categorical and _is_numeric(X[column])):
            numeric_out.append(str(column))
        else:
            categorical_out.append(str(column))
    return numeric_out, categorical_out


def build_preprocessor(config: PreprocessingConfig, X: pd.DataFrame) -> ColumnTransformer:
    """An unfitted ColumnTransformer for ``X``'s columns, per ``config``."""
    numeric, categorical = split_columns(config, X)
    transformers: list[tuple[str, Any, Sequence[str]]] = []
    if numeric:
        transformers.append(("numeric", _numeric_steps(config), numeric))
    if categorical:
        transformers.append(("categorical", _categorical_steps(config), categorical))
    if not transformers:
        raise ValidationError("Preprocessing left no feature column: the training data has none after drop_columns.")
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=True)


def build_pipeline(config: PreprocessingConfig, estimator: Any, X: pd.DataFrame) -> Pipeline:
    """An unfitted ``Pipeline([("preprocess", ...), ("model", estimator)])`` for ``X``."""
    return Pipeline([("preprocess", build_preprocessor(config, X)), ("model", estimator)])


def _numeric_steps(config: PreprocessingConfig) -> Pipeline:
    imputer = SimpleImputer(strategy=config.numeric_impute, fill_value=config.numeric_fill_value)
    steps: list[tuple[str, Any]] = [("as_float", FunctionTransformer(_as_float, feature_names_out="one-to-one"))]
    steps.append(("impute", imputer))
    if config.scaling == "standard":
        steps.append(("scale", StandardScaler()))
    elif config.scaling == "minmax":
        steps.append(("scale", MinMaxScaler()))
    return Pipeline(steps)


def _categorical_steps(config: PreprocessingConfig) -> Pipeline:
    imputer = SimpleImputer(strategy=config.categorical_impute, fill_value=config.categorical_fill_value)
    encoder: Any
    if config.encoding == "onehot":
        # unseen categories become an all-zero row instead of an error at prediction
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    else:
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    as_text = FunctionTransformer(_as_text, feature_names_out="one-to-one")
    return Pipeline([("as_text", as_text), ("impute", imputer), ("encode", encoder)])


def _is_numeric(column: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column))


def _as_float(X: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Numbers as float64 with NaN for every kind of missing value (None, pd.NA, NaN)."""
    return pd.DataFrame(X).astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)


def _as_text(X: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.object_]]:
    """Categories as strings with NaN for missing values, so mixed or categorical dtypes encode alike."""
    frame = pd.DataFrame(X)
    text = frame.astype("string").astype(object)
    return text.where(frame.notna(), np.nan).to_numpy(dtype=object)
