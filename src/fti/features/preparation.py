"""Preparing incoming batches before validation: column names, string timestamps and a transformation.

Applied to every batch of an insert, in this order: ``rename`` (a mapping of old to new names), then
``normalize_names`` (lower case, runs of other characters as ``_``), then ``parse_dates`` (string columns
to timestamps), then ``transform`` (a Python function or a DuckDB SQL query over one batch). Column names
that are still not identifiers are refused with the fix spelled out.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fti.errors import FtiError, ValidationError
from fti.features.sql import shared_engine

__all__ = ["Preparation", "normalized_name"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
Transform = Callable[[Any], Any] | str


def normalized_name(name: str) -> str:
    """``name`` as an identifier: ``"Monthly Spend (EUR)"`` -> ``"monthly_spend_eur"``, ``"2nd"`` -> ``"_2nd"``."""
    text = re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_") or "column"
    return ("_" + text if text[0].isdigit() else text)[:63]


@dataclass(frozen=True, slots=True)
class Preparation:
    """How each incoming batch is prepared (see the module docstring)."""

    rename: Mapping[str, str] = field(default_factory=dict)
    normalize_names: bool = False
    parse_dates: Mapping[str, str | None] = field(default_factory=dict)
    transform: Transform | None = None

    @classmethod
    def of(
        cls,
        *,
        rename: Mapping[str, str] | None = None,
        normalize_names: bool = False,
        parse_dates: Sequence[str] | Mapping[str, str | None] | None = None,
        transform: Transform | None = None,
    ) -> Preparation:
        """Checked options: ``parse_dates`` is a list of columns (ISO 8601) or column -> ``strptime`` format."""
        if rename is not None and not isinstance(rename, Mapping):
            raise ValidationError(f"rename must map old column names to new ones, got {type(rename).__name__}.")
        if isinstance(parse_dates, str):
            parse_dates = [parse_dates]
        dates = dict(parse_dates) if isinstance(parse_dates, Mapping) else dict.fromkeys(parse_dates or ())
        if transform is not None and not (callable(transform) or isinstance(transform, str)):
            raise ValidationError(
                "transform must be a function of a DataFrame (or of a pyarrow Table, if annotated so) or a SQL "
                f"query over the table 'source', got {type(transform).__name__}."
            )
        return cls(dict(rename or {}), bool(normalize_names), dates, transform)

    @property
    def is_identity(self) -> bool:
        """Whether batches pass unchanged (only their names are checked)."""
        return not (self.rename or self.normalize_names or self.parse_dates or self.transform is not None)

    def check(self, what: str, names: Sequence[str]) -> None:
        """Refuse column names that are not identifiers (see :func:`check_names`)."""
        check_names(what, names, self.normalize_names)

    def batches(self, what: str, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """``batches`` prepared one by one; the first is checked for column names before any is passed on."""
        checked = False
        for batch in batches:
            prepared = self.apply(what, batch)
            if not checked:
                check_names(what, prepared.schema.names, self.normalize_names)
                checked = True
            yield prepared

    def apply(self, what: str, batch: pa.RecordBatch) -> pa.RecordBatch:
        """One batch, renamed, with dates parsed and transformed."""
        if self.is_identity:
            return batch
        names = list(batch.schema.names)
        missing = [name for name in self.rename if name not in names]
        if missing:
            raise ValidationError(
                f"{what}: rename names column(s) {', '.join(map(repr, missing))}, which the data does not have "
                f"(it has {', '.join(map(repr, names))})."
            )
        names = [self.rename.get(name, name) for name in names]
        if self.normalize_names:
            names = [normalized_name(name) for name in names]
        batch = pa.RecordBatch.from_arrays(batch.columns, names=names)
        if self.parse_dates:
            batch = _parse_dates(what, batch, self.parse_dates)
        if self.transform is not None:
            batch = _transformed(what, batch, self.transform)
        return batch


def check_names(what: str, names: Sequence[str], normalize: bool) -> None:
    """Refuse column names that are not identifiers, naming them and the two ways to fix them."""
    bad = [name for name in names if not isinstance(name, str) or not _IDENTIFIER.match(name)]
    if not bad:
        return
    suggestion = ", ".join(f"{name!r}: {normalized_name(name)!r}" for name in bad[:3])
    raise ValidationError(
        f"{what}: column name(s) {', '.join(map(repr, bad))} are not identifiers (letters, digits and "
        f"underscores, starting with a letter or underscore, at most 63 characters). Rename them with "
        f"rename={{{suggestion}}}" + ("" if normalize else ", or pass normalize_names=True") + "."
    )


def _parse_dates(what: str, batch: pa.RecordBatch, formats: Mapping[str, str | None]) -> pa.RecordBatch:
    columns = list(batch.columns)
    for name, pattern in formats.items():
        if name not in batch.schema.names:
            raise ValidationError(f"{what}: parse_dates names column '{name}', which the data does not have.")
        index = batch.schema.get_field_index(name)
        values = columns[index]
        if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
            continue
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            raise ValidationError(f"{what}: parse_dates column '{name}' holds {values.type}, not strings.")
        columns[index] = _parsed(what, name, values, pattern)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _parsed(what: str, name: str, values: pa.Array, pattern: str | None) -> pa.Array:
    try:
        if pattern is None:
            return _iso(values)
        zoned = "%z" in pattern or "%Z" in pattern
        return pc.strptime(values, format=pattern, unit="us", error_is_null=False).cast(
            pa.timestamp("us", tz="UTC") if zoned else pa.timestamp("us")
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        bad = _first_unparsed(values, pattern)
        how = f"the format {pattern!r}" if pattern else "ISO 8601 (e.g. 2024-05-01T12:00:00Z)"
        raise ValidationError(
            f"{what}: column '{name}' has the value {bad!r}, which does not parse as {how}. Give its format with "
            f"parse_dates={{'{name}': '%d/%m/%Y %H:%M'}} (strptime codes) or fix the value."
        ) from None


def _iso(values: pa.Array) -> pa.Array:
    """ISO 8601 strings as timestamps: with a zone (``Z``, ``+02:00``) in UTC, without one as naive times."""
    sample = values.drop_null()
    zoned = len(sample) > 0 and bool(pc.any(pc.match_substring_regex(sample, r"(Z|[+-]\d\d:?\d\d)$")).as_py())
    return values.cast(pa.timestamp("us", tz="UTC") if zoned else pa.timestamp("us"))


def _first_unparsed(values: pa.Array, pattern: str | None) -> Any:
    """The first value that does not parse, found by halving (each half is parsed vectorized)."""
    low, high = 0, len(values)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            _parsed_quietly(values.slice(low, middle - low), pattern)
            low = middle
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            high = middle
    return values[low].as_py() if len(values) else None


def _parsed_quietly(values: pa.Array, pattern: str | None) -> None:
    if pattern is None:
        _iso(values)
    else:
        pc.strptime(values, format=pattern, unit="us", error_is_null=False)


def _transformed(what: str, batch: pa.RecordBatch, transform: Transform) -> pa.RecordBatch:
    try:
        if isinstance(transform, str):
            cursor = shared_engine().cursor()
            try:
                cursor.register("source", pa.Table.from_batches([batch]))
                result: Any = cursor.sql(transform).to_arrow_table()
            finally:
                cursor.close()
        elif _wants_arrow(transform):
            result = transform(pa.Table.from_batches([batch]))
        else:
            result = transform(batch.to_pandas())
    except FtiError:
        raise
    except Exception as exc:  # the user's code: report it with the insert it broke (STYLE.md E5)
        raise ValidationError(f"{what}: the transform failed on a batch of {len(batch)} rows: {exc!r}") from exc
    return _as_batch(what, result)


def _wants_arrow(function: Callable[[Any], Any]) -> bool:
    """Whether the function's first parameter is annotated as a pyarrow Table (else it gets a DataFrame)."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return False
    if not parameters:
        return False
    annotation = parameters[0].annotation
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return "Table" in str(text) or "RecordBatch" in str(text)


def _as_batch(what: str, result: Any) -> pa.RecordBatch:
    if isinstance(result, pa.RecordBatch):
        return result
    if isinstance(result, pa.Table):
        return _one(result)
    module = type(result).__module__
    if module.startswith("pandas") and hasattr(result, "columns"):
        return _one(pa.Table.from_pandas(result, preserve_index=False))
    if module.startswith("polars") and hasattr(result, "to_arrow"):
        return _one(result.to_arrow())
    raise ValidationError(
        f"{what}: the transform returned a {type(result).__name__}; return a pandas or Polars DataFrame or a "
        "pyarrow Table."
    )


def _one(table: pa.Table) -> pa.RecordBatch:
    batches = table.combine_chunks().to_batches()
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)
