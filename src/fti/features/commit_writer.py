"""Writing one feature-group commit: plan the schema, stream the validated rows into one offline-table
transaction, measure them, then record the commit (and its source's new cursor) in one catalog transaction.

The offline data is written before the catalog row that makes it visible (STYLE.md E4): a process killed
at any point leaves either nothing visible or the whole commit, and a source's cursor moves only with
the commit of what was read from it, so a run killed midway reads the same rows again and a finished
run never reads them twice.

Inserts into one group from several processes at once all commit, none retried by its caller: each stamps
its rows with a stamp the catalog reserves for it alone, the offline table takes their appends in any
order, and each takes the next commit number when the catalog records it. A commit recorded while
another one was being written, whose event times may meet its own, is marked ``concurrent_overlap`` in
its statistics, so reads resolve their shared (key, event time) pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from fti.core.audit import audit_entry
from fti.core.events import new_event
from fti.core.features import ColumnSpec, CommitRecord, FeatureGroupRecord
from fti.core.sources import CommitLineage, SourceCursorRecord
from fti.errors import BackendError, ConflictError, ValidationError
from fti.faults import kill_point
from fti.features.expectations import Expectation, expectation_from_json
from fti.features.ingest import InsertStream
from fti.features.schema import HIDDEN_COLUMNS, check_online_schema, plan_schema
from fti.features.statistics import measure_commit, times_overlap
from fti.features.stores import FeatureStores

if TYPE_CHECKING:
    from fti.backends.ports import CatalogTransaction, OfflineStore

__all__ = ["CursorMove", "WrittenCommit", "reserve_stamp", "write_commit"]


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
    stamp: int,
    lineage: CommitLineage | Callable[[], CommitLineage],
    cursor: CursorMove | None = None,
    unique_keys: bool = False,
) -> WrittenCommit:
    """Write ``data`` (its schema and batches) as the group's next commit, its rows stamped with ``stamp`` (from
    :func:`reserve_stamp`, taken before reading the data); see the module docstring.

    Raises:
        ValidationError: the schema does not match, a key or event time is null, or an expectation
            failed. Nothing is written.
        ConflictError: another insert moved the source's cursor meanwhile, or set another schema in a group's
            first commit.
    """
    source_schema, batches = data
    plan = plan_schema(what, source_schema, record.schema, record.primary_key, record.event_time)
    if record.is_online:
        check_online_schema(what, plan.target)
    expectations = [expectation_from_json(item) for item in record.expectations]
    _check_expectations(what, expectations, plan.target.names)
    offline = stores.offline
    stream = InsertStream(
        what=what,
        plan=plan,
        keys=(*record.primary_key, record.event_time),
        commit=stamp,
        expectations=expectations,
    )
    _create_table(offline, record.table, stream.schema)
    if record.schema is None:
        _replace_abandoned_table(stores, record, stream.schema, what)
    kill_point("insert.before_offline_commit")
    try:
        table_version = offline.write(record.table, stream.reader(batches))
    except BackendError:
        if stream.error is not None:
            raise stream.error from None
        raise
    kill_point("insert.after_offline_commit")
    gathered = stream.statistics
    statistics, replaced = measure_commit(
        offline,
        record,
        commits,
        (stamp, table_version),
        plan.target,
        gathered=gathered.result(),
        unique_keys=unique_keys or gathered.keys_are_unique,
    )
    with stores.catalog.transaction() as tx:
        number = tx.feature_groups.next_commit(record.id)
        if record.schema is None:
            _check_rows_kept(offline, record, stamp, stream.rows, what)
            _claim_schema(tx, record, plan.specs, what)
        if number != (commits[-1].commit + 1 if commits else 0):
            known = {item.commit for item in commits}
            recorded_meanwhile = [item for item in tx.feature_groups.commits(record.id) if item.commit not in known]
            if times_overlap(record.event_time, statistics, recorded_meanwhile):
                statistics = statistics | {"concurrent_overlap": True}
        committed_at = datetime.now(UTC)
        committed = CommitRecord(
            feature_group_id=record.id,
            commit=number,
            committed_at=committed_at,
            rows_inserted=stream.rows - replaced,
            rows_replaced=replaced,
            statistics=statistics,
            lineage=lineage() if callable(lineage) else lineage,
            stamp=stamp,
            table_version=table_version,
        )
        tx.feature_groups.add_commit(committed)
        if cursor is not None:
            moved = SourceCursorRecord(
                record.id, cursor.source, cursor.kind, cursor.location, cursor.cursor(), number, committed_at
            )
            tx.source_cursors.advance(moved, cursor.previous_commit)
        tx.events.append(new_event("commit", record.name, version=record.version, commit=number, rows=stream.rows))
        tx.audit.append(
            audit_entry("feature_group.insert", f"{record.name} v{record.version}", commit=number, rows=stream.rows)
        )
        kill_point("insert.before_catalog_commit")
    kill_point("insert.after_catalog_commit")
    return WrittenCommit(number, stream.rows, replaced, committed_at)


def reserve_stamp(stores: FeatureStores, record: FeatureGroupRecord) -> int:
    """A stamp for the rows of one insert into the group, which no other insert takes. A group's first one
    comes after every table version: commits recorded before stamps existed stamped their rows with it."""
    latest = stores.offline.version(record.table)
    with stores.catalog.transaction() as tx:
        return tx.feature_groups.reserve_stamp(record.id, -1 if latest is None else latest)


def _create_table(offline: OfflineStore, table: str, schema: pa.Schema) -> None:
    """Create the group's table empty before its first insert writes, so that first inserts running at once
    all append to it (of writers creating a table at once, all but one fail)."""
    if offline.exists(table):
        return
    try:
        offline.write(table, schema.empty_table().to_reader())
    except (ConflictError, BackendError):
        if not offline.exists(table):
            raise


def _replace_abandoned_table(stores: FeatureStores, record: FeatureGroupRecord, schema: pa.Schema, what: str) -> None:
    """Before a group's first commit, replace its table when another first insert created it with another schema
    and never committed (its writer was killed, or is still writing and will then fail).

    The group's lock is held while the empty table of ``schema`` replaces it, and only while the group has no
    schema yet: a first insert that committed meanwhile set one, and then these rows are refused. A first insert
    still writing into the replaced table finds its rows gone when it commits, and fails
    (:func:`_check_rows_kept`), so no commit is ever recorded without its rows.
    """
    offline = stores.offline
    if _columns(offline.read(record.table).schema) == _columns(schema):
        return
    with stores.catalog.transaction() as tx:
        tx.feature_groups.next_commit(record.id)  # locks the group against commits until the table is replaced
        current = tx.feature_groups.find_by_id(record.id)
        if current is not None and current.schema is not None:
            raise ConflictError(
                f"{what}: another first insert set the schema meanwhile "
                f"({', '.join(f'{spec.name} {spec.type}' for spec in current.schema)}), which these rows do not "
                "have, so nothing of this one was written. Insert rows of that schema, or create a new version."
            )
        if _columns(offline.read(record.table).schema) != _columns(schema):
            offline.write(record.table, schema.empty_table().to_reader(), mode="overwrite")


def _check_rows_kept(offline: OfflineStore, record: FeatureGroupRecord, stamp: int, rows: int, what: str) -> None:
    """Before recording an insert that began while the group had no schema: its rows are still in the table (a
    first insert of another schema may have replaced it meanwhile, see :func:`_replace_abandoned_table`)."""
    kept = offline.read(record.table).count_rows(filter=pc.field(HIDDEN_COLUMNS[0]) == stamp)
    if kept != rows:
        raise ConflictError(
            f"{what}: another first insert with another schema replaced the group's table while these rows were "
            "written, so nothing of this one was recorded. Insert rows of the schema the group has now."
        )


def _columns(schema: pa.Schema) -> list[tuple[str, pa.DataType]]:
    return [(field.name, field.type) for field in schema]


def _claim_schema(tx: CatalogTransaction, record: FeatureGroupRecord, specs: tuple[ColumnSpec, ...], what: str) -> None:
    """Record the schema of the group's first commit, unless an insert that ran beside it recorded another."""
    current = tx.feature_groups.find_by_id(record.id)
    if current is None or current.schema is None:
        tx.feature_groups.set_schema(record.id, specs)
    elif current.schema != specs:
        raise ConflictError(
            f"{what}: another first insert set the schema meanwhile "
            f"({', '.join(f'{spec.name} {spec.type}' for spec in current.schema)}), which these rows do not "
            "have, so nothing of this one was recorded. Insert rows of that schema, or create a new version."
        )


def _check_expectations(what: str, expectations: list[Expectation], columns: list[str]) -> None:
    for expectation in expectations:
        if expectation.column is not None and expectation.column not in columns:
            raise ValidationError(
                f"{what}: expectation {expectation.describe()} names column '{expectation.column}', which the "
                f"feature group does not have ({', '.join(columns)}); create a new version without it."
            )
