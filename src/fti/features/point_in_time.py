"""The point-in-time join over a query's feature groups at given commits: the reader feature views and training
datasets read through (the SQL itself is :mod:`fti.features.asof_join`).

The joined groups are read de-duplicated (one row per key and event time), so each spine row gets exactly
one row. Training datasets rebuild the join from the commits they recorded. With a cluster executor in the
stores, a whole join (:meth:`PointInTimeReader.table`) runs in key-hash partitions on the cluster
(:mod:`fti.features.partitioned_join`), with the same rows in the same order as the single-node join.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from fti.errors import ValidationError
from fti.features.asof_join import JoinedGroup, point_in_time_sql
from fti.features.partitioned_join import join_in_partitions
from fti.features.schema import schema_from_specs
from fti.features.sql import query_engine, quote, time_literal
from fti.features.time_travel import Snapshot, snapshot

if TYPE_CHECKING:
    import duckdb
    import pyarrow.dataset as pads

    from fti.features.queries import Query
    from fti.features.stores import FeatureStores

__all__ = ["JoinedGroup", "PointInTimeReader", "point_in_time_sql"]

#: DuckDB's memory while streaming a join (batch predictions): larger joins spill instead of growing
_STREAM_MEMORY = "1GB"


@dataclass(frozen=True, slots=True)
class _BatchJoin:
    """A join over a spine group's rows: the spine's query, its time and columns, the groups, the order."""

    spine: str
    time: str
    columns: list[str]
    joins: list[JoinedGroup]
    order: list[str]

    def sql(self) -> str:
        """The join as one query."""
        return point_in_time_sql(self.spine, self.time, self.columns, self.joins, self.order)


class PointInTimeReader:
    """Reads a query's point-in-time join from the offline store: whole, streamed, or onto a given spine.

    Every read takes the groups' snapshots (from :meth:`latest_snapshots` or :meth:`snapshots_at`), so the
    same commits give the same rows.
    """

    def __init__(self, stores: FeatureStores, query: Query) -> None:
        self._stores = stores
        self._query = query

    def latest_snapshots(self) -> dict[int, Snapshot]:
        """Every group of the query at its latest commit, by catalog id."""
        return self.snapshots_at({})

    def snapshots_at(self, commits: dict[int, int]) -> dict[int, Snapshot]:
        """Every group of the query at the given commits (by group id; missing ones at their latest)."""
        result = {}
        with self._stores.catalog.transaction() as tx:
            for part in self._query.parts:
                record = part.group.record
                if record.id in result:
                    continue
                fresh = tx.feature_groups.find_by_id(record.id) or record
                history = tx.feature_groups.commits(record.id)
                result[record.id] = snapshot(fresh, history, commits.get(record.id))
        return result

    def table(self, snapshots: dict[int, Snapshot], start: datetime | None, end: datetime | None) -> pa.Table:
        """The point-in-time join over the spine group's rows in ``[start, end)`` as an Arrow table, ordered by
        event time and key: in partitions on the stores' executor when it is a cluster of several workers and
        every group joins on the same spine key, else in this process."""
        connection = query_engine()
        try:
            join = self._batch_join(connection, snapshots, start, end, ordered=True)
            executor = self._stores.cluster_executor()
            if executor is not None:
                joined = join_in_partitions(
                    connection, join.spine, join.time, join.columns, join.joins, join.order, executor
                )
                if joined is not None:
                    return joined
            return connection.sql(join.sql()).to_arrow_table()
        finally:
            connection.close()

    def stream(
        self,
        snapshots: dict[int, Snapshot],
        start: datetime | None,
        end: datetime | None,
        batch_rows: int,
        features: Collection[str] | None = None,
        partition: tuple[int, int] | None = None,
    ) -> tuple[int, Iterator[pa.RecordBatch]]:
        """The number of rows and the point-in-time join of :meth:`table`, streamed in no particular order.

        ``features`` limits the result to those feature columns (besides the spine's keys and event time),
        so columns nobody uses are neither read nor joined. ``partition`` ``(index, count)`` gives only one of
        ``count`` disjoint parts of the rows, which together are all of them: parallel tasks each read one.

        DuckDB produces the batches as they are consumed (within its memory limit), so a join larger than
        memory streams through; not sorting saves a full sort of the result. A view of one group with
        nothing to join or de-duplicate is scanned by Arrow's dataset reader instead (filters pushed down,
        about half the CPU of converting DuckDB's result to Arrow).
        """
        scanned = self.scan_stream(snapshots, start, end, batch_rows, features, partition)
        if scanned is not None:
            return scanned
        connection = query_engine(memory_limit=_STREAM_MEMORY)
        try:
            join = self._batch_join(
                connection, snapshots, start, end, ordered=False, features=features, partition=partition
            )
            total = int(connection.sql(f"SELECT count(*) FROM {join.spine}").fetchall()[0][0])
            if total == 0:
                connection.close()
                return 0, iter(())
            reader = connection.sql(join.sql()).to_arrow_reader(batch_rows)
        except BaseException:
            connection.close()
            raise
        return total, _closing_batches(connection, reader)

    def scan_stream(
        self,
        snapshots: dict[int, Snapshot],
        start: datetime | None,
        end: datetime | None,
        batch_rows: int,
        features: Collection[str] | None = None,
        partition: tuple[int, int] | None = None,
    ) -> tuple[int, Iterator[pa.RecordBatch]] | None:
        """:meth:`stream` by an Arrow dataset scan, or None when the view needs DuckDB (joins, repeated
        keys to resolve, or a time range over an event time that is not a timestamp). A partition is a run of
        the table's row groups."""
        import pyarrow.dataset as pads

        spine = self._query.parts[0]
        view = snapshots[spine.group.record.id]
        record = view.record
        schema = schema_from_specs(record.schema or ())
        if len(self._query.parts) != 1 or view.commit is None or view.needs_dedupe or schema is None:
            return None
        time_type = schema.field(record.event_time).type
        if (start is not None or end is not None) and not pa.types.is_timestamp(time_type):
            return None
        # the newest version holds every visible commit's rows (compaction keeps their commit numbers)
        dataset = self._stores.offline.read(record.table)
        condition: pads.Expression | None = view.commit_expression()
        for bound, keep in ((start, "ge"), (end, "lt")):
            if bound is None:
                continue
            time_literal(bound)  # the same check of the bound as the SQL path
            utc = bound.astimezone(UTC).replace(tzinfo=None) if bound.tzinfo else bound
            value = pa.scalar(utc, pa.timestamp("us")).cast(pa.timestamp(time_type.unit, tz=time_type.tz))
            column = pads.field(record.event_time)
            test = column >= value if keep == "ge" else column < value
            condition = test if condition is None else condition & test
        columns = list(dict.fromkeys([*record.primary_key, record.event_time, *_chosen(spine.features, features)]))
        if partition is not None:
            if not isinstance(dataset, pads.FileSystemDataset):
                return None  # no row groups to split: DuckDB reads the part by its keys
            dataset = _row_groups(dataset, condition, *partition)
        total = dataset.count_rows(filter=condition)
        if total == 0:
            return 0, iter(())
        # Little read-ahead: memory stays a few batches deep whatever the table size.
        batches = dataset.to_batches(
            columns=columns, filter=condition, batch_size=batch_rows, batch_readahead=2, fragment_readahead=1
        )
        return total, (batch for batch in batches if batch.num_rows)

    def _batch_join(
        self,
        connection: duckdb.DuckDBPyConnection,
        snapshots: dict[int, Snapshot],
        start: datetime | None,
        end: datetime | None,
        *,
        ordered: bool,
        features: Collection[str] | None = None,
        partition: tuple[int, int] | None = None,
    ) -> _BatchJoin:
        """The join over the spine group's rows, registered in ``connection`` (only ``features``, if given; only
        the ``partition`` of the spine's keys, if given)."""
        spine = self._query.parts[0]
        record = snapshots[spine.group.record.id].record
        source = snapshots[record.id].register(connection, self._stores.offline, "g0")
        conditions = []
        if start is not None:
            conditions.append(f"{quote(record.event_time)} >= {time_literal(start)}")
        if end is not None:
            conditions.append(f"{quote(record.event_time)} < {time_literal(end)}")
        if partition is not None:
            keys = ", ".join(quote(name) for name in record.primary_key)
            conditions.append(f"hash({keys}) % {int(partition[1])} = {int(partition[0])}")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = f"(SELECT * FROM {source}{where})"
        columns = list(dict.fromkeys([*record.primary_key, record.event_time, *_chosen(spine.features, features)]))
        joins = self._joins(connection, snapshots, start=1)
        if features is not None:
            # ASOF LEFT JOINs keep one row per spine row: a group none of whose features is wanted is left out
            kept = [
                replace(join, features=tuple(pair for pair in join.features if pair[1] in features)) for join in joins
            ]
            joins = [join for join in kept if join.features]
        order = [record.event_time, *record.primary_key] if ordered else []
        return _BatchJoin(rows, record.event_time, columns, joins, order)

    def onto(self, spine: pa.Table, snapshots: dict[int, Snapshot], what: str) -> pa.Table:
        """The query's features joined onto ``spine`` (rows of keys and event times) as of each row's event time,
        in the spine's order; ``what`` names the view in messages."""
        table = spine
        first = self._query.parts[0]
        record = first.group.record
        needed = [record.event_time, *(name for part in self._query.parts[1:] for name in part.on)]
        missing_spine = [name for name in first.features if name not in table.column_names]
        if missing_spine:
            needed += list(record.primary_key)
        absent = [name for name in dict.fromkeys(needed) if name not in table.column_names]
        if absent:
            raise ValidationError(
                f"The spine for {what} has no column "
                f"{', '.join(repr(n) for n in absent)}; it needs the event time '{record.event_time}' and the "
                "join keys of every feature group."
            )
        order = pa.array(range(table.num_rows), pa.int64())
        table = table.append_column("_fti_spine_row", order)
        connection = query_engine()
        try:
            connection.register("spine_rows", table)
            joins = self._joins(connection, snapshots, start=1)
            if missing_spine:
                source = snapshots[record.id].register(connection, self._stores.offline, "g0")
                joins.insert(
                    0,
                    JoinedGroup(
                        source=source,
                        on=tuple((name, name) for name in record.primary_key),
                        event_time=record.event_time,
                        ttl_seconds=record.ttl_seconds,
                        features=tuple((name, name) for name in missing_spine),
                    ),
                )
            columns = [name for name in table.column_names if name != "_fti_spine_row"]
            sql = point_in_time_sql("spine_rows", record.event_time, columns, joins, ["_fti_spine_row"])
            return connection.sql(sql).to_arrow_table()
        finally:
            connection.close()

    def _joins(
        self, connection: duckdb.DuckDBPyConnection, snapshots: dict[int, Snapshot], start: int
    ) -> list[JoinedGroup]:
        joins = []
        for i, part in enumerate(self._query.parts[start:], start=start):
            view = snapshots[part.group.record.id]
            record = view.record
            joins.append(
                JoinedGroup(
                    source=view.register(connection, self._stores.offline, f"g{i}"),
                    on=tuple(zip(part.on, record.primary_key, strict=True)),
                    event_time=record.event_time,
                    ttl_seconds=record.ttl_seconds,
                    features=tuple((name, part.prefix + name) for name in part.features),
                )
            )
        return joins


def _row_groups(
    dataset: pads.FileSystemDataset, condition: pads.Expression | None, index: int, count: int
) -> pads.FileSystemDataset:
    """Part ``index`` of ``count`` of ``dataset``: a run of its row groups (those ``condition`` may match)."""
    import pyarrow.dataset as pads

    groups = [
        group
        for fragment in dataset.get_fragments(filter=condition)
        for group in fragment.split_by_row_group(filter=condition, schema=dataset.schema)
    ]
    first, last = len(groups) * index // count, len(groups) * (index + 1) // count
    return pads.FileSystemDataset(groups[first:last], dataset.schema, dataset.format, dataset.filesystem)


def _chosen(names: Sequence[str], wanted: Collection[str] | None) -> list[str]:
    """``names`` in their order, only those in ``wanted`` (all when ``wanted`` is None)."""
    return list(names) if wanted is None else [name for name in names if name in wanted]


def _closing_batches(connection: duckdb.DuckDBPyConnection, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    try:
        for batch in reader:
            if batch.num_rows:
                yield batch
    finally:
        connection.close()
