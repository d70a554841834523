"""The point-in-time join in partitions: spine and feature rows hash-partitioned by the entity key, each
partition's ASOF join run by DuckDB in an executor task (a local process or a Ray task).

A spine row can only match feature rows of its own key, so with every table split by the same hash of the
key the partitions' joins together are the whole join: the result equals the single-node join
(:func:`~fti.features.point_in_time.point_in_time_sql` over the whole tables) row for row, in the spine's
order. Each task receives its partition's Arrow tables (on Ray they travel through the object store) and
returns its joined rows with their spine row numbers; the rows are put back in spine order with one
vectorized sort.

:func:`join_in_partitions` is how the point-in-time reader uses it (feature views' ``get_batch_data`` and
training datasets, when the project's executor is a cluster): it reads the spine and the groups' rows out of
a DuckDB connection where the single-node join is registered, and joins them in partitions; a join whose
groups do not share one spine key (or whose key types differ) is left to the single-node join.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from fti.errors import ValidationError
from fti.features.asof_join import JoinedGroup, point_in_time_sql
from fti.features.sql import query_engine, quote

if TYPE_CHECKING:
    import duckdb

    from fti.backends.ports import Executor

__all__ = [
    "PARTITIONS_PER_WORKER",
    "FeatureRows",
    "JoinPartition",
    "hash_partitions",
    "join_in_partitions",
    "join_partition",
    "partitioned_point_in_time",
]

#: partitions per worker: uneven partitions even out over several, each a task of its own
PARTITIONS_PER_WORKER = 2

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


def join_in_partitions(
    connection: duckdb.DuckDBPyConnection,
    spine: str,
    spine_time: str,
    columns: Sequence[str],
    joins: Sequence[JoinedGroup],
    order_by: Sequence[str],
    executor: Executor,
) -> pa.Table | None:
    """The rows of ``point_in_time_sql(spine, spine_time, columns, joins, order_by)``, whose sources are
    registered in ``connection``, joined in partitions on ``executor``; None when the join cannot be
    partitioned (no group to join, or groups that do not share one spine key of the same types)."""
    if not joins:
        return None
    selected = ", ".join(f"s.{quote(name)}" for name in columns)
    order = f" ORDER BY {', '.join(f's.{quote(name)}' for name in order_by)}" if order_by else ""
    spine_sql = f"SELECT {selected} FROM {spine} AS s"
    queries = [_rows_query(join) for join in joins]
    # the schemas first (no rows read): a join that cannot be partitioned goes to the single-node join
    empty = [
        FeatureRows(connection.sql(f"{query} LIMIT 0").to_arrow_table(), join)
        for query, join in zip(queries, joins, strict=True)
    ]
    if _partition_problem(connection.sql(f"{spine_sql} LIMIT 0").to_arrow_table().schema, empty):
        return None
    spine_rows = connection.sql(f"{spine_sql}{order}").to_arrow_table()
    groups = [
        FeatureRows(connection.sql(query).to_arrow_table(), join) for query, join in zip(queries, joins, strict=True)
    ]
    return partitioned_point_in_time(spine_rows, spine_time, groups, executor, executor.workers * PARTITIONS_PER_WORKER)


def _rows_query(join: JoinedGroup) -> str:
    """The columns of a group's rows that its join reads: keys, event time, features."""
    needed = dict.fromkeys(
        [*(right for _, right in join.on), join.event_time, *(column for column, _ in join.features)]
    )
    return f"SELECT {', '.join(quote(name) for name in needed)} FROM {join.source}"


def _spine_keys(spine: pa.Table, groups: Sequence[FeatureRows]) -> list[str]:
    problem = _partition_problem(spine.schema, groups)
    if problem:
        raise ValidationError(problem)
    return [left for left, _ in groups[0].join.on]


def _partition_problem(spine: pa.Schema, groups: Sequence[FeatureRows]) -> str | None:
    """Why the groups cannot be joined in partitions of one key onto a spine of ``spine``, or None."""
    if not groups:
        return "A partitioned point-in-time join needs at least one feature group to join."
    spine_keys = [left for left, _ in groups[0].join.on]
    for group in groups:
        lefts = [left for left, _ in group.join.on]
        if lefts != spine_keys:
            return (
                f"A partitioned point-in-time join partitions every table by one entity key, but the groups "
                f"join on spine columns {spine_keys} and {lefts}: join them on the same key, or use the "
                "single-node join (the local executor)."
            )
        for left, right in group.join.on:
            left_type, right_type = spine.field(left).type, group.rows.schema.field(right).type
            if left_type != right_type:
                return (
                    f"The spine's key '{left}' is {left_type} but the feature rows' '{right}' is {right_type}: "
                    "equal keys must hash alike, so cast one to the other's type."
                )
    return None


def _empty(numbered: pa.Table, spine_time: str, groups: Sequence[FeatureRows]) -> JoinPartition:
    """A partition with no rows, so an empty spine gives an empty result with the join's columns."""
    return JoinPartition(
        0, numbered, spine_time, tuple(FeatureRows(group.rows.slice(0, 0), group.join) for group in groups)
    )
