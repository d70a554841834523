"""Feature groups: versioned tables of features keyed by primary key and event time.

Over 400 lines: one class is the group's whole public surface (description, writing, maintenance, reading,
statistics, queries), each part delegating to its own module.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from os import PathLike, fspath
from typing import TYPE_CHECKING, Any, Literal, Unpack, overload

from fti.core.features import CommitRecord, FeatureGroupRecord
from fti.core.sources import Source, SourceCursorRecord
from fti.errors import FtiError, NotFoundError, ValidationError
from fti.features.compaction import Compaction, compact, compact_if_due, vacuum
from fti.features.expectations import Expectation, expectation_from_json
from fti.features.ingestion import IngestResult, InsertOptions, ingest_data, ingest_source, preparation_of
from fti.features.neighbors import plan_search
from fti.features.online import (
    MATERIALIZE_BATCH_ROWS,
    ensure_online_table,
    latest_rows,
    online_store,
    report_online_failure,
    write_latest,
)
from fti.features.preparation import Preparation
from fti.features.queries import Query, check_features
from fti.features.sql import query_engine, quote
from fti.features.statistics import has_current_bins, measure_snapshot
from fti.features.stores import FeatureStores
from fti.features.time_travel import AsOf, describe_group, snapshot

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FeatureGroup", "InsertResult"]


@dataclass(frozen=True, slots=True)
class InsertResult:
    """What one insert did: its commit number, how many rows it added or replaced, and its online write.

    For an ``online=True`` group, ``online_keys`` is how many keys the insert wrote to the online store
    and ``online_error`` says why the online write failed (the offline commit stands; run
    ``materialize()`` to repair the online store). Both are None for an offline-only group.
    """

    commit: int
    rows_inserted: int
    rows_replaced: int
    committed_at: datetime
    online_keys: int | None = None
    online_error: str | None = None


class FeatureGroup:
    """A versioned table of features with a primary key and an event-time column.

    Get one from :meth:`fti.Project.create_feature_group` or :meth:`fti.Project.get_feature_group`.

    Example:
        >>> cards = project.get_feature_group("card_activity")  # doctest: +SKIP
        >>> cards.insert(df)  # doctest: +SKIP
        >>> cards.read(as_of=0)  # doctest: +SKIP
    """

    def __init__(self, stores: FeatureStores, record: FeatureGroupRecord) -> None:
        self._stores = stores
        self._record = record
        self._removed = False

    # -- description -------------------------------------------------------------------------------

    @property
    def record(self) -> FeatureGroupRecord:
        """The catalog record as last loaded."""
        return self._record

    @property
    def name(self) -> str:
        """The group's name."""
        return self._record.name

    @property
    def version(self) -> int:
        """The group's version."""
        return self._record.version

    @property
    def description(self) -> str:
        """What the group holds."""
        return self._record.description

    @property
    def primary_key(self) -> list[str]:
        """The primary-key columns."""
        return list(self._record.primary_key)

    @property
    def event_time(self) -> str:
        """The event-time column."""
        return self._record.event_time

    @property
    def online(self) -> bool:
        """Whether the group is also served from the online store."""
        return self._record.is_online

    @property
    def ttl(self) -> timedelta | None:
        """How long a row stays valid in point-in-time joins (None: forever)."""
        seconds = self._record.ttl_seconds
        return None if seconds is None else timedelta(seconds=seconds)

    @property
    def tags(self) -> dict[str, str]:
        """Free-form labels."""
        return dict(self._record.tags)

    @property
    def expectations(self) -> list[Expectation]:
        """The checks every insert must pass."""
        return [expectation_from_json(item) for item in self._record.expectations]

    @property
    def schema(self) -> list[tuple[str, str]] | None:
        """The columns and their Arrow types as text, or None before the first insert."""
        if self._record.schema is None:
            return None
        return [(spec.name, spec.type) for spec in self._record.schema]

    @property
    def features(self) -> list[str]:
        """The columns that are neither primary key nor event time."""
        keys = {*self._record.primary_key, self._record.event_time}
        return [spec.name for spec in self._record.schema or () if spec.name not in keys]

    def __repr__(self) -> str:
        return f"FeatureGroup(name={self.name!r}, version={self.version})"

    # -- writing -----------------------------------------------------------------------------------

    @overload
    def insert(self, data: Source | str | PathLike[str], **options: Unpack[InsertOptions]) -> IngestResult: ...

    @overload
    def insert(self, data: Any, **options: Unpack[InsertOptions]) -> InsertResult: ...

    def insert(self, data: Any, **options: Unpack[InsertOptions]) -> InsertResult | IngestResult:
        """Insert rows as one atomic commit; rows with an existing (primary key, event time) replace it.

        Data in memory is committed whole. A source (``fti.sources.csv(...)``, ``fti.sources.sql(...)``, or a
        path or URL, opened with :func:`fti.sources.open_source`) is read from where the group's last commit
        from it stopped, and its cursor moves with the commit: a run killed midway leaves nothing and the
        next run reads the same rows; nothing new makes no commit. A first insert that fails removes the
        group it would have filled (it had no data yet); the next insert creates it again.

        Args:
            data: a source, a path or URL, a pandas or Polars DataFrame, a pyarrow Table or RecordBatch, a
                RecordBatchReader or an iterable of RecordBatches (streamed; never loaded whole).
            **options: see :class:`InsertOptions`: ``transform``, ``rename``, ``normalize_names``,
                ``parse_dates``, ``pipeline``, ``progress``.

        Raises:
            ValidationError: the schema does not match, a column name is not an identifier, a key or event
                time is null, an expectation failed, or the source's input is malformed. Nothing is written.

        Example:
            >>> cards.insert(fti.sources.csv("data/*.csv"), rename={"monthly spend": "spend"})  # doctest: +SKIP
        """
        preparation = preparation_of(options)
        if isinstance(data, str | PathLike):
            if self._stores.open_source is None:
                raise ValidationError(f"Insert into {describe_group(self._record)}: no source can be opened here.")
            data = self._stores.open_source(fspath(data))
        if isinstance(data, Source):
            return self._ingest(data, preparation, options)
        return self._insert(data, preparation, unique_keys=False, pipeline=options.get("pipeline"))

    def insert_rows(self, data: Any, *, unique_keys: bool, is_online_written: bool = False) -> InsertResult:
        """``insert`` for producers that know their rows: ``unique_keys=True`` promises one row per
        (primary key, event time), which skips counting repeated pairs (batch predictions over a feature
        view, whose spine rows are unique by construction). A false promise makes reads skip the
        de-duplication of repeated pairs, so only pass it for rows built that way. ``is_online_written=True``
        says the caller already wrote these rows to the online store (a stream job does, before the offline
        commit), so the commit is not written online again; ``online_keys`` is then None.
        """
        return self._insert(
            data, Preparation(), unique_keys=unique_keys, pipeline=None, is_online_written=is_online_written
        )

    def _insert(
        self,
        data: Any,
        preparation: Preparation,
        *,
        unique_keys: bool,
        pipeline: str | None,
        is_online_written: bool = False,
    ) -> InsertResult:
        record, commits = self._reload()
        try:
            written = ingest_data(
                self._stores, record, commits, data, preparation, unique_keys=unique_keys, pipeline=pipeline
            )
        except BaseException:
            self._remove_if_empty(record, commits)
            raise
        result = InsertResult(
            written.commit, written.rows - written.rows_replaced, written.rows_replaced, written.committed_at
        )
        keys, error = self._after_commit(written.commit, is_online_written=is_online_written)
        return replace(result, online_keys=keys, online_error=error)

    def _ingest(self, source: Source, preparation: Preparation, options: InsertOptions) -> IngestResult:
        record, commits = self._reload()
        try:
            result, written = ingest_source(
                self._stores,
                record,
                commits,
                source,
                preparation,
                pipeline=options.get("pipeline"),
                progress=options.get("progress"),
            )
        except BaseException:
            self._remove_if_empty(record, commits)
            raise
        if written is None:
            return result
        keys, error = self._after_commit(written.commit)
        return replace(result, online_keys=keys, online_error=error)

    def _after_commit(self, commit: int, *, is_online_written: bool = False) -> tuple[int | None, str | None]:
        """Write the commit's rows online (for an online group), then compact when enough small files gathered."""
        fresh, history = self._reload()
        keys, error = None, None
        if fresh.is_online and not is_online_written:
            keys, error = self._write_online(fresh, history, commit)
        compact_if_due(self._stores, fresh, len(history))
        return keys, error

    def _write_online(
        self, record: FeatureGroupRecord, commits: list[CommitRecord], commit: int
    ) -> tuple[int | None, str | None]:
        # After the offline commit: a failure here loses nothing that materialize() cannot rebuild.
        try:
            store = online_store(self._stores, record)
            table = ensure_online_table(store, record)
            _, rows = latest_rows(self._stores, snapshot(record, commits, commit), only_commit=commit)
            return write_latest(store, table, rows), None
        except FtiError as exc:
            return 0, report_online_failure(record, commit, exc)

    def _remove_if_empty(self, record: FeatureGroupRecord, commits: list[CommitRecord]) -> None:
        """After a failed first insert, remove the group it would have filled, so no empty group is left behind."""
        if commits:
            return
        with self._stores.catalog.transaction() as tx:
            self._removed = tx.feature_groups.delete_empty(record.id)
        if self._removed:
            # the empty table the first insert created (no other insert began on the group: none writes it)
            self._stores.offline.delete_table(record.table)

    def materialize(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        show_progress: bool = True,
        batch_rows: int = MATERIALIZE_BATCH_ROWS,
    ) -> int:
        """(Re)load the online store with the latest row per key whose event time is in ``[start, end)``.

        Reads the visible offline rows in bulk (DuckDB, as Arrow batches) and writes them in batches.
        Idempotent: a key whose online row is newer keeps it, so running it twice changes nothing, and
        running it again after a crash or a failed online write of an insert completes the load (each
        key has its old or its new row in between).

        Args:
            start: only rows with event time at or after it (default: all).
            end: only rows with event time before it (default: all).
            show_progress: draw a progress bar on the terminal.
            batch_rows: rows per online write.

        Returns:
            The number of keys the online store wrote (a key whose online row is newer is not counted).

        Raises:
            ValidationError: the group is not online, has no schema yet, or a bound is not a datetime.

        Example:
            >>> cards.materialize()  # doctest: +SKIP
            >>> cards.materialize(start=datetime(2024, 1, 1))  # doctest: +SKIP
        """
        if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
            raise ValidationError(f"batch_rows must be a positive whole number, got {batch_rows!r}.")
        record, commits = self._reload()
        store = online_store(self._stores, record)
        table = ensure_online_table(store, record)
        total, rows = latest_rows(self._stores, snapshot(record, commits), start=start, end=end, batch_rows=batch_rows)
        if not show_progress:
            written = write_latest(store, table, rows)
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            with Progress(*columns, transient=False) as progress:
                task = progress.add_task(f"Materializing {record.name} v{record.version}", total=total)
                written = write_latest(store, table, rows, lambda done: progress.advance(task, done))
        self._stores.audit("feature_group.materialize", record, keys=written)
        return written

    # -- maintenance -------------------------------------------------------------------------------

    def compact(self) -> Compaction:
        """Rewrite the group's small files into large ones, changing no read, time travel or training dataset.

        Inserts compact automatically once a group gathers ``features.compact_after`` small files.

        Example:
            >>> cards.compact().files_removed  # doctest: +SKIP
        """
        return compact(self._stores, self._reload()[0])

    def vacuum(self, retain: timedelta = timedelta(days=7)) -> int:
        """Delete the files only table versions older than ``retain`` read; return how many were deleted.

        Reads never need them (they scan the newest version); the versions that training datasets pinned
        keep their files, so those datasets stay readable as they were written, by any Delta reader. Rows
        that inserts killed before their catalog row left behind, in files older than ``retain``, are
        deleted first.
        """
        return vacuum(self._stores, self._reload()[0], retain)

    def source_cursors(self) -> list[SourceCursorRecord]:
        """Where each source inserted from stopped: its last cursor and the commit that recorded it."""
        record = self._reload()[0]
        with self._stores.catalog.transaction() as tx:
            return tx.source_cursors.list(record.id)

    # -- reading -----------------------------------------------------------------------------------

    def read(self, as_of: AsOf = None) -> pd.DataFrame:
        """The group's rows (one per primary key and event time), ordered by event time then key.

        Args:
            as_of: a commit number, a timestamp (the last commit at or before it), or None for now.
        """
        return self._rows(as_of, None)

    def head(self, n: int = 5, as_of: AsOf = None) -> pd.DataFrame:
        """The first ``n`` rows by event time then key, as :meth:`read` orders them, read without the rest.

        Example:
            >>> cards.head(3)  # doctest: +SKIP
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValidationError(f"head(n): n must be a whole number from 0 up, got {n!r}.")
        return self._rows(as_of, n)

    def _rows(self, as_of: AsOf, limit: int | None) -> pd.DataFrame:
        view = snapshot(*self._reload(), as_of)
        connection = query_engine()
        try:
            source = view.register(connection, self._stores.offline, "group_rows")
            order = ", ".join(quote(name) for name in (self._record.event_time, *self._record.primary_key))
            bounded = "" if limit is None else f" LIMIT {int(limit)}"
            table = connection.sql(f"SELECT * FROM {source} ORDER BY {order}{bounded}").to_arrow_table()
        finally:
            connection.close()
        frame: pd.DataFrame = table.to_pandas()
        return frame

    def commits(self) -> list[CommitRecord]:
        """Every commit, oldest first, with its time, row counts and statistics."""
        return self._reload()[1]

    def statistics(
        self, commit: int | None = None, *, scope: Literal["commit", "feature_group"] = "commit"
    ) -> dict[str, Any]:
        """Statistics of the rows one commit wrote, or of the whole group as of that commit.

        Args:
            commit: the commit (default: the latest).
            scope: ``"commit"`` for the rows the commit wrote (computed at insert), ``"feature_group"``
                for all the group's rows as of the commit (computed on first request, then kept in the
                catalog).

        Raises:
            NotFoundError: the group has no commits yet, or no such commit.
        """
        if scope not in ("commit", "feature_group"):
            raise ValidationError(f"scope must be 'commit' or 'feature_group', got {scope!r}.")
        commits = self._reload()[1]
        if not commits:
            raise NotFoundError(f"{describe_group(self._record).capitalize()} has no commits yet: insert data first.")
        chosen = commits[-1] if commit is None else next((c for c in commits if c.commit == commit), None)
        if chosen is None:
            numbers = ", ".join(str(item.commit) for item in commits)
            raise NotFoundError(
                f"{describe_group(self._record).capitalize()} has no commit {commit}; its commits are: {numbers}."
            )
        if scope == "commit":
            return chosen.statistics
        if chosen.group_statistics is not None and has_current_bins(chosen.group_statistics):
            return chosen.group_statistics
        return self._group_statistics(commits, chosen.commit)

    def _group_statistics(self, commits: list[CommitRecord], commit: int) -> dict[str, Any]:
        statistics = measure_snapshot(self._stores.offline, snapshot(self._record, commits, commit))
        with self._stores.catalog.transaction() as tx:
            tx.feature_groups.set_group_statistics(self._record.id, commit, statistics)
        return statistics

    def find_neighbors(
        self,
        query: Any,
        k: int = 10,
        *,
        column: str | None = None,
        filter: dict[str, Any] | None = None,
        features: list[str] | None = None,
        online: bool = True,
        model: str | None = None,
    ) -> pd.DataFrame:
        """The ``k`` rows whose vector is nearest ``query`` by cosine similarity, most similar first.

        Args:
            query: a vector of the column's dimension, or a text (embedded with :func:`fti.embed`).
            k: how many neighbours.
            column: the vector column; needed only when the group has several.
            filter: keep rows whose column equals a value, or is in a list of values: ``{"lang": ["en"]}``.
            features: the columns returned besides the key and ``score`` (default: all but the vectors).
            online: search the online table (True) or the offline latest row per key with DuckDB (False);
                both give the same neighbours, ties broken by key.
            model: the embedding model of a text query (default: the one :func:`fti.embed` uses).

        Returns:
            The key columns, the features and ``score`` (the cosine similarity), one row per neighbour.

        Example:
            >>> docs.find_neighbors("refund for a cancelled order", k=3)  # doctest: +SKIP
        """
        record = self._reload()[0]
        search = plan_search(record, query, k, column=column, filter=filter, features=features, model=model)
        table = search.online(self._stores) if online else search.offline(self._stores, snapshot(*self._reload()))
        frame: pd.DataFrame = table.to_pandas()
        return frame

    # -- queries -----------------------------------------------------------------------------------

    def select(self, features: list[str]) -> Query:
        """A query of these features (keys and event time are always included)."""
        return Query.of(self, features)

    def select_all(self) -> Query:
        """A query of every feature of the group."""
        return self.select(self.features)

    def select_except(self, features: list[str]) -> Query:
        """A query of every feature but these."""
        check_features(self, features)
        return self.select([name for name in self.features if name not in set(features)])

    def _reload(self) -> tuple[FeatureGroupRecord, list[CommitRecord]]:
        if self._removed:  # a failed first insert removed the group: create it again, as it was defined
            with self._stores.catalog.transaction() as tx:
                found = tx.feature_groups.find(self._record.name, self._record.version)
                self._record = found or tx.feature_groups.add(replace(self._record, id=0))
            self._removed = False
        with self._stores.catalog.transaction() as tx:
            record = tx.feature_groups.find_by_id(self._record.id)
            if record is None:
                raise NotFoundError(f"{describe_group(self._record).capitalize()} no longer exists.")
            commits = tx.feature_groups.commits(record.id)
        self._record = record
        return record, commits
