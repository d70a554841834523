"""Model signatures: inferred from an input example or training data, enforced before every prediction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from fti.core.registry import ColumnSpec, Signature
from fti.errors import ValidationError

__all__ = ["as_arrow", "enforce_signature", "infer_signature", "output_spec", "to_signature"]


def as_arrow(data: Any, *, column_names: list[str] | None = None) -> pa.Table:
    """Tabular input (pandas, Arrow, Polars, a dict of columns or a 2-D numpy array) as an Arrow table."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pd.DataFrame):
        try:
            return pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            raise _mixed_column(data, exc) from None
    if hasattr(data, "to_arrow"):
        table = data.to_arrow()
        if isinstance(table, pa.Table):
            return table
    if isinstance(data, Mapping):
        return pa.table({str(key): np.asarray(value) for key, value in data.items()})
    if isinstance(data, np.ndarray) and data.ndim == 2:
        names = column_names or [f"x{index}" for index in range(data.shape[1])]
        return pa.table({name: data[:, index] for index, name in enumerate(names)})
    raise ValidationError(
        f"Expected a table (pandas or Polars DataFrame, Arrow table, dict of columns or 2-D numpy array), "
        f"got {type(data).__name__}."
    )


def _mixed_column(frame: pd.DataFrame, exc: Exception) -> ValidationError:
    """The error for a frame Arrow cannot take: the first column whose values mix types, named."""
    for name in frame.columns:
        try:
            pa.array(frame[name], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as column_exc:
            kinds = sorted({type(value).__name__ for value in frame[name].head(1000)})
            return ValidationError(
                f"Column {name!r} mixes values of types {', '.join(kinds)} across rows ({column_exc}): send one type "
                "per column."
            )
    return ValidationError(f"The input is not a table of one type per column: {exc}")


def infer_signature(example: Any, prediction: Any = None, *, column_names: list[str] | None = None) -> Signature:
    """The signature of a model that takes ``example``'s columns and returned ``prediction`` for it."""
    table = as_arrow(example, column_names=column_names)
    inputs = tuple(ColumnSpec(field.name, str(_plain(field.type))) for field in table.schema)
    return Signature(inputs=inputs, outputs=output_spec(prediction))


def output_spec(prediction: Any) -> tuple[ColumnSpec, ...]:
    """Describe a model's output: one column per output column, or 'prediction' for a vector."""
    if prediction is None:
        return ()
    if isinstance(prediction, pd.DataFrame | pa.Table):
        return tuple(ColumnSpec(field.name, str(_plain(field.type))) for field in as_arrow(prediction).schema)
    array = np.asarray(prediction)
    try:
        kind = pa.from_numpy_dtype(array.dtype)
    except (pa.ArrowNotImplementedError, TypeError):
        kind = pa.string()
    if array.ndim == 2 and array.shape[1] > 1:
        return tuple(ColumnSpec(f"prediction_{index}", str(kind)) for index in range(array.shape[1]))
    return (ColumnSpec("prediction", str(kind)),)


def to_signature(value: Any) -> Signature:
    """Accept a Signature, an Arrow schema, or a dict ``{"inputs": [...], "outputs": [...]}``."""
    if isinstance(value, Signature):
        return value
    if isinstance(value, pa.Schema):
        return Signature(inputs=tuple(ColumnSpec(field.name, str(_plain(field.type))) for field in value))
    if isinstance(value, Mapping) and "inputs" in value:
        return Signature.from_dict(dict(value))
    raise ValidationError(
        f"signature must be a fti Signature, a pyarrow.Schema or a dict with 'inputs', got {type(value).__name__}."
    )


def enforce_signature(signature: Signature, data: Any, *, model: str) -> pd.DataFrame:
    """Check ``data`` against the signature; return it as a DataFrame with the expected columns in order.

    Integer columns are accepted where floating point is expected (and converted); any other type
    mismatch, a missing or an extra column is a ValidationError naming the column.
    """
    names = [column.name for column in signature.inputs]
    table = as_arrow(data, column_names=names)
    present = table.column_names
    expected = ", ".join(names)
    for column in signature.inputs:
        if column.name not in present:
            raise ValidationError(
                f"{model} expects column '{column.name}' ({column.type}), but the input has no such column. "
                f"Expected columns: {expected}."
            )
    for name in present:
        if name not in names:
            raise ValidationError(f"{model} got unexpected column '{name}': remove it. Expected columns: {expected}.")
    arrays = []
    for column in signature.inputs:
        array = table.column(column.name)
        arrays.append(_conform(array, column, model))
    frame: pd.DataFrame = pa.table(arrays, names=names).to_pandas()
    return frame


def _conform(array: pa.ChunkedArray, column: ColumnSpec, model: str) -> pa.ChunkedArray:
    actual = _plain(array.type)
    if str(actual) == column.type:
        return array if actual == array.type else array.cast(actual)
    expected_family = _family_of_name(column.type)
    actual_family = _family(actual)
    compatible = actual_family == expected_family or (actual_family, expected_family) in (
        ("integer", "floating"),
        ("null", expected_family),
    )
    if not compatible:
        raise ValidationError(
            f"{model} expects column '{column.name}' as {column.type}, got {actual}. Cast the column to {column.type}."
        )
    try:
        return array.cast(pa.type_for_alias(column.type)) if _is_alias(column.type) else array
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ValidationError(
            f"{model} expects column '{column.name}' as {column.type}; its values cannot be converted: {exc}"
        ) from exc


def _plain(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(kind):
        return _plain(kind.value_type)
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pa.string()
    return kind


def _family(kind: pa.DataType) -> str:
    checks = (
        ("integer", pa.types.is_integer),
        ("floating", pa.types.is_floating),
        ("boolean", pa.types.is_boolean),
        ("string", pa.types.is_string),
        ("timestamp", pa.types.is_timestamp),
        ("date", pa.types.is_date),
        ("null", pa.types.is_null),
    )
    for family, check in checks:
        if check(kind):
            return family
    return str(kind)


def _is_alias(name: str) -> bool:
    try:
        pa.type_for_alias(name)
    except ValueError:
        return False
    return True


def _family_of_name(name: str) -> str:
    if _is_alias(name):
        return _family(pa.type_for_alias(name))
    if name.startswith("timestamp"):
        return "timestamp"
    return name
