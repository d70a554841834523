"""Feature-group schemas: normalizing incoming Arrow types, inferring a schema, checking later inserts.

Incoming types are normalized first (dictionary -> values, large/view strings -> string, any timestamp
unit -> microseconds in UTC, unsigned -> the next signed width) so pandas, Polars and Arrow inputs agree.
A later insert may widen safely (int32 -> int64, float32 -> float64); anything else is a new version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fti.core.features import ColumnSpec
from fti.core.naming import validate_identifier
from fti.errors import ValidationError

__all__ = ["HIDDEN_COLUMNS", "SchemaPlan", "normalize_type", "plan_schema", "schema_from_specs", "type_from_text"]

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


def type_from_text(text: str) -> pa.DataType | None:
    """The Arrow type written as ``text`` in a stored schema, if it is a simple one."""
    return _NAMED.get(text)


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
        elif expected is not None and (pa.types.is_null(got) or expected in _WIDENING.get(got, ())):
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


def _cast(values: Any, target: pa.DataType, name: str) -> Any:
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
