"""The point-in-time join: one DuckDB query (a chain of ASOF LEFT JOINs onto the spine), and the reader that runs
it over a query's feature groups at given commits.

For each spine row (key, t) and each joined group, the ASOF join picks the group's row with the same key
and the greatest event time <= t; a ttl then blanks a match older than t - ttl. The joined groups are
read de-duplicated (one row per key and event time), so the ASOF match is unique and the result has
exactly one row per spine row.

Feature views read through a :class:`PointInTimeReader`, and so do training datasets (which rebuild the
join from the commits they recorded).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from fti.errors import ValidationError
from fti.features.schema import schema_from_specs
from fti.features.sql import query_engine, quote, time_literal
from fti.features.time_travel import Snapshot, snapshot

if TYPE_CHECKING:
    import duckdb

    from fti.features.queries import Query
    from fti.features.stores import FeatureStores

__all__ = ["JoinedGroup", "PointInTimeReader", "point_in_time_sql"]

#: DuckDB's memory while streaming a join (batch predictions): larger joins spill instead of growing
_STREAM_MEMORY = "1GB"


@dataclass(frozen=True, slots=True)
class JoinedGroup:
    """One group to join: its rows (SQL), key pairs (spine column, group column), time, ttl and features."""

    source: str
    on: tuple[tuple[str, str], ...]
    event_time: str
    ttl_seconds: float | None
    features: tuple[tuple[str, str], ...]  # (group column, result name)


def point_in_time_sql(
    spine: str, spine_time: str, spine_columns: list[str], joins: list[JoinedGroup], order_by: list[str]
) -> str:
    """SELECT the spine's columns and each group's features, one row per spine row, ordered by ``order_by``
    (in no particular order when it is empty)."""
    selected = [f"s.{quote(name)}" for name in spine_columns]
    clauses = []
    for i, join in enumerate(joins):
        alias = f"j{i}"
        inner = ", ".join(
            [
                *(quote(column) for _, column in join.on),
                f"{quote(join.event_time)} AS _fti_time",
                *(quote(column) for column, _ in join.features),
            ]
        )
        condition = " AND ".join(f"s.{quote(left)} = {alias}.{quote(right)}" for left, right in join.on)
        clauses.append(
            f"ASOF LEFT JOIN (SELECT {inner} FROM {join.source}) AS {alias} "
            f"ON {condition} AND s.{quote(spine_time)} >= {alias}._fti_time"
        )
        for column, name in join.features:
            value = f"{alias}.{quote(column)}"
            if join.ttl_seconds is not None:
                micros = round(join.ttl_seconds * 1_000_000)
                value = (
                    f"CASE WHEN {alias}._fti_time >= s.{quote(spine_time)} - to_microseconds({micros}) THEN {value} END"
                )
            selected.append(f"{value} AS {quote(name)}")
    order = f" ORDER BY {', '.join(f's.{quote(name)}' for name in order_by)}" if order_by else ""
    return f"SELECT {', '.join(selected)} FROM {spine} AS s {' '.join(clauses)}{order}"


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
        """The point-in-time join over the spine group's rows in ``[start, end)`` as an Arrow table."""
        connection = query_engine()
        try:
            sql, _ = self._batch_sql(connection, snapshots, start, end, ordered=True)
            return connection.sql(sql).to_arrow_table()
        finally:
            connection.close()

    def stream(
        self,
        snapshots: dict[int, Snapshot],
        start: datetime | None,
        end: datetime | None,
        batch_rows: int,
        features: Collection[str] | None = None,
    ) -> tuple[int, Iterator[pa.RecordBatch]]:
        """The number of rows and the point-in-time join of :meth:`table`, streamed in no particular order.

        ``features`` limits the result to those feature columns (besides the spine's keys and event time),
        so columns nobody uses are neither read nor joined.

        DuckDB produces the batches as they are consumed (within its memory limit), so a join larger than
        memory streams through; not sorting saves a full sort of the result. A view of one group with
        nothing to join or de-duplicate is scanned by Arrow's dataset reader instead (filters pushed down,
        about half the CPU of converting DuckDB's result to Arrow).
        """
        scanned = self.scan_stream(snapshots, start, end, batch_rows, features)
        if scanned is not None:
            return scanned
        connection = query_engine(memory_limit=_STREAM_MEMORY)
        try:
            sql, spine = self._batch_sql(connection, snapshots, start, end, ordered=False, features=features)
            total = int(connection.sql(f"SELECT count(*) FROM {spine}").fetchall()[0][0])
            if total == 0:
                connection.close()
                return 0, iter(())
            reader = connection.sql(sql).to_arrow_reader(batch_rows)
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
    ) -> tuple[int, Iterator[pa.RecordBatch]] | None:
        """:meth:`stream` by an Arrow dataset scan, or None when the view needs DuckDB (joins, repeated
        keys to resolve, or a time range over an event time that is not a timestamp)."""
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
        dataset = self._stores.offline.read(record.table, version=view.commit)
        numbers = [item.commit for item in view.commits]
        condition: pads.Expression | None = None
        if numbers != list(range(view.commit + 1)):
            condition = pads.field("_fti_commit").isin(numbers)
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
        total = dataset.count_rows(filter=condition)
        if total == 0:
            return 0, iter(())
        # Little read-ahead: memory stays a few batches deep whatever the table size.
        batches = dataset.to_batches(
            columns=columns, filter=condition, batch_size=batch_rows, batch_readahead=2, fragment_readahead=1
        )
        return total, (batch for batch in batches if batch.num_rows)

    def _batch_sql(
        self,
        connection: duckdb.DuckDBPyConnection,
        snapshots: dict[int, Snapshot],
        start: datetime | None,
        end: datetime | None,
        *,
        ordered: bool,
        features: Collection[str] | None = None,
    ) -> tuple[str, str]:
        """The join's SQL and the spine's query, registered in ``connection`` (only ``features``, if given)."""
        spine = self._query.parts[0]
        record = snapshots[spine.group.record.id].record
        source = snapshots[record.id].register(connection, self._stores.offline, "g0")
        conditions = []
        if start is not None:
            conditions.append(f"{quote(record.event_time)} >= {time_literal(start)}")
        if end is not None:
            conditions.append(f"{quote(record.event_time)} < {time_literal(end)}")
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
        return point_in_time_sql(rows, record.event_time, columns, joins, order), rows

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
