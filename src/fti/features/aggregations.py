"""Windowed aggregations declared once (``fti.agg.count(window="1h")``) and the one SQL that computes them.

An aggregation group's rows are one per event: the key, the event time and each aggregate *as of that event*,
over the sliding window ``(t - window, t]`` of the same key's events (the event itself included, an event
exactly one window older excluded). Events are identified by (key, event time), like a feature group's rows:
a repeat of one already seen is a duplicate delivery and is ignored (the first one counts). With an emit step
(``emit="1m"``), the rows kept are one per key and step: the row of the key's last event in each step
``[k * step, (k + 1) * step)`` of event time (steps counted from the Unix epoch), its values as of that event.

The backfill (DuckDB over a batch of history) and the stream engine (the same query over the window state of
the keys a micro-batch touched) both run :func:`window_query`, so their values cannot drift apart.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, get_args

import pyarrow as pa

from fti.core.durations import format_duration, parse_duration
from fti.core.naming import validate_identifier
from fti.errors import ValidationError
from fti.features.sql import quote

__all__ = [
    "AGGREGATION_TAG",
    "Aggregation",
    "AggregationSpec",
    "ValueType",
    "count",
    "count_distinct",
    "last",
    "max",
    "mean",
    "min",
    "output_schema",
    "std",
    "step_start_sql",
    "sum",
    "typed_events_sql",
    "window_query",
]

Function = Literal["count", "sum", "mean", "max", "min", "std", "last", "count_distinct"]
ValueType = Literal["float64", "int64", "string", "bool"]

#: the feature-group tag holding an aggregation group's definition (JSON), written with the group
AGGREGATION_TAG = "fti.aggregation"

_SQL_TYPES: dict[str, str] = {"float64": "DOUBLE", "int64": "BIGINT", "string": "VARCHAR", "bool": "BOOLEAN"}
_SQL_FUNCTIONS: dict[str, str] = {
    "sum": "sum",
    "mean": "avg",
    "max": "max",
    "min": "min",
    "std": "stddev_samp",
    "count_distinct": "count(DISTINCT {})",
}
_ARROW_TYPES: dict[str, pa.DataType] = {
    "float64": pa.float64(),
    "int64": pa.int64(),
    "string": pa.string(),
    "bool": pa.bool_(),
}


@dataclass(frozen=True, slots=True)
class Aggregation:
    """One windowed aggregate: ``function`` of ``column`` (None: count of events) over ``window``, named ``name``.

    Build them with :func:`count`, :func:`sum`, :func:`mean`, :func:`max`, :func:`min`, :func:`std`,
    :func:`last` and :func:`count_distinct`; ``value_type`` is the type ``column`` is read as.
    """

    function: Function
    column: str | None
    window: timedelta
    name: str
    value_type: ValueType

    @property
    def window_us(self) -> int:
        """The window in microseconds."""
        return int(self.window / timedelta(microseconds=1))

    def to_json(self) -> dict[str, Any]:
        """Plain data for the catalog."""
        return {
            "function": self.function,
            "column": self.column,
            "window": format_duration(self.window),
            "name": self.name,
            "value_type": self.value_type,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Aggregation:
        """The aggregation written by :meth:`to_json`."""
        return _declare(data["function"], data["column"], data["window"], data["name"], data["value_type"])

    def sql(self, frame: str) -> str:
        """This aggregate over the named window ``frame``, as a SQL expression named :attr:`name`."""
        column = None if self.column is None else f"__v_{self.column}"
        if self.function == "count":
            expression = f"count({'*' if column is None else quote(column)}) OVER {frame}"
        elif self.function == "last":
            expression = f"last_value({quote(str(column))} IGNORE NULLS) OVER {frame}"
        else:
            template = _SQL_FUNCTIONS[self.function]
            call = template.format(quote(str(column))) if "{}" in template else f"{template}({quote(str(column))})"
            expression = f"{call} OVER {frame}"
        return f"CAST({expression} AS {_SQL_TYPES[self.output_type]}) AS {quote(self.name)}"

    @property
    def output_type(self) -> ValueType:
        """The type of the aggregate's values."""
        if self.function in ("count", "count_distinct"):
            return "int64"
        if self.function in ("sum", "mean", "std"):
            return "float64"
        return self.value_type


def _declare(
    function: Function, column: str | None, window: str | timedelta, name: str | None, value_type: ValueType
) -> Aggregation:
    if function not in get_args(Function):
        raise ValidationError(f"Unknown aggregation {function!r}: use one of {', '.join(get_args(Function))}.")
    if column is not None:
        validate_identifier(column, f"column of fti.agg.{function}")
    what = f"window of fti.agg.{function}({'' if column is None else repr(column)})"
    duration = parse_duration(window, what=what)
    if duration < timedelta(microseconds=1) or duration % timedelta(microseconds=1):
        raise ValidationError(f"The {what} {window!r} must be a whole number of microseconds.")
    if value_type not in _SQL_TYPES:
        raise ValidationError(
            f"fti.agg.{function}({column!r}): value_type {value_type!r} is not one of {', '.join(_SQL_TYPES)}."
        )
    if value_type in ("string", "bool") and function in ("sum", "mean", "std"):
        raise ValidationError(f"fti.agg.{function}({column!r}) needs numbers: use value_type 'float64' or 'int64'.")
    default = (
        f"{function}_{format_duration(duration)}"
        if column is None
        else f"{column}_{function}_{format_duration(duration)}"
    )
    final = default if name is None else name
    validate_identifier(final, f"name of fti.agg.{function}")
    return Aggregation(function, column, duration, final, value_type)


def count(column: str | None = None, *, window: str | timedelta, name: str | None = None) -> Aggregation:
    """How many events of the key fell in the window (with ``column``: how many had a value in it).

    Example:
        >>> fti.agg.count(window="1h").name  # doctest: +SKIP
        'count_1h'
    """
    return _declare("count", column, window, name, "float64")


def sum(column: str, *, window: str | timedelta, name: str | None = None) -> Aggregation:
    """The sum of ``column`` over the window (null when no event in it has a value)."""
    return _declare("sum", column, window, name, "float64")


def mean(column: str, *, window: str | timedelta, name: str | None = None) -> Aggregation:
    """The mean of ``column`` over the window."""
    return _declare("mean", column, window, name, "float64")


def max(
    column: str, *, window: str | timedelta, name: str | None = None, value_type: ValueType = "float64"
) -> Aggregation:
    """The largest value of ``column`` in the window."""
    return _declare("max", column, window, name, value_type)


def min(
    column: str, *, window: str | timedelta, name: str | None = None, value_type: ValueType = "float64"
) -> Aggregation:
    """The smallest value of ``column`` in the window."""
    return _declare("min", column, window, name, value_type)


def std(column: str, *, window: str | timedelta, name: str | None = None) -> Aggregation:
    """The sample standard deviation of ``column`` over the window (null for fewer than two values)."""
    return _declare("std", column, window, name, "float64")


def last(
    column: str, *, window: str | timedelta, name: str | None = None, value_type: ValueType = "float64"
) -> Aggregation:
    """The newest non-null value of ``column`` in the window."""
    return _declare("last", column, window, name, value_type)


def count_distinct(
    column: str, *, window: str | timedelta, name: str | None = None, value_type: ValueType = "string"
) -> Aggregation:
    """How many distinct values of ``column`` the window holds (exact: no sketch)."""
    return _declare("count_distinct", column, window, name, value_type)


@dataclass(frozen=True, slots=True)
class AggregationSpec:
    """An aggregation group's definition: key columns, event-time column, aggregations, allowed lateness.

    ``lateness`` is how far behind the newest event time seen an event may arrive and still count; ``stream``
    is the name of the stream its events arrive on; ``key_types`` the type each key column is read as; ``emit``
    the emit step (None: a row for every event).
    """

    key: tuple[str, ...]
    event_time: str
    aggregations: tuple[Aggregation, ...]
    lateness: timedelta = timedelta(0)
    stream: str | None = None
    key_types: tuple[ValueType, ...] = ()
    emit: timedelta | None = None

    @classmethod
    def of(
        cls,
        name: str,
        *,
        key: Sequence[str],
        event_time: str,
        aggregations: Sequence[Aggregation],
        lateness: str | timedelta = timedelta(0),
        stream: str | None = None,
        key_types: Mapping[str, ValueType] | None = None,
        emit: str | timedelta | None = None,
    ) -> AggregationSpec:
        """Check a definition before anything is created.

        Raises:
            ValidationError: no aggregation, one not built with ``fti.agg``, a repeated output name, a column
                read as two types, an output named like a key, or a lateness or emit step that is not a duration.
        """
        if isinstance(key, str) or not key:
            raise ValidationError(
                f"Aggregation group '{name}': key must be a non-empty list of columns, e.g. ['cc_num']."
            )
        items = list(aggregations)
        if not items or any(not isinstance(item, Aggregation) for item in items):
            raise ValidationError(
                f"Aggregation group '{name}': aggregations must be a non-empty list built with fti.agg, "
                "e.g. [fti.agg.count(window='1h')]."
            )
        taken: dict[str, str] = {column: "a key column" for column in (*key, event_time)}
        types: dict[str, str] = {}
        for item in items:
            if item.name in taken:
                raise ValidationError(
                    f"Aggregation group '{name}': the output '{item.name}' is already {taken[item.name]}; pass name=."
                )
            taken[item.name] = "an aggregation's output"
            if item.column is not None and types.setdefault(item.column, item.value_type) != item.value_type:
                raise ValidationError(
                    f"Aggregation group '{name}': column '{item.column}' is read as {types[item.column]} and as "
                    f"{item.value_type}; give every aggregation of it the same value_type."
                )
        if isinstance(lateness, timedelta) and lateness >= timedelta(0):
            late = lateness
        else:
            late = parse_duration(lateness, what=f"lateness of aggregation group '{name}'")
        default: ValueType = "string"
        kinds: dict[str, ValueType] = {column: default for column in key}
        kinds.update(key_types or {})
        for column, kind in kinds.items():
            if column not in key or kind not in _SQL_TYPES:
                raise ValidationError(
                    f"Aggregation group '{name}': key_types[{column!r}] = {kind!r}; give each key column one of "
                    f"{', '.join(_SQL_TYPES)}."
                )
        step = None if emit is None else _emit_step(emit, name)
        return cls(tuple(key), event_time, tuple(items), late, stream, tuple(kinds[column] for column in key), step)

    @property
    def emit_us(self) -> int | None:
        """The emit step in microseconds (None: a row for every event)."""
        return None if self.emit is None else int(self.emit / timedelta(microseconds=1))

    @property
    def value_columns(self) -> dict[str, ValueType]:
        """The event columns the aggregations read, with the type each is read as."""
        return {item.column: item.value_type for item in self.aggregations if item.column is not None}

    @property
    def longest_window(self) -> timedelta:
        """The widest window: how much history the stream keeps per key."""
        return builtins.max(item.window for item in self.aggregations)

    @property
    def output_types(self) -> dict[str, ValueType]:
        """Each aggregate's name and value type, in declaration order."""
        return {item.name: item.output_type for item in self.aggregations}

    def to_json(self) -> str:
        """The definition as the JSON text stored with the feature group."""
        data = {
            "key": list(self.key),
            "event_time": self.event_time,
            "aggregations": [item.to_json() for item in self.aggregations],
            "lateness_us": int(self.lateness / timedelta(microseconds=1)),
            "stream": self.stream,
            "key_types": list(self.key_types),
        }
        if self.emit_us is not None:  # absent without a step: definitions written before steps read the same
            data["emit_us"] = self.emit_us
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> AggregationSpec:
        """The definition written by :meth:`to_json`."""
        data = json.loads(text)
        return cls(
            tuple(data["key"]),
            data["event_time"],
            tuple(Aggregation.from_json(item) for item in data["aggregations"]),
            timedelta(microseconds=data["lateness_us"]),
            data.get("stream"),
            tuple(data["key_types"]),
            None if data.get("emit_us") is None else timedelta(microseconds=data["emit_us"]),
        )


def _emit_step(emit: str | timedelta, name: str) -> timedelta:
    what = f"emit step of aggregation group '{name}'"
    step = parse_duration(emit, what=what)
    if step < timedelta(microseconds=1) or step % timedelta(microseconds=1):
        raise ValidationError(f"The {what} {emit!r} must be a positive whole number of microseconds, e.g. '1m'.")
    return step


def step_start_sql(step_us: int) -> str:
    """SQL for the start of the emit step holding ``__t`` (microseconds; floored, also before the epoch)."""
    return f"(__t - ((__t % {step_us}) + {step_us}) % {step_us})"


def output_schema(spec: AggregationSpec) -> pa.Schema:
    """The schema of the group's rows: the keys, the event time (UTC, microseconds) and the aggregates."""
    fields = [pa.field(column, _ARROW_TYPES[kind]) for column, kind in zip(spec.key, spec.key_types, strict=True)]
    fields.append(pa.field(spec.event_time, pa.timestamp("us", tz="UTC")))
    fields.extend(pa.field(name, _ARROW_TYPES[kind]) for name, kind in spec.output_types.items())
    return pa.schema(fields)


def typed_events_sql(spec: AggregationSpec, relation: str, *, is_lenient: bool = False) -> str:
    """The SELECT list that reads ``relation``'s events as the definition's types: the keys, the event time as
    ``__t`` (microseconds since the epoch) and the value columns as ``__v_<column>``.

    Lenient, a value that cannot be read as its type becomes null (the caller compares with the raw value to
    find malformed events); strict, it raises.
    """
    cast = "TRY_CAST" if is_lenient else "CAST"
    keys = ", ".join(
        f"{cast}({quote(column)} AS {_SQL_TYPES[kind]}) AS {quote(column)}"
        for column, kind in zip(spec.key, spec.key_types, strict=True)
    )
    values = "".join(
        f", {cast}({quote(column)} AS {_SQL_TYPES[kind]}) AS {quote('__v_' + column)}"
        for column, kind in spec.value_columns.items()
    )
    event_time = f"epoch_us({cast}({quote(spec.event_time)} AS TIMESTAMPTZ)) AS __t"
    return f"SELECT {keys}, {event_time}{values} FROM {relation}"


def window_query(spec: AggregationSpec, events: str, *, since: str | None = None) -> str:
    """The SQL computing each event's aggregates from ``events`` (keys, ``__t``, ``__v_*``, unique per key and
    ``__t``), ordered by key and event time; with an emit step, only each key's last event of each step.

    With ``since`` (a relation of keys and ``__since``), only the rows at or after each touched key's
    ``__since`` are computed, from the events of that key within the longest window before it.
    """
    keys = ", ".join(quote(column) for column in spec.key)
    frames = sorted({item.window_us for item in spec.aggregations})
    windows = ", ".join(
        f"__w{width} AS (PARTITION BY {keys} ORDER BY __t RANGE BETWEEN {width - 1} PRECEDING AND CURRENT ROW)"
        for width in frames
    )
    outputs = ", ".join(item.sql(f"__w{item.window_us}") for item in spec.aggregations)
    longest = frames[-1]
    event_time = f"make_timestamptz(__t) AS {quote(spec.event_time)}"
    names = ", ".join(quote(item.name) for item in spec.aggregations)
    if since is None:
        computed = f"SELECT {keys}, __t, {outputs} FROM {events} WINDOW {windows}"
        emitted = ""
        if spec.emit_us is not None:  # the last event of each key and step
            step = step_start_sql(spec.emit_us)
            emitted = f" QUALIFY row_number() OVER (PARTITION BY {keys}, {step} ORDER BY __t DESC) = 1"
        return f"SELECT {keys}, {event_time}, {names} FROM ({computed}){emitted} ORDER BY {keys}, __t"
    relevant = (
        f"(SELECT e.*, s.__since FROM {events} AS e JOIN {since} AS s USING ({keys}) "
        f"WHERE e.__t > s.__since - {longest})"
    )
    computed = f"SELECT {keys}, __t, __since, {outputs} FROM {relevant} WINDOW {windows}"
    return f"SELECT {keys}, {event_time}, {names} FROM ({computed}) WHERE __t >= __since ORDER BY {keys}, __t"
