"""Expectations: vectorized checks run on every batch of an insert before anything is committed.

Build them with ``fti.expect``::

    fti.expect.not_null("cc_num")
    fti.expect.between("amount", 0, 1e6)
    fti.expect.in_set("country", ["DE", "FR"])
    fti.expect.unique("tx_id")
    fti.expect.matches("email", r"[^@]+@[^@]+")
    fti.expect.custom("positive_ratio", my_module.check_ratio)  # a module-level function

Nulls pass every expectation except ``not_null``. A custom check takes a pandas DataFrame of one batch and
returns a boolean array, True for rows that pass.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.core.naming import validate_identifier
from fti.errors import ValidationError

__all__ = [
    "Expectation",
    "ExpectationFailure",
    "ExpectationRun",
    "between",
    "custom",
    "expectation_from_json",
    "in_set",
    "matches",
    "not_null",
    "unique",
]

_SAMPLES = 3


@dataclass(frozen=True, slots=True)
class Expectation:
    """One named check on a column (or, for ``custom``, on whole batches)."""

    kind: str
    column: str | None
    params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """How the expectation reads in an error message, e.g. ``between('amount', 0, 100)``."""
        args = [repr(self.column)] if self.column is not None else []
        if self.kind == "between":
            args += [repr(self.params["min"]), repr(self.params["max"])]
        elif self.kind == "in_set":
            args.append(repr(self.params["values"]))
        elif self.kind == "matches":
            args.append(repr(self.params["pattern"]))
        elif self.kind == "custom":
            args = [repr(self.params["name"])]
        return f"{self.kind}({', '.join(args)})"

    def to_json(self) -> dict[str, Any]:
        """Plain data for the catalog."""
        return {"kind": self.kind, "column": self.column, "params": dict(self.params)}

    def failing(self, batch: pa.RecordBatch) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """A boolean mask of the batch's rows that fail (``unique`` is checked across batches instead)."""
        if self.kind == "custom":
            return _custom_failing(self, batch)
        values = batch.column(batch.schema.get_field_index(str(self.column)))
        if self.kind == "not_null":
            mask = pc.is_null(values)
        elif self.kind == "between":
            mask = pc.or_(pc.less(values, self.params["min"]), pc.greater(values, self.params["max"]))
        elif self.kind == "in_set":
            value_set = pa.array(self.params["values"]).cast(values.type)
            mask = pc.invert(pc.is_in(values, value_set=value_set))
        elif self.kind == "matches":
            mask = pc.invert(pc.match_substring_regex(values, f"^(?:{self.params['pattern']})$"))
        else:
            return np.zeros(len(batch), dtype=np.bool_)
        return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=np.bool_)


def not_null(column: str) -> Expectation:
    """Every row has a value in ``column``."""
    return Expectation("not_null", validate_identifier(column, "column name"))


def between(column: str, min: float | int | None = None, max: float | int | None = None) -> Expectation:
    """Values of ``column`` lie in ``[min, max]`` (either bound may be None)."""
    if min is None and max is None:
        raise ValidationError(f"between({column!r}) needs a min, a max or both.")
    low = float("-inf") if min is None else min
    high = float("inf") if max is None else max
    return Expectation("between", validate_identifier(column, "column name"), {"min": low, "max": high})


def in_set(column: str, values: Iterable[Any]) -> Expectation:
    """Values of ``column`` are among ``values``."""
    allowed = list(values)
    if not allowed:
        raise ValidationError(f"in_set({column!r}, ...) needs at least one allowed value.")
    return Expectation("in_set", validate_identifier(column, "column name"), {"values": allowed})


def unique(column: str) -> Expectation:
    """No two rows of one insert share a value of ``column`` (keeps the column's values in memory)."""
    return Expectation("unique", validate_identifier(column, "column name"))


def matches(column: str, pattern: str) -> Expectation:
    """Every value of ``column`` matches the regular expression ``pattern`` as a whole."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValidationError(f"matches({column!r}, {pattern!r}): not a valid regular expression ({exc}).") from None
    return Expectation("matches", validate_identifier(column, "column name"), {"pattern": pattern})


def custom(name: str, check: Callable[[Any], Any]) -> Expectation:
    """A vectorized check: ``check(frame)`` takes a pandas DataFrame and returns True for passing rows.

    ``check`` must be a module-level function, so the feature group can find it again later.
    """
    validate_identifier(name, "expectation name")
    module = getattr(check, "__module__", None)
    qualname = getattr(check, "__qualname__", "")
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise ValidationError(
            f"Custom expectation {name!r} must be a module-level function in an importable module "
            "(not a lambda, a nested function or a function of __main__), so that it can be loaded again."
        )
    return Expectation("custom", None, {"name": name, "function": f"{module}:{qualname}"})


def expectation_from_json(data: dict[str, Any]) -> Expectation:
    """Rebuild an expectation stored in the catalog."""
    return Expectation(str(data["kind"]), data.get("column"), dict(data.get("params") or {}))


def _custom_failing(expectation: Expectation, batch: pa.RecordBatch) -> np.ndarray[Any, np.dtype[np.bool_]]:
    name = expectation.params["name"]
    module_name, _, qualname = str(expectation.params["function"]).partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ValidationError(
            f"Custom expectation {name!r} refers to {expectation.params['function']}, which cannot be imported: "
            "make the module importable or create a new feature group version without it."
        ) from exc
    passing = np.asarray(target(batch.to_pandas()), dtype=np.bool_)
    if passing.shape != (len(batch),):
        raise ValidationError(
            f"Custom expectation {name!r} returned {passing.shape[0] if passing.ndim else 'a scalar'} values "
            f"for {len(batch)} rows: return one boolean per row."
        )
    return ~passing


@dataclass(frozen=True, slots=True)
class ExpectationFailure:
    """One failed expectation: how many rows failed and a few of them."""

    expectation: Expectation
    count: int
    samples: tuple[dict[str, Any], ...]

    def describe(self) -> str:
        """``between('amount', 0, 100) failed for 2 rows, e.g. row 3: {...}``."""
        shown = "; ".join(f"row {sample['row']}: {sample['values']}" for sample in self.samples)
        return f"{self.expectation.describe()} failed for {self.count} row(s), e.g. {shown}"


class ExpectationRun:
    """Checks batch after batch, counting failures and keeping a few samples per expectation."""

    def __init__(self, expectations: Iterable[Expectation]) -> None:
        self._expectations = list(expectations)
        self._counts = [0] * len(self._expectations)
        self._samples: list[list[dict[str, Any]]] = [[] for _ in self._expectations]
        self._unique_values: dict[int, list[pa.Array]] = {
            i: [] for i, item in enumerate(self._expectations) if item.kind == "unique"
        }

    def check(self, batch: pa.RecordBatch, offset: int) -> None:
        """Check one batch whose first row is row ``offset`` of the insert."""
        for i, expectation in enumerate(self._expectations):
            if expectation.kind == "unique":
                self._unique_values[i].append(batch.column(batch.schema.get_field_index(str(expectation.column))))
                continue
            failing = expectation.failing(batch)
            count = int(failing.sum())
            if count:
                self._record(i, batch, np.flatnonzero(failing), offset, count)

    def failures(self) -> list[ExpectationFailure]:
        """Every failed expectation, in the order they were declared."""
        for i, chunks in self._unique_values.items():
            self._check_unique(i, chunks)
        self._unique_values = {}
        return [
            ExpectationFailure(self._expectations[i], self._counts[i], tuple(self._samples[i]))
            for i in range(len(self._expectations))
            if self._counts[i]
        ]

    def _record(self, i: int, batch: pa.RecordBatch, rows: np.ndarray[Any, Any], offset: int, count: int) -> None:
        self._counts[i] += count
        room = _SAMPLES - len(self._samples[i])
        if room > 0:
            picked = batch.take(pa.array(rows[:room])).to_pylist()
            self._samples[i].extend(
                {"row": int(offset + row), "values": values} for row, values in zip(rows[:room], picked, strict=True)
            )

    def _check_unique(self, i: int, chunks: list[pa.Array]) -> None:
        if not chunks:
            return
        values = pa.chunked_array(chunks)
        counts = pc.value_counts(values)
        repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
        repeated = pc.drop_null(repeated)
        if len(repeated) == 0:
            return
        failing = pc.fill_null(pc.is_in(values, value_set=repeated), False)
        rows = np.flatnonzero(np.asarray(failing.to_numpy(zero_copy_only=False), dtype=np.bool_))
        self._counts[i] += len(rows)
        column = str(self._expectations[i].column)
        self._samples[i].extend(
            {"row": int(row), "values": {column: values[int(row)].as_py()}} for row in rows[:_SAMPLES]
        )
