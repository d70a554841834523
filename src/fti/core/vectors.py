"""Vector columns (embeddings): fixed-size lists of floats, and the check that every row has the dimension.

Offline and online stores both hold a vector column as ``fixed_size_list<float32 or float64>[n]``; lists
of numbers (a pandas column of NumPy arrays arrives as ``list<float>``) are cast to it once every row is
known to have ``n`` values.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fti.errors import ValidationError

__all__ = ["check_vector_lengths", "is_vector_type"]


def is_vector_type(data_type: pa.DataType) -> bool:
    """Whether ``data_type`` is a fixed-size list of float32 or float64 (a vector column)."""
    return bool(
        pa.types.is_fixed_size_list(data_type)
        and (pa.types.is_float32(data_type.value_type) or pa.types.is_float64(data_type.value_type))
    )


def check_vector_lengths(values: Any, size: int, name: str) -> None:
    """Refuse a list column whose non-null rows are not all ``size`` long, naming the first bad row.

    Raises:
        ValidationError: the column, the expected dimension, and the first row of another length.
    """
    if pa.types.is_fixed_size_list(values.type) and values.type.list_size == size:
        return
    if not (
        pa.types.is_list(values.type) or pa.types.is_large_list(values.type) or pa.types.is_fixed_size_list(values.type)
    ):
        raise ValidationError(f"Column '{name}' holds vectors of {size} dimensions, got {values.type} values.")
    lengths = pc.list_value_length(values)
    wrong = pc.fill_null(pc.not_equal(lengths, size), False)
    if pc.any(wrong).as_py():
        row = int(pc.index(wrong, True).as_py())
        raise ValidationError(
            f"Column '{name}' holds vectors of {size} dimensions, but row {row} has {lengths[row].as_py()}: "
            "embed every row with the same model (or create a new version of the feature group for another "
            "dimension). Nothing was written."
        )
