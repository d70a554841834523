"""Column access shared by the monitors: accept Arrow or pandas, read numbers and categories vectorized.

Numbers are read as float64 numpy arrays with nulls (and NaN) dropped; categories are read as Arrow
strings, so a reference built from ``int`` codes and a current window holding the same codes compare
equal. Both sides of every comparison go through these functions, which keeps them consistent.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Literal, Protocol, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.errors import ValidationError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

__all__ = [
    "ArrowStreamExporter",
    "ColumnKind",
    "TableLike",
    "as_table",
    "category_counts",
    "category_strings",
    "numeric_values",
    "type_family",
]

ColumnKind = Literal["numeric", "categorical"]


class ArrowStreamExporter(Protocol):
    """Tabular data that exports itself as an Arrow stream (a Polars DataFrame, say)."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The Arrow C stream capsule."""


TableLike = Union["pa.Table", "pa.RecordBatch", "pd.DataFrame", ArrowStreamExporter]
"""Tabular data the statistics read: an Arrow table or batch, a pandas DataFrame, or anything that exports an Arrow
stream (a Polars DataFrame)."""

#: A categorical value that stands for every category outside a reference's top K.
OTHER = "__other__"


def as_table(data: TableLike, *, what: str = "data") -> pa.Table:
    """Return ``data`` (an Arrow table, a pandas or Polars DataFrame) as an Arrow table."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    try:
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            return pa.Table.from_pandas(data, preserve_index=False)
        if hasattr(data, "__arrow_c_stream__"):
            return pa.table(data)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValidationError(f"Cannot read {what} as an Arrow table: {exc}. Pass columns of one type each.") from exc
    raise ValidationError(
        f"Cannot read {what} of type {type(data).__name__}: pass a pyarrow Table or a pandas/Polars DataFrame."
    )


def type_family(data_type: pa.DataType) -> str:
    """The comparable family of an Arrow type: numeric, boolean, string, temporal or other."""
    if pa.types.is_dictionary(data_type):
        return type_family(data_type.value_type)
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type) or pa.types.is_decimal(data_type):
        return "numeric"
    if pa.types.is_boolean(data_type):
        return "boolean"
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "string"
    if pa.types.is_temporal(data_type):
        return "temporal"
    return "other"


def numeric_values(column: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.float64]:
    """The non-null, non-NaN values of a numeric column as float64."""
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    values = pc.drop_null(pc.cast(column, pa.float64()))
    array: npt.NDArray[np.float64] = np.asarray(values.to_numpy(), dtype=np.float64)
    return array[~np.isnan(array)]


def category_strings(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Values read as category names: strings, with whole floats as integers (``1.0`` names ``"1"``), NaN as null."""
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    if pa.types.is_floating(column.type):
        column = pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)
        # 1.0 and 1 must name the same category on both sides
        if pc.all(pc.fill_null(pc.equal(column, pc.floor(column)), True)).as_py():
            with contextlib.suppress(pa.ArrowInvalid):  # whole numbers beyond int64 stay floats
                column = pc.cast(column, pa.int64())
    if pa.types.is_string(column.type):
        return column
    return pc.cast(column, pa.string())


def category_counts(column: pa.ChunkedArray | pa.Array) -> dict[str, int]:
    """Counts of each non-null value of a column read as categories (values are strings).

    Values are counted in their own type and only the distinct ones are turned into strings, which keeps
    numeric and boolean categories as fast as strings.
    """
    counted = pc.value_counts(column)
    names = category_strings(counted.field("values")).to_pylist()
    counts: dict[str, int] = {}
    for name, count in zip(names, counted.field("counts").to_pylist(), strict=True):
        if name is not None:  # nulls and NaN
            counts[name] = counts.get(name, 0) + count
    return counts


def null_count(column: pa.ChunkedArray | pa.Array) -> int:
    """Nulls in a column, counting NaN in floating columns as null."""
    nulls = int(column.null_count)
    if pa.types.is_floating(column.type):
        nulls += int(pc.sum(pc.is_nan(pc.drop_null(column))).as_py() or 0)
    return nulls
