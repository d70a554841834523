"""Feature views: a versioned query plus labels, read point-in-time correctly for training and batch scoring.

Over 400 lines: the view is the one place its query is read (online vectors, training data, the batch join,
and the batch join read in parts by parallel tasks), and each read path is a thin delegation to the modules
that do the work (``serving``, ``training``, ``point_in_time``); splitting it would split one object.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from fti.core.features import FeatureViewRecord
from fti.errors import NotFoundError, ValidationError
from fti.features.point_in_time import JoinedGroup, point_in_time_sql
from fti.features.schema import schema_from_specs
from fti.features.statistics import quote
from fti.features.stores import FeatureStores, query_engine
from fti.features.time_travel import Snapshot, snapshot

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow.dataset as pads

    from fti.features.queries import Query
    from fti.features.serving import ReturnType, ServingPlan
    from fti.features.training import TrainingDataset

__all__ = ["FeatureView", "time_literal"]

#: DuckDB's memory while streaming a join (batch predictions): larger joins spill instead of growing
_STREAM_MEMORY = "1GB"


def time_literal(moment: datetime) -> str:
    """A SQL timestamp literal in UTC for a datetime we were given (naive means UTC)."""
    if not isinstance(moment, datetime):
        raise ValidationError(f"Expected a datetime for start/end, got {type(moment).__name__}.")
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return f"TIMESTAMP '{utc.replace(tzinfo=None).isoformat(sep=' ')}'"


class FeatureView:
    """A versioned selection of features (a point-in-time query) plus labels.

    Example:
        >>> fv = project.create_feature_view("fraud", query=labels.select(["is_fraud"]).join(cards.select_all()),
        ...                                  labels=["is_fraud"])  # doctest: +SKIP
        >>> fv.get_batch_data()  # doctest: +SKIP
    """

    def __init__(self, stores: FeatureStores, record: FeatureViewRecord, query: Query) -> None:
        self._stores = stores
        self._record = record
        self.query = query
        self._serving: ServingPlan | None = None

    @property
    def record(self) -> FeatureViewRecord:
        """The catalog record."""
        return self._record

    @property
    def name(self) -> str:
        """The view's name."""
        return self._record.name

    @property
    def version(self) -> int:
        """The view's version."""
        return self._record.version

    @property
    def description(self) -> str:
        """What the view is for."""
        return self._record.description

    @property
    def labels(self) -> list[str]:
        """The label columns (the training targets)."""
        return list(self._record.labels)

    def __repr__(self) -> str:
        return f"FeatureView(name={self.name!r}, version={self.version})"

    # -- reading -----------------------------------------------------------------------------------

    def get_batch_data(self, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        """The joined rows of the spine whose event time is in ``[start, end)``, ordered by event time and key."""
        frame: pd.DataFrame = self.batch_table(self.latest_snapshots(), start, end).to_pandas()
        return frame

    def get_training_data(self, spine: Any) -> pd.DataFrame:
        """Join the view's features onto ``spine``: a DataFrame of keys, event times and (usually) labels.

        The result has the spine's rows in the spine's order, its columns, and each feature of the view
        not already in it, as of each row's event time.
        """
        frame: pd.DataFrame = self._spine_table(spine, self.latest_snapshots()).to_pandas()
        return frame

    # -- online feature vectors --------------------------------------------------------------------

    def serving_keys(self) -> dict[str, pa.DataType]:
        """The entity columns a feature vector lookup needs, with their Arrow types.

        Raises:
            ValidationError: a group giving the view a feature is not online.
        """
        return dict(self._serving_plan().entity_keys)

    def get_feature_vector(
        self,
        entity: dict[str, Any],
        passed_features: dict[str, Any] | None = None,
        return_type: ReturnType = "dict",
        allow_missing: bool = True,
        *,
        now: datetime | None = None,
    ) -> Any:
        """The view's features (labels excluded, in the view's order) for one entity, from the online store.

        Each online group the view joins is looked up by its key, taken from ``entity`` as the view's query
        maps it (the spine's primary key, or a join's ``on`` columns). A value older than its group's ttl
        reads as null.

        Args:
            entity: the key values, e.g. ``{"cc_num": 4242}``.
            passed_features: values computed at request time; they supply or override features.
            return_type: ``"dict"`` (name -> value), ``"list"`` (values in order) or ``"pandas"`` (one row).
            allow_missing: give nulls for an entity the online store lacks (otherwise NotFoundError).
            now: the moment ttl is measured from (default: the current time).

        Raises:
            ValidationError: a key column is missing or of the wrong type, or a group the view joins is not
                online.
            NotFoundError: with ``allow_missing=False``, a group has no row for the entity.

        Example:
            >>> fv.get_feature_vector({"cc_num": 4242})  # doctest: +SKIP
            {'amount': 12.5, 'country': 'DE'}
        """
        from fti.features.serving import check_return_type, shape_one, vector_one, vectors

        chosen = check_return_type(return_type)
        if not isinstance(entity, dict):
            raise ValidationError(
                f"get_feature_vector of feature view '{self.name}' v{self.version} takes one entity as a dict, "
                f"got {type(entity).__name__}; use get_feature_vectors for several."
            )
        if passed_features is not None and not isinstance(passed_features, dict):
            raise ValidationError(f"passed_features must be a dict, got {type(passed_features).__name__}.")
        plan = self._serving_plan()
        if passed_features is None and chosen != "pandas":
            found = vector_one(plan, entity, allow_missing=allow_missing, now=now)
            if found is not None:
                return found if chosen == "dict" else list(found.values())
        table = vectors(plan, [entity], passed_features, allow_missing=allow_missing, now=now)
        return shape_one(table, chosen)

    def get_feature_vectors(
        self,
        entities: Any,
        passed_features: Any = None,
        return_type: ReturnType = "dict",
        allow_missing: bool = True,
        *,
        now: datetime | None = None,
    ) -> Any:
        """Feature vectors of many entities, with one online-store read per feature group.

        Args:
            entities: a list of key dicts, or a DataFrame (or pyarrow Table) with the key columns.
            passed_features: one dict for every entity, or a list of dicts, one per entity.
            return_type: ``"dict"`` (a list of dicts), ``"list"`` (a list of lists) or ``"pandas"``.
            allow_missing: give nulls for entities the online store lacks (otherwise NotFoundError).
            now: the moment ttl is measured from (default: the current time).

        Example:
            >>> fv.get_feature_vectors([{"cc_num": 1}, {"cc_num": 2}], return_type="pandas")  # doctest: +SKIP
        """
        from fti.features.serving import check_return_type, shape_many, vectors

        chosen = check_return_type(return_type)
        table = vectors(self._serving_plan(), entities, passed_features, allow_missing=allow_missing, now=now)
        return shape_many(table, chosen)

    def _serving_plan(self) -> ServingPlan:
        if self._serving is None:
            from fti.features.serving import plan_serving

            self._serving = plan_serving(self._stores, self)
        return self._serving

    # -- training datasets -------------------------------------------------------------------------

    def create_training_data(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        split: dict[str, float] | None = None,
        split_by: str = "time",
        seed: int | None = None,
        description: str = "",
    ) -> TrainingDataset:
        """Materialize a new training dataset version from the spine rows in ``[start, end)``.

        Args:
            split: fractions per split, e.g. ``{"train": 0.7, "validation": 0.15, "test": 0.15}``.
            split_by: ``"time"`` (no validation/test row older than a training row) or ``"random"``.
            seed: for a random split (default: a random seed, recorded so the dataset can be rebuilt).
        """
        from fti.features.training import create_training_dataset

        return create_training_dataset(
            self, start=start, end=end, split=split, split_by=split_by, seed=seed, description=description
        )

    def get_training_dataset(self, version: int | None = None) -> TrainingDataset:
        """A training dataset of this view (default: the latest)."""
        from fti.features.training import TrainingDataset

        with self._stores.catalog.transaction() as tx:
            record = tx.training_datasets.find(self._record.id, version)
        if record is None:
            which = "any training dataset" if version is None else f"training dataset version {version}"
            raise NotFoundError(
                f"Feature view '{self.name}' v{self.version} has no {which}: create one with create_training_data()."
            )
        return TrainingDataset(self._stores, self, record)

    def training_datasets(self) -> list[TrainingDataset]:
        """Every training dataset of this view, oldest first."""
        from fti.features.training import TrainingDataset

        with self._stores.catalog.transaction() as tx:
            records = tx.training_datasets.list(self._record.id)
        return [TrainingDataset(self._stores, self, record) for record in records]

    # -- the join ----------------------------------------------------------------------------------

    def latest_snapshots(self) -> dict[int, Snapshot]:
        """Every group of the query at its latest commit, by catalog id."""
        return self.snapshots_at({})

    def snapshots_at(self, commits: dict[int, int]) -> dict[int, Snapshot]:
        """Every group of the query at the given commits (by group id; missing ones at their latest)."""
        result = {}
        with self._stores.catalog.transaction() as tx:
            for part in self.query.parts:
                record = part.group.record
                if record.id in result:
                    continue
                fresh = tx.feature_groups.find_by_id(record.id) or record
                history = tx.feature_groups.commits(record.id)
                result[record.id] = snapshot(fresh, history, commits.get(record.id))
        return result

    def batch_table(self, snapshots: dict[int, Snapshot], start: datetime | None, end: datetime | None) -> pa.Table:
        """The point-in-time join over the spine group's rows in ``[start, end)`` as an Arrow table."""
        connection = query_engine()
        try:
            sql, _ = self._batch_sql(connection, snapshots, start, end, ordered=True)
            return connection.sql(sql).to_arrow_table()
        finally:
            connection.close()

    def batch_stream(
        self,
        snapshots: dict[int, Snapshot],
        start: datetime | None,
        end: datetime | None,
        batch_rows: int,
        features: Collection[str] | None = None,
        partition: tuple[int, int] | None = None,
    ) -> tuple[int, Iterator[pa.RecordBatch]]:
        """The number of rows and the point-in-time join of ``batch_table``, streamed in no particular order.

        ``features`` limits the result to those feature columns (besides the spine's keys and event time),
        so columns nobody uses are neither read nor joined. ``partition`` ``(index, count)`` gives only one of
        ``count`` disjoint parts of the rows, which together are all of them: parallel tasks each read one.

        DuckDB produces the batches as they are consumed (within its memory limit), so a join larger than
        memory streams through; not sorting saves a full sort of the result. A view of one group with
        nothing to join or de-duplicate is scanned by Arrow's dataset reader instead (filters pushed down,
        about half the CPU of converting DuckDB's result to Arrow).
        """
        scanned = self._scan_stream(snapshots, start, end, batch_rows, features, partition)
        if scanned is not None:
            return scanned
        connection = query_engine(memory_limit=_STREAM_MEMORY)
        try:
            sql, spine = self._batch_sql(
                connection, snapshots, start, end, ordered=False, features=features, partition=partition
            )
            total = int(connection.sql(f"SELECT count(*) FROM {spine}").fetchall()[0][0])
            if total == 0:
                connection.close()
                return 0, iter(())
            reader = connection.sql(sql).to_arrow_reader(batch_rows)
        except BaseException:
            connection.close()
            raise
        return total, _closing_batches(connection, reader)

    def _scan_stream(
        self,
        snapshots: dict[int, Snapshot],
        start: datetime | None,
        end: datetime | None,
        batch_rows: int,
        features: Collection[str] | None = None,
        partition: tuple[int, int] | None = None,
    ) -> tuple[int, Iterator[pa.RecordBatch]] | None:
        """``batch_stream`` by an Arrow dataset scan, or None when the view needs DuckDB (joins, repeated
        keys to resolve, or a time range over an event time that is not a timestamp). A partition is a run of
        the table's row groups."""
        import pyarrow.dataset as pads

        spine = self.query.parts[0]
        view = snapshots[spine.group.record.id]
        record = view.record
        schema = schema_from_specs(record.schema or ())
        if len(self.query.parts) != 1 or view.commit is None or view.needs_dedupe or schema is None:
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

    def _batch_sql(
        self,
        connection: duckdb.DuckDBPyConnection,
        snapshots: dict[int, Snapshot],
        start: datetime | None,
        end: datetime | None,
        *,
        ordered: bool,
        features: Collection[str] | None = None,
        partition: tuple[int, int] | None = None,
    ) -> tuple[str, str]:
        """The join's SQL and the spine's query, registered in ``connection`` (only ``features``, if given; only
        the ``partition`` of the spine's keys, if given)."""
        spine = self.query.parts[0]
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
        return point_in_time_sql(rows, record.event_time, columns, joins, order), rows

    def _spine_table(self, spine: Any, snapshots: dict[int, Snapshot]) -> pa.Table:
        table = _as_table(spine)
        first = self.query.parts[0]
        record = first.group.record
        needed = [record.event_time, *(name for part in self.query.parts[1:] for name in part.on)]
        missing_spine = [name for name in first.features if name not in table.column_names]
        if missing_spine:
            needed += list(record.primary_key)
        absent = [name for name in dict.fromkeys(needed) if name not in table.column_names]
        if absent:
            raise ValidationError(
                f"The spine for feature view '{self.name}' v{self.version} has no column "
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
        for i, part in enumerate(self.query.parts[start:], start=start):
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


def _as_table(data: Any) -> pa.Table:
    module = type(data).__module__
    if module.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False)
    if module.startswith("polars"):
        return data.to_arrow()
    if isinstance(data, pa.Table):
        return data
    raise ValidationError(
        f"A spine must be a pandas or Polars DataFrame or a pyarrow Table, got {type(data).__name__}."
    )


def _closing_batches(connection: duckdb.DuckDBPyConnection, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    try:
        for batch in reader:
            if batch.num_rows:
                yield batch
    finally:
        connection.close()
