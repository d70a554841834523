"""Aggregation groups: feature groups defined by windowed aggregations over events, and their backfill.

The definition (:class:`~fti.features.aggregations.AggregationSpec`) is stored with the feature group, in its
``fti.aggregation`` tag, so the group and the definition its rows were computed by are written in one catalog
transaction. The backfill computes every event's aggregates from a batch of history with DuckDB and commits
them to the group; the stream engine (:mod:`fti.streams`) computes the same rows incrementally.

A key's windows see only that key's events, so on a cluster executor the backfill computes the windows in
key-hash partitions of the events, one executor task each, and puts the rows back in key and event-time
order: the same rows, in the same order, as one DuckDB query over all the events, committed as one commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.core.sources import Source
from fti.errors import NotFoundError, ValidationError
from fti.features.aggregations import AGGREGATION_TAG, AggregationSpec, typed_events_sql, window_query
from fti.features.ingest import source_batches
from fti.features.online import ensure_online_table, online_store
from fti.features.partitioned_join import PARTITIONS_PER_WORKER, hash_partitions
from fti.features.sql import query_engine, quote

if TYPE_CHECKING:
    import pandas as pd

    from fti.backends.ports import Executor
    from fti.features.groups import FeatureGroup, InsertResult
    from fti.features.stores import FeatureStores

__all__ = ["AggregationGroup", "compute_aggregates", "spec_of"]

_BACKFILL_MEMORY = "1GB"
_BATCH_ROWS = 65_536


def spec_of(group: FeatureGroup) -> AggregationSpec:
    """The aggregation definition stored with ``group``; NotFoundError if it is a plain feature group."""
    text = group.tags.get(AGGREGATION_TAG)
    if text is None:
        raise NotFoundError(
            f"Feature group '{group.name}' v{group.version} is not an aggregation group: create one with "
            "project.create_aggregation_group(...)."
        )
    return AggregationSpec.from_json(text)


class AggregationGroup:
    """A feature group whose rows are windowed aggregates of events, one row per event (key, event time).

    Example:
        >>> card_windows.backfill(transactions)  # doctest: +SKIP
        >>> card_windows.read().columns  # doctest: +SKIP
    """

    def __init__(self, stores: FeatureStores, group: FeatureGroup) -> None:
        self._stores = stores
        self._group = group
        self._spec = spec_of(group)
        self._online_table: str | None = None

    @property
    def feature_group(self) -> FeatureGroup:
        """The feature group the aggregates are written to."""
        return self._group

    @property
    def spec(self) -> AggregationSpec:
        """The definition: key, event time, aggregations, lateness, stream."""
        return self._spec

    @property
    def name(self) -> str:
        """The group's name."""
        return self._group.name

    @property
    def version(self) -> int:
        """The group's version."""
        return self._group.version

    def __repr__(self) -> str:
        return f"AggregationGroup(name={self.name!r}, version={self.version})"

    def backfill(self, events: Any) -> InsertResult:
        """Compute every event's aggregates from ``events`` and commit them as one commit.

        Windows see only the events given: pass the whole history, or at least one longest window before the
        first row you want right. Rows for (key, event time) pairs already in the group are replaced.

        Args:
            events: a pandas or Polars DataFrame, an Arrow table, a record batch reader or a batch source.

        Raises:
            ValidationError: a column is missing or unreadable as its type, or a key or event time is null.
        """
        what = f"Backfill of aggregation group '{self.name}'"
        reader = compute_aggregates(self._spec, events, what, self._stores.cluster_executor())
        result: InsertResult = self._group.insert(reader)
        return result

    def read(self) -> pd.DataFrame:
        """The group's rows (see :meth:`FeatureGroup.read`)."""
        return self._group.read()

    def write_online(self, rows: pa.Table) -> int:
        """Upsert aggregate rows into the online store, guarded by event time (a replay never moves a value
        back); return how many keys were written. Nothing happens for an offline-only group."""
        record = self._group.record
        if not record.is_online or rows.num_rows == 0:
            return 0
        store = online_store(self._stores, record)
        if self._online_table is None:
            self._online_table = ensure_online_table(store, record)
        return store.write(self._online_table, rows)

    def append(self, rows: pa.Table, *, is_online_written: bool = False) -> InsertResult | None:
        """Commit aggregate rows to the offline store as one commit: the last row given per (key, event time)
        wins, and replaces the group's stored one. None when there are no rows.

        For an online group the commit's rows are written online as well, like any insert, unless
        ``is_online_written`` says the caller already did (:meth:`write_online`).
        """
        if rows.num_rows == 0:
            return None
        keys = ", ".join(quote(column) for column in (*self._spec.key, self._spec.event_time))
        numbered = rows.append_column("__seq", pa.array(np.arange(rows.num_rows, dtype=np.int64)))
        connection = query_engine()
        try:
            connection.register("__rows", numbered)
            latest = connection.sql(
                f"SELECT * EXCLUDE (__seq) FROM __rows QUALIFY row_number() OVER (PARTITION BY {keys} "
                "ORDER BY __seq DESC) = 1"
            ).to_arrow_table()
        finally:
            connection.unregister("__rows")
            connection.close()
        result: InsertResult = self._group.insert_rows(
            latest.cast(rows.schema), unique_keys=False, is_online_written=is_online_written
        )
        return result


def compute_aggregates(
    spec: AggregationSpec, events: Any, what: str, executor: Executor | None = None
) -> pa.RecordBatchReader:
    """Each event's aggregates over the events given, in key and event-time order (the backfill's rows);
    computed in key-hash partitions on ``executor`` when given, else in this process.

    Raises:
        ValidationError: a column is missing or unreadable as its type, or a key or event time is null.
    """
    if isinstance(events, Source):
        events = (batch.data for batch in events.read(None))
    schema, batches = source_batches(events, what)
    needed = [*spec.key, spec.event_time, *spec.value_columns]
    missing = [column for column in needed if column not in schema.names]
    if missing:
        raise ValidationError(
            f"{what}: the events have no column {', '.join(repr(c) for c in missing)}; they have "
            f"{', '.join(schema.names)}."
        )
    selected = pa.schema([schema.field(column) for column in dict.fromkeys(needed)]).append(
        pa.field("__seq", pa.int64())
    )
    reader = pa.RecordBatchReader.from_batches(selected, _numbered(batches, needed))
    # a database of its own with a memory limit: the events, their sort and the windows spill to disk beyond it,
    # and the rows stream out as the caller reads them (the connection closes with the last batch)
    connection = query_engine(memory_limit=_BACKFILL_MEMORY)
    name = f"__events_{uuid.uuid4().hex}"
    try:
        connection.register("__raw", reader)
        typed = typed_events_sql(spec, "__raw").replace(" FROM __raw", ", __seq FROM __raw")
        keys = ", ".join(quote(column) for column in spec.key)
        connection.execute(
            f"CREATE TEMP TABLE {name} AS SELECT * EXCLUDE (__seq) FROM ({typed}) "
            f"QUALIFY row_number() OVER (PARTITION BY {keys}, __t ORDER BY __seq) = 1"
        )
        connection.unregister("__raw")
        _check_nulls(connection, spec, name, what)
        if executor is None:
            rows = connection.sql(window_query(spec, name)).to_arrow_reader(_BATCH_ROWS)
            return pa.RecordBatchReader.from_batches(rows.schema, _closing_batches(connection, rows))
        table = _windows_in_partitions(connection, spec, name, executor)
    except duckdb.ConversionException as exc:
        connection.close()
        raise ValidationError(
            f"{what}: a value cannot be read as its declared type ({exc}). Fix the events, or declare the "
            "column's value_type (fti.agg.max('x', ..., value_type='string')) or key_types."
        ) from exc
    except BaseException:
        connection.close()
        raise
    connection.close()
    return table.to_reader()


def _closing_batches(connection: duckdb.DuckDBPyConnection, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    try:
        for batch in reader:
            if batch.num_rows:
                yield batch
    finally:
        connection.close()


@dataclass(frozen=True, slots=True)
class _EventPart:
    """One executor task of a partitioned backfill: a key-hash partition of the typed, de-duplicated events."""

    spec: AggregationSpec
    events: pa.Table


def _window_part(part: _EventPart) -> pa.Table:
    """An executor task: the aggregates of one partition's events."""
    connection = query_engine()
    try:
        connection.register("__events", part.events)
        return connection.sql(window_query(part.spec, "__events")).to_arrow_table()
    finally:
        connection.close()


def _windows_in_partitions(
    connection: duckdb.DuckDBPyConnection, spec: AggregationSpec, events: str, executor: Executor
) -> pa.Table:
    """:func:`window_query` over ``events`` in key-hash partitions on ``executor``, in key and event-time order."""
    rows = connection.sql(f"SELECT * FROM {events}").to_arrow_table()
    parts = hash_partitions(rows, list(spec.key), executor.workers * PARTITIONS_PER_WORKER)
    parts = [part for part in parts if part.num_rows]
    if len(parts) < 2:
        return connection.sql(window_query(spec, events)).to_arrow_table()
    table = pa.concat_tables(executor.map(_window_part, [_EventPart(spec, part) for part in parts]))
    order = [(name, "ascending") for name in (*spec.key, spec.event_time)]
    return table.take(pc.sort_indices(table, sort_keys=order))


def _numbered(batches: Iterator[pa.RecordBatch], columns: list[str]) -> Iterator[pa.RecordBatch]:
    start = 0
    for batch in batches:
        picked = batch.select(list(dict.fromkeys(columns)))
        sequence = pa.array(np.arange(start, start + batch.num_rows, dtype=np.int64))
        start += batch.num_rows
        yield pa.RecordBatch.from_arrays([*picked.columns, sequence], names=[*picked.schema.names, "__seq"])


def _check_nulls(connection: duckdb.DuckDBPyConnection, spec: AggregationSpec, table: str, what: str) -> None:
    for column in (*spec.key, "__t"):
        found = connection.execute(f"SELECT count(*) FROM {table} WHERE {quote(column)} IS NULL").fetchall()[0]
        if found[0]:
            shown = spec.event_time if column == "__t" else column
            raise ValidationError(
                f"{what}: {found[0]} event(s) have no value in '{shown}'; every event needs its key and event "
                "time. Drop or fill those rows."
            )
