"""The point-in-time join in partitions: spine and feature rows hash-partitioned by the entity key, each
partition's ASOF join run by DuckDB in an executor task (a local process or a Ray task).

A spine row can only match feature rows of its own key, so with every table split by the same hash of the
key the partitions' joins together are the whole join: the result equals the single-node join
(:func:`~fti.features.point_in_time.point_in_time_sql` over the whole tables) row for row, in the spine's
order. Each task receives its partition's Arrow tables (on Ray they travel through the object store) and
returns its joined rows with their spine row numbers; the rows are put back in spine order with one
vectorized sort.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from fti.errors import ValidationError
from fti.features.point_in_time import JoinedGroup, point_in_time_sql
from fti.features.sql import query_engine, quote

if TYPE_CHECKING:
    from fti.backends.ports import Executor

__all__ = ["FeatureRows", "JoinPartition", "hash_partitions", "join_partition", "partitioned_point_in_time"]

_ROW = "_fti_spine_row"
_PART = "_fti_partition"


@dataclass(frozen=True, slots=True)
class FeatureRows:
    """One group's rows (one per key and event time) and how they join: ``join.source`` is ignored."""

    rows: pa.Table
    join: JoinedGroup


@dataclass(frozen=True, slots=True)
class JoinPartition:
    """One executor task: partition ``index`` of the spine and of every group's rows."""

    index: int
    spine: pa.Table
    spine_time: str
    groups: tuple[FeatureRows, ...]


def hash_partitions(table: pa.Table, keys: Sequence[str], count: int) -> list[pa.Table]:
    """``table`` split into ``count`` parts by DuckDB's hash of the ``keys`` columns (equal keys, same part)."""
    if count == 1:
        return [table]
    connection = query_engine()
    try:
        connection.register("rows", table)
        hashed = ", ".join(quote(name) for name in keys)
        ids = connection.sql(f"SELECT (hash({hashed}) % {int(count)})::INTEGER AS {_PART} FROM rows").to_arrow_table()
    finally:
        connection.close()
    column = ids.column(_PART)
    return [table.filter(pc.equal(column, index)) for index in range(count)]


def join_partition(partition: JoinPartition) -> pa.Table:
    """An executor task: the ASOF join of one partition, with the spine's row numbers, in spine order."""
    connection = query_engine()
    try:
        connection.register("spine_rows", partition.spine)
        joins = []
        for index, group in enumerate(partition.groups):
            connection.register(f"g{index}", group.rows)
            joins.append(replace(group.join, source=f"g{index}"))
        columns = partition.spine.column_names
        return connection.sql(
            point_in_time_sql("spine_rows", partition.spine_time, columns, joins, [_ROW])
        ).to_arrow_table()
    finally:
        connection.close()


def partitioned_point_in_time(
    spine: pa.Table, spine_time: str, groups: Sequence[FeatureRows], executor: Executor, partitions: int
) -> pa.Table:
    """The point-in-time join of ``groups`` onto ``spine`` in ``partitions`` tasks on ``executor``, in spine order.

    Every group must join on the same spine columns (the entity key the rows are partitioned by), with key
    columns of the same types on both sides.

    Raises:
        ValidationError: the groups join on different spine columns, or a key's types differ.
    """
    spine_keys = _spine_keys(spine, groups)
    numbered = spine.append_column(_ROW, pa.array(range(spine.num_rows), pa.int64()))
    spine_parts = hash_partitions(numbered, spine_keys, partitions)
    group_parts = [hash_partitions(group.rows, [right for _, right in group.join.on], partitions) for group in groups]
    tasks = [
        JoinPartition(
            index,
            spine_parts[index],
            spine_time,
            tuple(FeatureRows(parts[index], group.join) for parts, group in zip(group_parts, groups, strict=True)),
        )
        for index in range(partitions)
        if spine_parts[index].num_rows
    ]
    joined = executor.map(join_partition, tasks) if tasks else [join_partition(_empty(numbered, spine_time, groups))]
    table = pa.concat_tables(joined)
    return table.take(pc.sort_indices(table.column(_ROW))).drop_columns([_ROW])


def _spine_keys(spine: pa.Table, groups: Sequence[FeatureRows]) -> list[str]:
    if not groups:
        raise ValidationError("A partitioned point-in-time join needs at least one feature group to join.")
    spine_keys = [left for left, _ in groups[0].join.on]
    for group in groups:
        lefts = [left for left, _ in group.join.on]
        if lefts != spine_keys:
            raise ValidationError(
                f"A partitioned point-in-time join partitions every table by one entity key, but the groups "
                f"join on spine columns {spine_keys} and {lefts}: join them on the same key, or use the "
                "single-node join (the local executor)."
            )
        for left, right in group.join.on:
            left_type, right_type = spine.schema.field(left).type, group.rows.schema.field(right).type
            if left_type != right_type:
                raise ValidationError(
                    f"The spine's key '{left}' is {left_type} but the feature rows' '{right}' is {right_type}: "
                    "equal keys must hash alike, so cast one to the other's type."
                )
    return spine_keys


def _empty(numbered: pa.Table, spine_time: str, groups: Sequence[FeatureRows]) -> JoinPartition:
    """A partition with no rows, so an empty spine gives an empty result with the join's columns."""
    return JoinPartition(
        0, numbered, spine_time, tuple(FeatureRows(group.rows.slice(0, 0), group.join) for group in groups)
    )
