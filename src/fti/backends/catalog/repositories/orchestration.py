"""The event log, pipelines and pipeline runs in the orchestration tables.

Two writers never interleave where order or counting matters: on PostgreSQL, appending an event and
claiming runs each take a transaction-scoped advisory lock (event ids then commit in id order, and two
schedulers never both see room under a pipeline's concurrency); SQLite's write lock does the same
there (every transaction begins IMMEDIATE).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from fti.backends.catalog.repositories.timestamps import as_utc
from fti.backends.catalog.schema import events, pipeline_runs, pipelines
from fti.core.events import Event
from fti.core.pipelines import PipelineRecord, PipelineRunRecord, RunState

__all__ = ["SqlEventRecords", "SqlPipelineRecords"]

#: arbitrary constants: the PostgreSQL advisory locks of event appends and run claims
_EVENTS_LOCK = 0x46544945
_CLAIM_LOCK = 0x46544943


def _advisory_lock(connection: Connection, lock_id: int) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


class SqlEventRecords:
    """Events in the ``events`` table."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def append(self, event: Event) -> int:
        """Record ``event`` and return its id (call it last in a transaction)."""
        _advisory_lock(self._connection, _EVENTS_LOCK)
        result = self._connection.execute(
            sa.insert(events).values(
                kind=event.kind,
                subject=event.subject,
                detail=dict(event.detail),
                created_at=event.created_at,
                pipeline_run_id=event.pipeline_run_id,
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def after(self, cursor: int, limit: int = 1000) -> list[Event]:
        """Events with an id above ``cursor``, oldest first."""
        rows = self._connection.execute(
            sa.select(events).where(events.c.id > cursor).order_by(events.c.id).limit(limit)
        ).all()
        return [_event(row) for row in rows]

    def last_id(self) -> int:
        """The newest event's id, or 0."""
        return int(self._connection.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0))).scalar_one())

    def produced_by(self, pipeline_run_ids: Sequence[str]) -> list[Event]:
        """Events written inside the pipeline runs, oldest first."""
        if not pipeline_run_ids:
            return []
        rows = self._connection.execute(
            sa.select(events).where(events.c.pipeline_run_id.in_(list(pipeline_run_ids))).order_by(events.c.id)
        ).all()
        return [_event(row) for row in rows]


def _event(row: sa.Row[Any]) -> Event:
    values = row._mapping
    return Event(
        kind=values["kind"],
        subject=str(values["subject"]),
        detail=dict(values["detail"]),
        created_at=as_utc(values["created_at"]),
        pipeline_run_id=values["pipeline_run_id"],
        id=int(values["id"]),
    )


class SqlPipelineRecords:
    """Pipelines in ``pipelines``, their runs in ``pipeline_runs``."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    # -- pipelines ---------------------------------------------------------------------------------

    def ensure(self, name: str, definition: Mapping[str, Any], now: datetime, event_cursor: int) -> PipelineRecord:
        """The pipeline's record with ``definition``; created with its cursors at ``now``/``event_cursor``."""
        values = {
            "name": name,
            "definition": dict(definition),
            "registered_at": now,
            "updated_at": now,
            "schedule_cursor": now,
            "event_cursor": event_cursor,
        }
        self._connection.execute(self._insert_ignoring(pipelines, ["name"]).values(**values))
        found = self.find(name)
        assert found is not None  # inserted above or already there
        if found.definition != definition:
            self._connection.execute(
                sa.update(pipelines).where(pipelines.c.name == name).values(definition=dict(definition), updated_at=now)
            )
            found = self.find(name)
            assert found is not None
        return found

    def find(self, name: str) -> PipelineRecord | None:
        """The pipeline's record, or None."""
        row = self._connection.execute(sa.select(pipelines).where(pipelines.c.name == name)).first()
        return None if row is None else _pipeline(row)

    def advance(self, name: str, *, schedule_cursor: datetime | None = None, event_cursor: int | None = None) -> None:
        """Move the cursors forward, never back."""
        where = pipelines.c.name == name
        if schedule_cursor is not None:
            self._connection.execute(
                sa.update(pipelines)
                .where(where, pipelines.c.schedule_cursor < schedule_cursor)
                .values(schedule_cursor=schedule_cursor)
            )
        if event_cursor is not None:
            self._connection.execute(
                sa.update(pipelines)
                .where(where, pipelines.c.event_cursor < event_cursor)
                .values(event_cursor=event_cursor)
            )

    # -- runs --------------------------------------------------------------------------------------

    def add_runs(self, runs: Sequence[PipelineRunRecord]) -> int:
        """Insert the runs, skipping existing (pipeline, slot, attempt); return how many were inserted."""
        inserted = 0
        # RETURNING counts the rows inserted: the drivers' rowcount of INSERT ... ON CONFLICT is not reliable
        statement = self._insert_ignoring(pipeline_runs, ["pipeline", "slot", "attempt"]).returning(pipeline_runs.c.id)
        for run in runs:
            inserted += len(self._connection.execute(statement.values(**_run_values(run))).all())
        return inserted

    def claim(
        self, owner: str, now: datetime, lease_until: datetime, concurrency: Mapping[str, int], limit: int
    ) -> list[PipelineRunRecord]:
        """Start up to ``limit`` due queued runs, within each pipeline's concurrency."""
        if limit <= 0 or not concurrency:
            return []
        due = sa.and_(
            pipeline_runs.c.state == RunState.QUEUED.value,
            pipeline_runs.c.due_at <= now,
            pipeline_runs.c.pipeline.in_(list(concurrency)),
        )
        if self._connection.execute(sa.select(pipeline_runs.c.id).where(due).limit(1)).first() is None:
            return []  # the common idle case: no lock taken
        _advisory_lock(self._connection, _CLAIM_LOCK)
        running: dict[str, int] = dict(
            self._connection.execute(
                sa.select(pipeline_runs.c.pipeline, sa.func.count())
                .where(pipeline_runs.c.state == RunState.RUNNING.value, pipeline_runs.c.pipeline.in_(list(concurrency)))
                .group_by(pipeline_runs.c.pipeline)
            ).all()
        )
        candidates = self._connection.execute(
            sa.select(pipeline_runs)
            .where(due)
            .order_by(pipeline_runs.c.due_at, pipeline_runs.c.created_at, pipeline_runs.c.id)
            .limit(limit + 100)
        ).all()
        claimed: list[PipelineRunRecord] = []
        for row in candidates:
            name = str(row._mapping["pipeline"])
            if len(claimed) >= limit or running.get(name, 0) >= concurrency[name]:
                continue
            started = self.claim_run(str(row._mapping["id"]), owner, now, lease_until)
            if started is not None:
                claimed.append(started)
                running[name] = running.get(name, 0) + 1
        return claimed

    def claim_run(self, run_id: str, owner: str, now: datetime, lease_until: datetime) -> PipelineRunRecord | None:
        """Start one queued run, or None when it is not queued (any more)."""
        updated = self._connection.execute(
            sa.update(pipeline_runs)
            .where(pipeline_runs.c.id == run_id, pipeline_runs.c.state == RunState.QUEUED.value)
            .values(state=RunState.RUNNING.value, owner=owner, started_at=now, lease_expires_at=lease_until)
        )
        return self.find_run(run_id) if updated.rowcount else None

    def renew(self, owner: str, lease_until: datetime) -> int:
        """Extend the leases of ``owner``'s running runs."""
        result = self._connection.execute(
            sa.update(pipeline_runs)
            .where(pipeline_runs.c.owner == owner, pipeline_runs.c.state == RunState.RUNNING.value)
            .values(lease_expires_at=lease_until)
        )
        return int(result.rowcount)

    def expire(self, now: datetime) -> list[PipelineRunRecord]:
        """Mark lost the running runs whose lease ended before ``now``."""
        stale = (
            sa.select(pipeline_runs.c.id)
            .where(pipeline_runs.c.state == RunState.RUNNING.value, pipeline_runs.c.lease_expires_at < now)
            .order_by(pipeline_runs.c.id)
        )
        lost = []
        for run_id in self._connection.execute(stale).scalars().all():
            updated = self._connection.execute(
                sa.update(pipeline_runs)
                .where(
                    pipeline_runs.c.id == run_id,
                    pipeline_runs.c.state == RunState.RUNNING.value,
                    pipeline_runs.c.lease_expires_at < now,
                )
                .values(
                    state=RunState.LOST.value,
                    ended_at=now,
                    error="Its scheduler stopped renewing the lease (the process died or lost the catalog).",
                )
            )
            if updated.rowcount:
                found = self.find_run(str(run_id))
                assert found is not None
                lost.append(found)
        return lost

    def finish(
        self, run_id: str, owner: str, state: RunState, ended_at: datetime, error: str | None, reads: Sequence[str]
    ) -> bool:
        """Record the end of a run ``owner`` holds; False when it no longer holds it."""
        updated = self._connection.execute(
            sa.update(pipeline_runs)
            .where(
                pipeline_runs.c.id == run_id,
                pipeline_runs.c.owner == owner,
                pipeline_runs.c.state == RunState.RUNNING.value,
            )
            .values(state=state.value, ended_at=ended_at, error=error, reads=list(reads), lease_expires_at=None)
        )
        return bool(updated.rowcount)

    def find_run(self, run_id: str) -> PipelineRunRecord | None:
        """The run, or None."""
        row = self._connection.execute(sa.select(pipeline_runs).where(pipeline_runs.c.id == run_id)).first()
        return None if row is None else _run(row)

    def runs(self, pipeline: str | None = None, limit: int = 50, offset: int = 0) -> list[PipelineRunRecord]:
        """Runs, newest first."""
        query = sa.select(pipeline_runs)
        if pipeline is not None:
            query = query.where(pipeline_runs.c.pipeline == pipeline)
        query = query.order_by(
            pipeline_runs.c.created_at.desc(), pipeline_runs.c.attempt.desc(), pipeline_runs.c.id.desc()
        )
        return [_run(row) for row in self._connection.execute(query.limit(limit).offset(offset)).all()]

    def count_queued(self, pipelines: Sequence[str]) -> int:
        """How many runs of ``pipelines`` wait to start."""
        if not pipelines:
            return 0
        return int(
            self._connection.execute(
                sa.select(sa.func.count()).where(
                    pipeline_runs.c.state == RunState.QUEUED.value, pipeline_runs.c.pipeline.in_(list(pipelines))
                )
            ).scalar_one()
        )

    def _insert_ignoring(self, table: sa.Table, keys: list[str]) -> Any:
        dialect = postgresql if self._connection.dialect.name == "postgresql" else sqlite
        return dialect.insert(table).on_conflict_do_nothing(index_elements=keys)

    def list(self) -> list[PipelineRecord]:
        """Every pipeline's record, by name."""
        rows = self._connection.execute(sa.select(pipelines).order_by(pipelines.c.name)).all()
        return [_pipeline(row) for row in rows]


def _pipeline(row: sa.Row[Any]) -> PipelineRecord:
    values = row._mapping
    return PipelineRecord(
        name=str(values["name"]),
        definition=dict(values["definition"]),
        registered_at=as_utc(values["registered_at"]),
        updated_at=as_utc(values["updated_at"]),
        schedule_cursor=as_utc(values["schedule_cursor"]),
        event_cursor=int(values["event_cursor"]),
    )


def _run_values(run: PipelineRunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "pipeline": run.pipeline,
        "slot": run.slot,
        "attempt": run.attempt,
        "trigger": run.trigger,
        "state": run.state.value,
        "due_at": run.due_at,
        "created_at": run.created_at,
        "params": dict(run.params),
        "scheduled_for": run.scheduled_for,
        "event_id": run.event_id,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "owner": run.owner,
        "lease_expires_at": run.lease_expires_at,
        "error": run.error,
        "reads": list(run.reads),
    }


def _optional_time(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def _run(row: sa.Row[Any]) -> PipelineRunRecord:
    values = row._mapping
    return PipelineRunRecord(
        id=str(values["id"]),
        pipeline=str(values["pipeline"]),
        slot=str(values["slot"]),
        attempt=int(values["attempt"]),
        trigger=values["trigger"],
        state=RunState(values["state"]),
        due_at=as_utc(values["due_at"]),
        created_at=as_utc(values["created_at"]),
        params=dict(values["params"]),
        scheduled_for=_optional_time(values["scheduled_for"]),
        event_id=values["event_id"],
        started_at=_optional_time(values["started_at"]),
        ended_at=_optional_time(values["ended_at"]),
        owner=values["owner"],
        lease_expires_at=_optional_time(values["lease_expires_at"]),
        error=values["error"],
        reads=tuple(values["reads"]),
    )
