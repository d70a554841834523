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

from fti.core.events import new_event
from fti.core.features import CommitRecord, FeatureGroupRecord
from fti.core.sources import CommitLineage, SourceCursorRecord
from fti.errors import BackendError, ConflictError, ValidationError
from fti.features.expectations import Expectation, expectation_from_json
from fti.features.ingest import InsertStream
from fti.features.schema import check_online_schema, plan_schema
from fti.features.statistics import measure_commit
from fti.features.stores import FeatureStores

__all__ = ["CursorMove", "WrittenCommit", "write_commit"]


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
    if record.is_online:
        check_online_schema(what, plan.target)
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
    gathered = stream.statistics
    statistics, replaced = measure_commit(
        offline,
        record,
        commits,
        commit,
        plan.target,
        gathered=gathered.result(),
        unique_keys=unique_keys or gathered.keys_are_unique,
    )
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
        tx.events.append(new_event("commit", record.name, version=record.version, commit=commit, rows=stream.rows))
    return WrittenCommit(commit, stream.rows, replaced, committed_at)


def _check_expectations(what: str, expectations: list[Expectation], columns: list[str]) -> None:
    for expectation in expectations:
        if expectation.column is not None and expectation.column not in columns:
            raise ValidationError(
                f"{what}: expectation {expectation.describe()} names column '{expectation.column}', which the "
                f"feature group does not have ({', '.join(columns)}); create a new version without it."
            )
