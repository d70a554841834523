"""Writing one feature-group commit: plan the schema, stream the validated rows into one offline-table
transaction, measure them, then record the commit (and its source's new cursor) in one catalog transaction.

The offline data is written before the catalog row that makes it visible (STYLE.md E4): a process killed
at any point leaves either nothing visible or the whole commit, and a source's cursor moves only with
the commit of what was read from it, so a run killed midway reads the same rows again and a finished
run never reads them twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from fti.core.features import CommitRecord, FeatureGroupRecord
from fti.core.sources import CommitLineage, SourceCursorRecord
from fti.errors import BackendError, ConflictError, ValidationError
from fti.features.expectations import Expectation, expectation_from_json
from fti.features.ingest import InsertStream
from fti.features.schema import plan_schema
from fti.features.statistics import compute_statistics, quote
from fti.features.stores import FeatureStores, query_engine, register_dataset
from fti.features.stream_statistics import StreamStatistics

__all__ = ["CursorMove", "WrittenCommit", "write_commit"]

#: statistics of a large commit spill to disk rather than grow the inserting process
_MEASURE_MEMORY = "256MB"


@dataclass(frozen=True, slots=True)
class CursorMove:
    """The cursor a commit moves: the source's name, where it was read from, and its cursor once read."""

    source: str
    kind: str
    location: str
    previous_commit: int | None
    cursor: Callable[[], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class WrittenCommit:
    """What :func:`write_commit` recorded."""

    commit: int
    rows: int
    rows_replaced: int
    committed_at: datetime


def write_commit(
    stores: FeatureStores,
    record: FeatureGroupRecord,
    commits: list[CommitRecord],
    what: str,
    data: tuple[pa.Schema, Iterator[pa.RecordBatch]],
    *,
    lineage: CommitLineage | Callable[[], CommitLineage],
    cursor: CursorMove | None = None,
    unique_keys: bool = False,
) -> WrittenCommit:
    """Write ``data`` (its schema and batches) as the group's next commit; see the module docstring.

    Raises:
        ValidationError: the schema does not match, a key or event time is null, or an expectation
            failed. Nothing is written.
        ConflictError: another insert took the commit number, or moved the source's cursor, meanwhile.
    """
    source_schema, batches = data
    plan = plan_schema(what, source_schema, record.schema, record.primary_key, record.event_time)
    expectations = [expectation_from_json(item) for item in record.expectations]
    _check_expectations(what, expectations, plan.target.names)
    offline = stores.offline
    latest = offline.version(record.table)
    commit = 0 if latest is None else latest + 1
    stream = InsertStream(
        what=what,
        plan=plan,
        keys=(*record.primary_key, record.event_time),
        commit=commit,
        expectations=expectations,
    )
    try:
        offline.write(record.table, stream.reader(batches), version=commit)
    except BackendError:
        if stream.error is not None:
            raise stream.error from None
        raise
    except ConflictError as exc:
        raise ConflictError(
            f"{what}: another insert committed at the same time, so nothing of this one was written. Insert again."
        ) from exc
    statistics, replaced = measure(stores, record, commits, commit, stream.statistics, unique_keys=unique_keys)
    committed_at = datetime.now(UTC)
    committed = CommitRecord(
        feature_group_id=record.id,
        commit=commit,
        committed_at=committed_at,
        rows_inserted=stream.rows - replaced,
        rows_replaced=replaced,
        statistics=statistics,
        lineage=lineage() if callable(lineage) else lineage,
    )
    with stores.catalog.transaction() as tx:
        if record.schema is None:
            tx.feature_groups.set_schema(record.id, plan.specs)
        tx.feature_groups.add_commit(committed)
        if cursor is not None:
            moved = SourceCursorRecord(
                record.id, cursor.source, cursor.kind, cursor.location, cursor.cursor(), commit, committed_at
            )
            tx.source_cursors.advance(moved, cursor.previous_commit)
    return WrittenCommit(commit, stream.rows, replaced, committed_at)


def _check_expectations(what: str, expectations: list[Expectation], columns: list[str]) -> None:
    for expectation in expectations:
        if expectation.column is not None and expectation.column not in columns:
            raise ValidationError(
                f"{what}: expectation {expectation.describe()} names column '{expectation.column}', which the "
                f"feature group does not have ({', '.join(columns)}); create a new version without it."
            )


def measure(
    stores: FeatureStores,
    record: FeatureGroupRecord,
    commits: list[CommitRecord],
    commit: int,
    gathered: StreamStatistics,
    *,
    unique_keys: bool = False,
) -> tuple[dict[str, Any], int]:
    """Statistics of commit ``commit``, its repeated (key, event time) pairs, and how many rows it replaced.

    Most statistics were gathered while the rows streamed; the written rows are read back only for what
    that could not tell: string and boolean columns, repeated pairs when the pairs did not arrive in
    increasing order (or ``unique_keys`` promised none), and the replaced count when the new rows' event
    times overlap a visible commit's (appending newer data, the common case, skips that join).
    """
    statistics = gathered.result()
    knows_pairs = unique_keys or gathered.keys_are_unique
    overlaps = bool(commits) and _times_overlap(record.event_time, statistics, commits)
    if knows_pairs and not overlaps and not gathered.categories:
        statistics["duplicate_keys"] = 0
        return statistics, 0
    keys = ", ".join(quote(name) for name in (*record.primary_key, record.event_time))
    connection = query_engine(memory_limit=_MEASURE_MEMORY)
    try:
        register_dataset(connection, "written", stores.offline.read(record.table, version=commit))
        new_rows = f"(SELECT * FROM written WHERE _fti_commit = {commit})"
        if gathered.categories:
            schema = pa.schema([field for field in gathered.schema if field.name in set(gathered.categories)])
            for name, stats in compute_statistics(connection, new_rows, schema)["columns"].items():
                statistics["columns"][name] = stats
        distinct = (
            statistics["rows"]
            if knows_pairs
            else _scalar(connection, f"SELECT count(*) FROM (SELECT DISTINCT {keys} FROM {new_rows})")
        )
        statistics["duplicate_keys"] = statistics["rows"] - distinct
        replaced = 0
        if overlaps:
            visible = ", ".join(str(item.commit) for item in commits)
            replaced = _scalar(
                connection,
                f"SELECT count(*) FROM {new_rows} AS n SEMI JOIN "
                f"(SELECT {keys} FROM written WHERE _fti_commit IN ({visible})) AS o USING ({keys})",
            )
    finally:
        connection.close()
    return statistics, replaced


def _time_range(statistics: dict[str, Any], column: str) -> tuple[datetime, datetime] | None:
    """The (min, max) event time a commit's statistics recorded, or None when unknown."""
    stats = statistics.get("columns", {}).get(column, {})
    try:
        return datetime.fromisoformat(str(stats["min"])), datetime.fromisoformat(str(stats["max"]))
    except (KeyError, TypeError, ValueError):
        return None


def _times_overlap(event_time: str, new: dict[str, Any], commits: list[CommitRecord]) -> bool:
    """Whether the new rows' event times may meet a visible commit's (unknown ranges count as overlapping)."""
    if not new.get("rows"):
        return False
    fresh = _time_range(new, event_time)
    if fresh is None:
        return True
    for item in commits:
        old = _time_range(item.statistics, event_time)
        if old is None:
            return True
        try:
            if fresh[0] <= old[1] and old[0] <= fresh[1]:
                return True
        except TypeError:  # a date against a timestamp: do not guess
            return True
    return False


def _scalar(connection: Any, sql: str) -> int:
    rows = connection.sql(sql).fetchall()
    return int(rows[0][0]) if rows else 0
