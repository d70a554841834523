"""What a request must hold before any model sees it, so that every request the server accepts is one the
request log and monitoring can read.

The models' signatures check the features they read (a missing, extra or mistyped column is a 422 from the
model). What no signature covers is checked here, in one vectorized pass per column:

- an entity key (routing only, or read by a model without a signature) must be of its declared type
  (``"cc_num:int64"``, or the type of the deployment's feature view key), else an integer or a string, and
  never null; a whole number written as a float (``4242.0``) counts as an integer;
- a column a model without a signature reads must hold numbers, booleans or strings, of one kind.

Without this a request with ``"cc_num": "a"`` among integer keys would be answered, logged, and break every
later read of the log's features.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fti.errors import ValidationError

if TYPE_CHECKING:
    from fti.core.deployments import Deployment
    from fti.inference.ports import ServedModel

__all__ = ["check_request"]

_INT64_MAX = np.iinfo(np.int64).max
#: pandas' inferred kinds of one-kind feature columns (nulls allowed)
_PLAIN_KINDS = frozenset({"integer", "floating", "mixed-integer-float", "decimal", "boolean", "string", "empty"})
_KEY_KINDS = {"int64": ("an integer", frozenset({"integer"})), "string": ("a string", frozenset({"string"}))}


def check_request(
    deployment: Deployment, models: Sequence[ServedModel], frame: pd.DataFrame, keys: pd.DataFrame | None
) -> None:
    """Refuse ``frame`` (the models' inputs) and ``keys`` (its entity keys) when the log could not keep them.

    Raises:
        ValidationError: naming the column, the first row at fault, its value and what was expected.
    """
    checked = {column for model in models for column, _ in model.input_schema}
    unchecked = any(not model.input_schema for model in models)
    declared = dict(deployment.entity_key_types)
    if keys is not None:
        for key in deployment.entity_keys:
            if key in keys.columns and key not in checked:
                _check_key(deployment.name, key, keys[key], declared.get(key))
    if unchecked:
        for column in frame.columns:
            if column not in checked and column not in deployment.entity_keys:
                _check_plain(deployment.name, str(column), frame[column])


def _check_key(deployment: str, key: str, values: pd.Series[Any], declared: str | None) -> None:
    what, kinds = _KEY_KINDS[declared] if declared is not None else ("an integer or a string", frozenset())
    nulls = values.isna().to_numpy()
    if nulls.any():
        row = int(np.flatnonzero(nulls)[0])
        raise ValidationError(
            f"Deployment '{deployment}' got a null entity key '{key}' in row {row}: send {what} in every row."
        )
    kind = pd.api.types.infer_dtype(values, skipna=False)
    integers = declared in (None, "int64")
    if integers and kind in ("floating", "mixed-integer-float") and _are_whole(values):
        kind = "whole"  # 4242.0 (a client's numbers through a float matrix): logged as a number, read as int64
    fits = kind in (*kinds, "whole") if declared is not None else kind in ("integer", "string", "whole")
    if fits and kind == "integer" and not _fits_int64(values):
        fits = False
    if not fits:
        row, value = _first_misfit(values, declared)
        declared_as = f" (declared as {declared})" if declared is not None else ""
        raise ValidationError(
            f"Deployment '{deployment}' expects entity key '{key}' as {what}{declared_as}: row {row} has {value!r}. "
            f"Send '{key}' as {what} in every row and every request."
        )


def _fits_int64(values: pd.Series[Any]) -> bool:
    if values.dtype.kind == "i":
        return True
    if values.dtype.kind == "u":
        return bool(values.max() <= _INT64_MAX)
    return False


def _are_whole(values: pd.Series[Any]) -> bool:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    return bool(np.isfinite(numbers).all() and (np.abs(numbers) < 2.0**63).all() and (numbers % 1 == 0).all())


def _first_misfit(values: pd.Series[Any], declared: str | None) -> tuple[int, Any]:
    """The first row whose value is not of the key's type (only on the error path)."""
    items = values.tolist()
    first = items[0]
    for row, value in enumerate(items):
        if declared == "int64" or (declared is None and _is_whole(first)):
            if not _is_whole(value):
                return row, value
        elif not isinstance(value, str):
            return row, value
    return 0, first


def _is_whole(value: Any) -> bool:
    if isinstance(value, float | np.floating):
        number = float(value)
        return math.isfinite(number) and number.is_integer() and abs(number) < 2.0**63
    return _is_int(value)


def _is_int(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        return False
    return bool(-_INT64_MAX - 1 <= value <= _INT64_MAX)


def _check_plain(deployment: str, column: str, values: pd.Series[Any]) -> None:
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in _PLAIN_KINDS:
        return
    row = next(
        (row for row, value in enumerate(values.tolist()) if isinstance(value, list | dict | tuple)),
        None,
    )
    detail = f"row {row} has {values.iloc[row]!r}" if row is not None else f"its rows mix types ({kind})"
    raise ValidationError(
        f"Deployment '{deployment}' got column '{column}' whose {detail}: send numbers, booleans or strings, "
        "one kind per column."
    )
