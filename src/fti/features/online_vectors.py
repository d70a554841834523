"""Online feature vectors: a feature view's features for given entities, read from the online store.

A :class:`VectorPlan` is worked out once per feature view object: which online table each group of the
view reads, which entity columns give its key (the spine's primary key for the spine's own features,
the join's ``on`` columns for a joined group), and where each feature goes in the vector. A lookup then
validates the entities into one Arrow table, reads every group with one ``OnlineStore.read`` call for
all entities, blanks values older than the group's ttl (relative to ``now``) and applies
``passed_features``. Labels are never part of a vector.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.errors import NotFoundError, ValidationError
from fti.features.online import ensure_online_table, online_store
from fti.features.schema import schema_from_specs
from fti.features.time_travel import describe_group

if TYPE_CHECKING:
    from fti.backends.ports import OnlineStore
    from fti.features.queries import Query
    from fti.features.stores import FeatureStores

__all__ = [
    "ReturnType",
    "VectorPlan",
    "check_return_type",
    "plan_vectors",
    "shape_many",
    "shape_one",
    "vector_one",
    "vectors",
]

ReturnType = Literal["dict", "list", "pandas"]
_RETURN_TYPES = ("dict", "list", "pandas")


@dataclass(frozen=True, slots=True)
class _VectorGroup:
    """One group of the view as the online store serves it."""

    group: str  # 'feature group ... v1' for messages
    table: str
    entity_columns: tuple[str, ...]  # request columns giving the key, in key order
    key_columns: tuple[str, ...]
    key_types: tuple[pa.DataType, ...]
    event_time: str
    ttl: timedelta | None
    features: tuple[str, ...]  # the group's column names
    names: tuple[str, ...]  # their names in the vector


@dataclass(frozen=True, slots=True)
class VectorPlan:
    """How one feature view reads its vectors from the online store."""

    view: str  # "feature view 'fraud' v1" for messages
    store: OnlineStore
    groups: tuple[_VectorGroup, ...]
    entity_keys: dict[str, pa.DataType]
    features: tuple[str, ...]


def plan_vectors(stores: FeatureStores, what: str, query: Query, labels: Collection[str]) -> VectorPlan:
    """Check every group that gives the view (``what``, for messages) a feature is online, and create their
    online tables.

    Raises:
        ValidationError: a group giving a (non-label) feature to the view is not online.
    """
    excluded = set(labels)
    spine = query.parts[0].group.record
    spine_schema = schema_from_specs(spine.schema or ())
    if spine_schema is None:
        raise ValidationError(f"The spine {describe_group(spine)} of {what} has no schema yet: insert data first.")
    groups: list[_VectorGroup] = []
    entity_keys: dict[str, pa.DataType] = {}
    store: OnlineStore | None = None
    for index, part in enumerate(query.parts):
        record = part.group.record
        selected = [(name, part.prefix + name) for name in part.features if part.prefix + name not in excluded]
        if not selected:
            continue
        if not record.is_online:
            raise ValidationError(
                f"{what.capitalize()} joins {describe_group(record)}, which is not online, so it has no feature "
                f"vectors: create a version of '{record.name}' with online=True (and materialize it), then a "
                "feature view on it."
            )
        store = online_store(stores, record)
        schema = schema_from_specs(record.schema or ())
        assert schema is not None  # a group with selected features has a schema
        entity_columns = tuple(record.primary_key) if index == 0 else part.on
        for column in entity_columns:
            entity_keys.setdefault(column, spine_schema.field(column).type)
        groups.append(
            _VectorGroup(
                group=describe_group(record),
                table=ensure_online_table(store, record),
                entity_columns=entity_columns,
                key_columns=tuple(record.primary_key),
                key_types=tuple(schema.field(name).type for name in record.primary_key),
                event_time=record.event_time,
                ttl=None if record.ttl_seconds is None else timedelta(seconds=record.ttl_seconds),
                features=tuple(name for name, _ in selected),
                names=tuple(name for _, name in selected),
            )
        )
    features = tuple(name for group in groups for name in group.names)
    order = [name for name in query.columns() if name in set(features)]
    if store is None:
        raise ValidationError(f"{what.capitalize()} has no features besides its labels, so it has no feature vectors.")
    return VectorPlan(what, store, tuple(groups), entity_keys, tuple(order))


def vectors(
    plan: VectorPlan,
    entities: Any,
    passed_features: Any,
    *,
    allow_missing: bool,
    now: datetime | None,
) -> pa.Table:
    """The feature vectors of ``entities`` (a list of dicts or a DataFrame) as one Arrow table."""
    keys = _entity_table(plan, entities)
    moment = _now(now)
    columns: dict[str, pa.Array] = {}
    for group in plan.groups:
        request = pa.Table.from_arrays(
            [_cast_key(plan, keys.column(c), t, c) for c, t in zip(group.entity_columns, group.key_types, strict=True)],
            names=list(group.key_columns),
        )
        rows = plan.store.read(group.table, request, list(group.features))
        times = rows.column(group.event_time)
        if not allow_missing and times.null_count:
            _raise_missing(plan, group, keys, pc.is_valid(times))
        stale = None if group.ttl is None else _stale(times, moment - group.ttl)
        for feature, name in zip(group.features, group.names, strict=True):
            column = rows.column(feature)
            columns[name] = column if stale is None else pc.if_else(stale, pa.nulls(1, column.type)[0], column)
    table = pa.table({name: columns[name] for name in plan.features})
    if passed_features is not None:
        table = _apply_passed(plan, table, passed_features)
    return table


def vector_one(
    plan: VectorPlan, entity: Mapping[str, Any], *, allow_missing: bool, now: datetime | None
) -> dict[str, Any] | None:
    """One entity's vector as a dict through ``OnlineStore.read_one`` (no Arrow: one row costs far less).

    Gives the values ``vectors`` gives for ``[entity]``, or None when the entity needs that general path:
    a key value that is not a plain int or str of the key's type (to convert or refuse with its message),
    or a missing row with ``allow_missing=False`` (to raise).
    """
    for name, data_type in plan.entity_keys.items():
        if not _is_plain(entity.get(name), data_type):
            return None
    moment: datetime | None = None
    values: dict[str, Any] = {}
    for group in plan.groups:
        key = tuple(entity[column] for column in group.entity_columns)
        row = plan.store.read_one(group.table, key, group.features)
        if row is None:
            if not allow_missing:
                return None
            values.update(dict.fromkeys(group.names))
            continue
        stale = False
        if group.ttl is not None:
            moment = moment or _now(now)
            stale = _as_utc(row[group.event_time]) < moment - group.ttl
        for feature, name in zip(group.features, group.names, strict=True):
            values[name] = None if stale else row[feature]
    return {name: values[name] for name in plan.features}


def _is_plain(value: object, data_type: pa.DataType) -> bool:
    if pa.types.is_string(data_type):
        return isinstance(value, str)
    return pa.types.is_integer(data_type) and isinstance(value, int) and not isinstance(value, bool)


def _as_utc(value: date) -> datetime:
    """An event time as an aware datetime (naive ones are UTC, dates are their midnight UTC)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(), UTC)


def shape_one(table: pa.Table, return_type: ReturnType) -> Any:
    """One vector as a dict, a list or a one-row DataFrame."""
    if return_type == "pandas":
        return table.to_pandas()
    values: dict[str, Any] = table.to_pylist()[0]
    return values if return_type == "dict" else list(values.values())


def _stale(times: pa.ChunkedArray, cutoff: datetime) -> pa.Array | None:
    """Which found rows are older than ``cutoff`` (None when none is, the usual case: nothing to mask)."""
    # numpy rather than Arrow kernels: on a handful of rows each kernel call costs more than the work.
    stamps = times.to_numpy(zero_copy_only=False) if times.num_chunks != 1 else times.chunk(0).to_numpy(False)
    limit = np.datetime64(cutoff.astimezone(UTC).replace(tzinfo=None), "us")
    old = stamps < limit  # a missing row (NaT) compares False and is null already
    if not old.any():
        return None
    return pa.array(old)


def shape_many(table: pa.Table, return_type: ReturnType) -> Any:
    """Vectors as a list of dicts, a list of lists or a DataFrame."""
    if return_type == "pandas":
        return table.to_pandas()
    if return_type == "dict":
        return table.to_pylist()
    columns = [table.column(name).to_pylist() for name in table.column_names]
    return [list(row) for row in zip(*columns, strict=True)]


def check_return_type(return_type: Any) -> ReturnType:
    """``return_type`` if it is one we know."""
    if return_type not in _RETURN_TYPES:
        raise ValidationError(f"return_type must be one of {', '.join(_RETURN_TYPES)}, got {return_type!r}.")
    chosen: ReturnType = return_type
    return chosen


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if not isinstance(now, datetime):
        raise ValidationError(f"now must be a datetime, got {type(now).__name__}.")
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _entity_table(plan: VectorPlan, entities: Any) -> pa.Table:
    if isinstance(entities, pa.Table):
        return _conform_frame(plan, entities)
    module = type(entities).__module__
    if module.startswith("pandas") and hasattr(entities, "columns"):
        return _conform_frame(plan, pa.Table.from_pandas(entities, preserve_index=False))
    if module.startswith("polars") and hasattr(entities, "to_arrow"):
        return _conform_frame(plan, entities.to_arrow())
    if isinstance(entities, Sequence) and not isinstance(entities, str | bytes):
        if not all(isinstance(entity, Mapping) for entity in entities):
            raise ValidationError(
                f"Entities for {plan.view} must be dicts of key values, e.g. {_example(plan)}, or a DataFrame."
            )
        arrays = []
        for name, data_type in plan.entity_keys.items():
            missing = [i for i, entity in enumerate(entities) if name not in entity]
            if missing:
                raise ValidationError(
                    f"Entity {missing[0]} for {plan.view} lacks key column '{name}': pass "
                    f"{', '.join(plan.entity_keys)}, e.g. {_example(plan)}."
                )
            values = [entity[name] for entity in entities]
            try:
                arrays.append(pa.array(values, type=data_type))
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
                kinds = ", ".join(sorted({type(value).__name__ for value in values}))
                raise ValidationError(
                    f"Key column '{name}' of {plan.view} must be {data_type}, got {kinds} values: convert the keys."
                ) from None
        return _refuse_null_keys(plan, pa.Table.from_arrays(arrays, names=list(plan.entity_keys)))
    raise ValidationError(
        f"Entities for {plan.view} must be a list of dicts or a DataFrame, got {type(entities).__name__}."
    )


def _conform_frame(plan: VectorPlan, frame: pa.Table) -> pa.Table:
    arrays = []
    for name, data_type in plan.entity_keys.items():
        if name not in frame.column_names:
            raise ValidationError(
                f"Entities for {plan.view} lack key column '{name}': pass {', '.join(plan.entity_keys)}."
            )
        column = frame.column(name)
        if _family(column.type) != _family(data_type):
            raise ValidationError(
                f"Key column '{name}' of {plan.view} must be {data_type}, got {column.type}: convert the keys."
            )
        arrays.append(_cast_key(plan, column, data_type, name))
    return _refuse_null_keys(plan, pa.Table.from_arrays(arrays, names=list(plan.entity_keys)))


def _family(data_type: pa.DataType) -> str:
    for family, test in (
        ("integer", pa.types.is_integer),
        ("float", pa.types.is_floating),
        ("string", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
        ("time", pa.types.is_timestamp),
        ("date", pa.types.is_date),
        ("bool", pa.types.is_boolean),
    ):
        if test(data_type):
            return family
    return str(data_type)


def _cast_key(
    plan: VectorPlan, column: pa.Array | pa.ChunkedArray, data_type: pa.DataType, name: str
) -> pa.Array | pa.ChunkedArray:
    if column.type == data_type:
        return column
    try:
        return pc.cast(column, data_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise ValidationError(
            f"Key column '{name}' of {plan.view} must be {data_type}; some values of type {column.type} do not "
            "fit: convert the keys."
        ) from None


def _refuse_null_keys(plan: VectorPlan, keys: pa.Table) -> pa.Table:
    for name in keys.column_names:
        column = keys.column(name)
        if column.null_count:
            row = column.is_null().to_pylist().index(True)
            raise ValidationError(f"Entity {row} for {plan.view} has no value for key column '{name}'.")
    return keys


def _example(plan: VectorPlan) -> str:
    return "{" + ", ".join(f"'{name}': ..." for name in plan.entity_keys) + "}"


def _raise_missing(plan: VectorPlan, group: _VectorGroup, keys: pa.Table, found: pa.ChunkedArray) -> None:
    row = pc.index(found, False).as_py()
    entity = ", ".join(f"{name}={keys.column(name)[row].as_py()!r}" for name in group.entity_columns)
    raise NotFoundError(
        f"{group.group.capitalize()} has no online row for {entity} ({plan.view}): insert or materialize it, "
        "or pass allow_missing=True to get nulls."
    )


def _apply_passed(plan: VectorPlan, table: pa.Table, passed: Any) -> pa.Table:
    count = table.num_rows
    if isinstance(passed, Mapping):
        rows: Sequence[Mapping[str, Any]] = [passed] * count
    elif isinstance(passed, Sequence) and not isinstance(passed, str | bytes):
        rows = passed
        if len(rows) != count or not all(isinstance(row, Mapping) for row in rows):
            raise ValidationError(
                f"passed_features for {plan.view} must be one dict, or a list of {count} dicts (one per entity)."
            )
    else:
        raise ValidationError(f"passed_features for {plan.view} must be a dict, got {type(passed).__name__}.")
    names = list(dict.fromkeys(name for row in rows for name in row))
    unknown = [name for name in names if name not in plan.features]
    if unknown:
        raise ValidationError(
            f"passed_features for {plan.view} name {', '.join(map(repr, unknown))}, which the view does not "
            f"serve; its features are: {', '.join(plan.features)}."
        )
    for name in names:
        current = table.column(name)
        given = [name in row for row in rows]
        values = [row.get(name) for row in rows]
        try:
            array = pa.array(values, type=current.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            array = pa.array(values)
        merged = array if all(given) else pc.if_else(pa.array(given), array, current.combine_chunks().cast(array.type))
        table = table.set_column(table.schema.get_field_index(name), name, merged)
    return table
