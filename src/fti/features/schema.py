"""Feature-group schemas: normalizing incoming Arrow types, inferring a schema, checking later inserts.

Incoming types are normalized first (dictionary -> values, large/view strings -> string, any timestamp
unit -> microseconds in UTC, unsigned -> the next signed width) so pandas, Polars and Arrow inputs agree.
A later insert may widen safely (int32 -> int64, float32 -> float64); anything else is a new version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fti.core.features import ColumnSpec
from fti.core.naming import validate_identifier
from fti.core.online_types import online_type_problem
from fti.core.vectors import check_vector_lengths
from fti.errors import ValidationError

__all__ = [
    "HIDDEN_COLUMNS",
    "SchemaPlan",
    "check_online_schema",
    "normalize_type",
    "plan_schema",
    "schema_from_specs",
    "type_from_text",
]

#: columns the feature store adds to every stored row: the commit number and the row within the commit
HIDDEN_COLUMNS = ("_fti_commit", "_fti_row")

_WIDENING = {
    pa.int8(): (pa.int16(), pa.int32(), pa.int64(), pa.float64()),
    pa.int16(): (pa.int32(), pa.int64(), pa.float64()),
    pa.int32(): (pa.int64(), pa.float64()),
    # a file or page whose numbers happen to be whole reads as integers (checked exact when cast)
    pa.int64(): (pa.float64(),),
    pa.float32(): (pa.float64(),),
    # text files and JSON carry numbers and times as strings: parsed, and the first bad value reported
    pa.string(): (
        pa.int64(),
        pa.int32(),
        pa.float64(),
        pa.float32(),
        pa.bool_(),
        pa.date32(),
        pa.timestamp("us"),
        pa.timestamp("us", tz="UTC"),
    ),
}
_UNSIGNED = {pa.uint8(): pa.int16(), pa.uint16(): pa.int32(), pa.uint32(): pa.int64()}
_NAMED = {
    str(t): t
    for t in (
        pa.bool_(),
        pa.int8(),
        pa.int16(),
        pa.int32(),
        pa.int64(),
        pa.float32(),
        pa.float64(),
        pa.string(),
        pa.binary(),
        pa.date32(),
        pa.null(),
        pa.timestamp("us"),
        pa.timestamp("us", tz="UTC"),
    )
}


def normalize_type(arrow_type: pa.DataType) -> pa.DataType:
    """The type a feature group stores for ``arrow_type``."""
    if pa.types.is_dictionary(arrow_type):
        return normalize_type(arrow_type.value_type)
    if pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return pa.string()
    if pa.types.is_large_binary(arrow_type) or pa.types.is_binary_view(arrow_type):
        return pa.binary()
    if pa.types.is_timestamp(arrow_type):
        return pa.timestamp("us", tz="UTC") if arrow_type.tz else pa.timestamp("us")
    if pa.types.is_date64(arrow_type):
        return pa.date32()
    if pa.types.is_float16(arrow_type):
        return pa.float32()
    if arrow_type in _UNSIGNED:
        return _UNSIGNED[arrow_type]
    return arrow_type


#: a list type as Arrow writes it: ``list<item: float>`` or ``fixed_size_list<item: float>[384]``
_LIST_TEXT = re.compile(r"^(fixed_size_list|list)<(\w+): (.+)>(?:\[(\d+)\])?$")


def type_from_text(text: str) -> pa.DataType | None:
    """The Arrow type written as ``text`` in a stored schema: a simple one, or a list of a simple one."""
    named = _NAMED.get(text)
    if named is not None:
        return named
    match = _LIST_TEXT.match(text)
    if match is None:
        return None
    kind, child, inner_text, size = match.groups()
    inner = _NAMED.get(inner_text)
    if inner is None or (kind == "fixed_size_list") != (size is not None):
        return None
    item = pa.field(child, inner)
    return pa.list_(item, int(size)) if size is not None else pa.list_(item)


def schema_from_specs(specs: tuple[ColumnSpec, ...]) -> pa.Schema | None:
    """The Arrow schema of stored specs, or None when a type cannot be rebuilt from text."""
    types = [type_from_text(spec.type) for spec in specs]
    if any(t is None for t in types):
        return None
    return pa.schema([pa.field(spec.name, t) for spec, t in zip(specs, types, strict=True)])


@dataclass(frozen=True, slots=True)
class SchemaPlan:
    """How to turn incoming batches into stored ones: the target schema and the columns to cast."""

    target: pa.Schema
    specs: tuple[ColumnSpec, ...]

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Reorder and cast ``batch`` to the target schema."""
        columns = []
        for target_field in self.target:
            values = batch.column(batch.schema.get_field_index(target_field.name))
            if not values.type.equals(target_field.type):
                values = _cast(values, target_field.type, target_field.name)
            columns.append(values)
        return pa.RecordBatch.from_arrays(columns, schema=self.target)


def plan_schema(
    what: str,
    incoming: pa.Schema,
    stored: tuple[ColumnSpec, ...] | None,
    primary_key: tuple[str, ...],
    event_time: str,
) -> SchemaPlan:
    """Check ``incoming`` against the stored schema (or infer one) and plan the casts.

    Raises:
        ValidationError: naming every missing, extra or incompatible column with expected and found types.
    """
    found = {item.name: normalize_type(item.type) for item in incoming}
    if len(found) != len(incoming):
        raise ValidationError(f"{what}: the data has duplicate column names {incoming.names}; rename them.")
    if stored is None:
        return _infer(what, found, primary_key, event_time)
    problems = []
    target_fields = []
    for spec in stored:
        expected = type_from_text(spec.type)
        if spec.name not in found:
            problems.append(f"column '{spec.name}' ({spec.type}) is missing")
            continue
        got = found[spec.name]
        if str(got) == spec.type:
            target_fields.append(pa.field(spec.name, got))
        elif expected is not None and (
            pa.types.is_null(got) or expected in _WIDENING.get(got, ()) or _fits_vector(got, expected)
        ):
            target_fields.append(pa.field(spec.name, expected))
        else:
            problems.append(f"column '{spec.name}' expects {spec.type}, got {got}")
    known = {spec.name for spec in stored}
    problems += [f"column '{name}' ({found[name]}) is not in the schema" for name in found if name not in known]
    if problems:
        raise ValidationError(
            f"{what}: {'; '.join(problems)}. Cast or rename the columns to match, or create a new version "
            "of the feature group for the new schema."
        )
    return SchemaPlan(pa.schema(target_fields), stored)


def _infer(what: str, found: dict[str, pa.DataType], primary_key: tuple[str, ...], event_time: str) -> SchemaPlan:
    for name in found:
        validate_identifier(name, "column name")
        if name.startswith("_fti_"):
            raise ValidationError(f"{what}: column '{name}' uses the reserved prefix '_fti_'; rename it.")
    missing = [name for name in (*primary_key, event_time) if name not in found]
    if missing:
        raise ValidationError(
            f"{what}: the data has no column {', '.join(repr(n) for n in missing)} "
            f"(primary key {list(primary_key)}, event time {event_time!r}); found {list(found)}."
        )
    time_type = found[event_time]
    if not (pa.types.is_timestamp(time_type) or pa.types.is_date32(time_type)):
        raise ValidationError(
            f"{what}: event time column '{event_time}' must be a timestamp or a date, got {time_type}. "
            "Convert it, e.g. with pandas.to_datetime."
        )
    for name, arrow_type in found.items():
        if pa.types.is_null(arrow_type):
            raise ValidationError(
                f"{what}: column '{name}' has only nulls, so its type is unknown; give it a type (e.g. "
                "astype('float64')) or leave it out."
            )
    target = pa.schema([pa.field(name, arrow_type) for name, arrow_type in found.items()])
    specs = tuple(ColumnSpec(name, str(arrow_type)) for name, arrow_type in found.items())
    return SchemaPlan(target, specs)


def check_online_schema(what: str, schema: pa.Schema) -> None:
    """Refuse, before anything is written, a column an online feature group could not serve.

    Raises:
        ValidationError: naming the column, its type and what to store instead.
    """
    for column in schema:
        problem = online_type_problem(column.type)
        if problem is not None:
            raise ValidationError(f"{what}: the group is online, and column '{column.name}' {problem}")


def _fits_vector(got: pa.DataType, expected: pa.DataType) -> bool:
    """Whether lists of numbers may be stored in a fixed-size vector column (their lengths are checked)."""
    return bool(
        pa.types.is_fixed_size_list(expected)
        and (pa.types.is_list(got) or pa.types.is_large_list(got) or pa.types.is_fixed_size_list(got))
        and (pa.types.is_floating(got.value_type) or pa.types.is_integer(got.value_type))
    )


def _cast(values: Any, target: pa.DataType, name: str) -> Any:
    if pa.types.is_fixed_size_list(target):
        check_vector_lengths(values, target.list_size, name)
    try:
        return pc.cast(values, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        bad = _first_uncastable(values, target)
        raise ValidationError(
            f"Column '{name}' cannot be stored as {target}: its value {bad!r} does not fit ({exc}). Fix or drop that "
            "row, or cast the column before inserting."
        ) from None


def _first_uncastable(values: Any, target: pa.DataType) -> Any:
    """The first value that does not cast, found by halving (each half is cast vectorized)."""
    low, high = 0, len(values)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            pc.cast(values.slice(low, middle - low), target, safe=True)
            low = middle
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            high = middle
    return values[low].as_py() if len(values) else None
