"""Current data as codes against a reference profile, computed once per column and counted per row range.

A numeric value becomes the index of its reference bin (or "below the minimum", "above the maximum",
"missing"); a categorical value becomes the index of its reference category (or "other", "missing"). One
``np.bincount`` over a row range then gives everything a drift check needs for that range, so a check over
many windows reads each column once, not once per window.

Codes of a numeric column: ``0`` missing (null or NaN), ``1`` below the reference minimum, ``2 + i`` the
reference bin ``i`` (``edges[i] <= x < edges[i + 1]``, the last bin also holds the maximum), and
``2 + bins`` above the maximum. Codes of a categorical column: ``0`` missing, ``1 + i`` the reference's
``i``-th listed category, ``1 + K`` any other value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.monitoring.stats.columns import category_strings
from fti.monitoring.stats.reference import BinnedValues, CategoricalProfile, ColumnProfile, NumericProfile

__all__ = ["CategoricalCodes", "ColumnCodes", "NumericCodes", "encode_column"]


@dataclass(frozen=True, slots=True)
class NumericCodes:
    """The reference bin of every row of a numeric column, with the values (missing ones as 0.0)."""

    profile: NumericProfile
    codes: np.ndarray[Any, Any]
    values: np.ndarray[Any, Any]

    def binned(self, start: int, stop: int) -> BinnedValues:
        """The rows ``start:stop`` counted and summed into the reference bins."""
        inner = len(self.profile.edges) - 1
        codes = self.codes[start:stop]
        counts = np.bincount(codes, minlength=inner + 3)
        sums = np.bincount(codes, weights=self.values[start:stop], minlength=inner + 3)
        return BinnedValues(
            counts=counts[2 : inner + 2],
            sums=sums[2 : inner + 2],
            below=int(counts[1]),
            above=int(counts[inner + 2]),
            below_sum=float(sums[1]),
            above_sum=float(sums[inner + 2]),
        )

    def present(self, start: int, stop: int) -> np.ndarray[Any, Any]:
        """The non-missing values of the rows ``start:stop`` (for the KS test)."""
        values: np.ndarray[Any, Any] = self.values[start:stop][self.codes[start:stop] != 0]
        return values


@dataclass(frozen=True, slots=True)
class CategoricalCodes:
    """The reference category of every row of a categorical column."""

    profile: CategoricalProfile
    codes: np.ndarray[Any, Any]

    def counts(self, start: int, stop: int) -> np.ndarray[Any, Any]:
        """Counts of the rows ``start:stop`` per listed category, then one for every other value."""
        listed = len(self.profile.categories)
        return np.bincount(self.codes[start:stop], minlength=listed + 2)[1:].astype(np.float64)


ColumnCodes = NumericCodes | CategoricalCodes


def encode_column(profile: ColumnProfile, column: pa.ChunkedArray | pa.Array) -> ColumnCodes:
    """The codes of every row of ``column`` against its reference profile, in one vectorized pass."""
    if isinstance(profile, NumericProfile):
        return _numeric_codes(profile, column)
    return _categorical_codes(profile, column)


def _numeric_codes(profile: NumericProfile, column: pa.ChunkedArray | pa.Array) -> NumericCodes:
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    values = np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    edges = np.asarray(profile.edges, dtype=np.float64)
    inner = len(edges) - 1
    # NaN sorts after every edge, so it lands in "above" first and is moved to "missing" below
    codes = np.searchsorted(edges, values, side="right").astype(np.int64) + 1
    codes[values == edges[-1]] = inner + 1
    missing = np.isnan(values)
    if missing.any():
        codes[missing] = 0
        values = np.where(missing, 0.0, values)
    return NumericCodes(profile, codes, values)


def _categorical_codes(profile: CategoricalProfile, column: pa.ChunkedArray | pa.Array) -> CategoricalCodes:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    names = category_strings(encoded.dictionary)
    listed = len(profile.categories)
    position = pc.index_in(names, value_set=pa.array(profile.categories, pa.string()))
    # each dictionary entry's code: its listed category, "other", or missing for null and NaN
    entry_codes = np.where(
        np.asarray(pc.is_null(names).to_numpy(zero_copy_only=False)),
        0,
        np.asarray(pc.fill_null(position, listed).to_numpy(zero_copy_only=False), dtype=np.int64) + 1,
    ).astype(np.int64)
    indices = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    codes = np.concatenate([entry_codes, [0]])[indices]  # index -1 (a null row) takes the appended 0
    return CategoricalCodes(profile, codes)
