"""The reference profile: compact, serializable statistics of training data that live data is checked against.

Built once, in one vectorized pass per column, from the training data. Every drift and data-quality check
reads only this profile (never the training data again):

- a numeric column keeps count, nulls, min, max, mean, std, a few quantiles, a histogram over quantile bins
  (edges and counts, ``bins`` of them by default 100) and a sample of at most ``sample_size`` values for the
  KS test on small references (a reference of at most ``sample_size`` rows is kept whole, so the test is exact);
- a categorical column keeps the counts of its ``top_k`` most frequent values and one count for the rest.

A numeric column with at most ``categorical_max_distinct`` (5) distinct values is treated as categorical.

Example:
    >>> profile = build_reference(training_df)  # doctest: +SKIP
    >>> restored = ReferenceProfile.from_dict(json.loads(json.dumps(profile.to_dict())))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.errors import ValidationError
from fti.monitoring.stats.columns import (
    OTHER,
    ColumnKind,
    TableLike,
    as_table,
    category_counts,
    null_count,
    numeric_values,
    type_family,
)

__all__ = [
    "QUANTILES",
    "BinnedValues",
    "CategoricalProfile",
    "NumericProfile",
    "ReferenceProfile",
    "bin_values",
    "build_reference",
]

#: The quantiles kept for every numeric column (the histogram keeps the fine-grained shape).
QUANTILES: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)

_FORMAT = 1


@dataclass(frozen=True, slots=True)
class NumericProfile:
    """Statistics of one numeric column of the reference.

    ``edges`` are the reference's quantile bin edges (``edges[0]`` is the min, ``edges[-1]`` the max) and
    ``counts`` the reference values in each bin; ``std`` is the population standard deviation (ddof 0).
    """

    name: str
    dtype: str
    count: int
    nulls: int
    min: float
    max: float
    mean: float
    std: float
    quantiles: tuple[float, ...]
    edges: tuple[float, ...]
    counts: tuple[int, ...]
    #: mean of the reference values in each bin
    means: tuple[float, ...]
    sample: tuple[float, ...]
    #: True when ``sample`` holds every non-null value of the reference
    is_sample_complete: bool

    kind: ColumnKind = field(default="numeric", init=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of this profile."""
        return {
            "kind": "numeric",
            "name": self.name,
            "dtype": self.dtype,
            "count": self.count,
            "nulls": self.nulls,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "std": self.std,
            "quantiles": dict(zip((str(q) for q in QUANTILES), self.quantiles, strict=True)),
            "edges": list(self.edges),
            "counts": list(self.counts),
            "means": list(self.means),
            "sample": list(self.sample),
            "is_sample_complete": self.is_sample_complete,
        }


@dataclass(frozen=True, slots=True)
class CategoricalProfile:
    """Value counts of one categorical column of the reference: the top K values and the rest as one count.

    Values are kept as strings (numbers cast the same way on both sides of a comparison).
    """

    name: str
    dtype: str
    count: int
    nulls: int
    categories: tuple[str, ...]
    counts: tuple[int, ...]
    #: non-null values outside the top K
    other: int
    distinct: int

    kind: ColumnKind = field(default="categorical", init=False)

    @property
    def is_complete(self) -> bool:
        """Whether every value seen in the reference is listed (no value fell outside the top K)."""
        return self.other == 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of this profile."""
        return {
            "kind": "categorical",
            "name": self.name,
            "dtype": self.dtype,
            "count": self.count,
            "nulls": self.nulls,
            "categories": list(self.categories),
            "counts": list(self.counts),
            "other": self.other,
            "distinct": self.distinct,
        }


ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True, slots=True)
class ReferenceProfile:
    """The reference statistics of a dataset: one profile per feature column plus the full schema.

    ``schema`` maps every column of the reference (profiled or not) to its Arrow type name, for the schema
    checks of data quality.
    """

    rows: int
    columns: Mapping[str, ColumnProfile]
    schema: Mapping[str, str]

    def __getitem__(self, name: str) -> ColumnProfile:
        try:
            return self.columns[name]
        except KeyError:
            raise ValidationError(
                f"Column '{name}' is not in the reference profile (profiled: {', '.join(self.columns) or 'none'}). "
                "Rebuild the reference with that column."
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` restores it."""
        return {
            "format": _FORMAT,
            "rows": self.rows,
            "schema": dict(self.schema),
            "columns": [profile.to_dict() for profile in self.columns.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        """Restore a profile written by :meth:`to_dict`."""
        if data.get("format") != _FORMAT:
            raise ValidationError(
                f"Reference profile format {data.get('format')!r} is not supported (expected {_FORMAT}). "
                "Rebuild the reference with this version of fti."
            )
        columns: dict[str, ColumnProfile] = {}
        for item in data["columns"]:
            columns[item["name"]] = _profile_from_dict(item)
        return cls(rows=int(data["rows"]), columns=columns, schema=dict(data["schema"]))


def _profile_from_dict(item: Mapping[str, Any]) -> ColumnProfile:
    if item["kind"] == "numeric":
        return NumericProfile(
            name=item["name"],
            dtype=item["dtype"],
            count=int(item["count"]),
            nulls=int(item["nulls"]),
            min=float(item["min"]),
            max=float(item["max"]),
            mean=float(item["mean"]),
            std=float(item["std"]),
            quantiles=tuple(float(item["quantiles"][str(q)]) for q in QUANTILES),
            edges=tuple(float(value) for value in item["edges"]),
            counts=tuple(int(value) for value in item["counts"]),
            means=tuple(float(value) for value in item["means"]),
            sample=tuple(float(value) for value in item["sample"]),
            is_sample_complete=bool(item["is_sample_complete"]),
        )
    return CategoricalProfile(
        name=item["name"],
        dtype=item["dtype"],
        count=int(item["count"]),
        nulls=int(item["nulls"]),
        categories=tuple(str(value) for value in item["categories"]),
        counts=tuple(int(value) for value in item["counts"]),
        other=int(item["other"]),
        distinct=int(item["distinct"]),
    )


def build_reference(
    data: TableLike,
    *,
    columns: Iterable[str] | None = None,
    categorical: Iterable[str] = (),
    numerical: Iterable[str] = (),
    bins: int = 100,
    top_k: int = 100,
    sample_size: int = 1000,
    categorical_max_distinct: int = 5,
    seed: int = 0,
) -> ReferenceProfile:
    """Profile the reference (training) data once.

    Args:
        data: an Arrow table or a pandas/Polars DataFrame.
        columns: the columns to profile; by default every numeric, boolean and string column.
        categorical: columns to treat as categorical whatever their type.
        numerical: numeric columns to treat as numeric even with few distinct values.
        bins: quantile bins of each numeric histogram.
        top_k: categories kept per categorical column; the rest are counted as one.
        sample_size: values kept per numeric column for the KS test.
        categorical_max_distinct: numeric columns with at most this many distinct values are categorical.
        seed: seed of the sample drawn when a column has more than ``sample_size`` values.

    Returns:
        The reference profile.

    Raises:
        ValidationError: a named column is missing, or cannot be profiled as asked.
    """
    table = as_table(data, what="reference data")
    if bins < 1 or top_k < 1 or sample_size < 1:
        raise ValidationError(f"bins ({bins}), top_k ({top_k}) and sample_size ({sample_size}) must be at least 1.")
    forced_categorical, forced_numerical = set(categorical), set(numerical)
    names = _select_columns(table, columns, forced_categorical | forced_numerical)
    rng = np.random.default_rng(seed)
    profiles: dict[str, ColumnProfile] = {}
    for name in names:
        column = table.column(name)
        if name in forced_categorical:
            profiles[name] = _categorical_profile(name, column, top_k)
            continue
        family = type_family(column.type)
        is_numeric = family == "numeric"
        if name in forced_numerical and not is_numeric:
            raise ValidationError(
                f"Column '{name}' has type {column.type}, not a number: it cannot be profiled as numerical. "
                "Cast it or list it under categorical."
            )
        if is_numeric and (name in forced_numerical or _distinct(column) > categorical_max_distinct):
            profiles[name] = _numeric_profile(name, column, bins, sample_size, rng)
        else:
            profiles[name] = _categorical_profile(name, column, top_k)
    schema = {field.name: str(field.type) for field in table.schema}
    return ReferenceProfile(rows=table.num_rows, columns=profiles, schema=schema)


def _select_columns(table: pa.Table, columns: Iterable[str] | None, forced: set[str]) -> list[str]:
    available = table.column_names
    if columns is None:
        return [
            name
            for name in available
            if name in forced or type_family(table.schema.field(name).type) in {"numeric", "boolean", "string"}
        ]
    names = list(columns)
    missing = [name for name in [*names, *sorted(forced - set(names))] if name not in available]
    if missing:
        raise ValidationError(
            f"Reference data has no column {', '.join(repr(name) for name in missing)} "
            f"(columns: {', '.join(available)}). Fix the column names."
        )
    return names


def _distinct(column: pa.ChunkedArray) -> int:
    return int(pc.count_distinct(column, mode="only_valid").as_py())


def _numeric_profile(
    name: str, column: pa.ChunkedArray, bins: int, sample_size: int, rng: np.random.Generator
) -> NumericProfile:
    values = numeric_values(column)
    nulls = null_count(column)
    if values.size == 0:
        raise ValidationError(
            f"Column '{name}' has no non-null values in the reference: it cannot be profiled. Drop it or fill it."
        )
    values.sort()
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, bins + 1)))
    if edges.size == 1:  # a constant column: one bin of width zero holds every value
        edges = np.repeat(edges, 2)
    binned = bin_values(values, edges)
    counts = binned.counts
    # the mean of each bin makes the binned Wasserstein distance exact wherever the CDFs do not cross
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, binned.sums / np.maximum(counts, 1), (edges[:-1] + edges[1:]) / 2)
    is_complete = values.size <= sample_size
    sample = values if is_complete else np.sort(rng.choice(values, size=sample_size, replace=False))
    return NumericProfile(
        name=name,
        dtype=str(column.type),
        count=int(values.size),
        nulls=nulls,
        min=float(values[0]),
        max=float(values[-1]),
        mean=float(values.mean()),
        std=float(values.std()),
        quantiles=tuple(float(q) for q in np.quantile(values, QUANTILES)),
        edges=tuple(float(edge) for edge in edges),
        counts=tuple(int(count) for count in counts),
        means=tuple(float(mean) for mean in means),
        sample=tuple(float(value) for value in sample),
        is_sample_complete=is_complete,
    )


def _categorical_profile(name: str, column: pa.ChunkedArray, top_k: int) -> CategoricalProfile:
    counts = category_counts(column)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = ranked[:top_k]
    if any(value == OTHER for value, _ in kept):
        raise ValidationError(f"Column '{name}' holds the reserved value {OTHER!r}. Rename that category.")
    return CategoricalProfile(
        name=name,
        dtype=str(column.type),
        count=sum(counts.values()),
        nulls=null_count(column),
        categories=tuple(value for value, _ in kept),
        counts=tuple(count for _, count in kept),
        other=sum(count for _, count in ranked[top_k:]),
        distinct=len(counts),
    )


@dataclass(frozen=True, slots=True)
class BinnedValues:
    """Values counted into the bins between a reference's edges, with the sum of the values in each bin.

    Bin ``i`` holds ``edges[i] <= x < edges[i + 1]``; the last bin also holds ``x == edges[-1]``. Values
    below the first edge or above the last are counted (and summed) apart.
    """

    counts: np.ndarray[Any, Any]
    sums: np.ndarray[Any, Any]
    below: int
    above: int
    below_sum: float
    above_sum: float

    @property
    def total(self) -> int:
        """Every value, inside and outside the edges."""
        return int(self.counts.sum()) + self.below + self.above


def bin_values(values: np.ndarray[Any, Any], edges: np.ndarray[Any, Any]) -> BinnedValues:
    """Count and sum ``values`` into the bins between ``edges`` in one vectorized pass."""
    inner = len(edges) - 1
    index = np.searchsorted(edges, values, side="right") - 1
    below = index < 0
    above = values > edges[-1]
    inside = ~(below | above)
    kept = np.minimum(index[inside], inner - 1)
    kept_values = values[inside]
    return BinnedValues(
        counts=np.bincount(kept, minlength=inner),
        sums=np.bincount(kept, weights=kept_values, minlength=inner),
        below=int(below.sum()),
        above=int(above.sum()),
        below_sum=float(values[below].sum()),
        above_sum=float(values[above].sum()),
    )
