"""The incremental window engine: per-key window state ordered by event time, a watermark and allowed lateness.

Each micro-batch of raw events (Arrow, values as they arrived: text from a broker, or typed) goes through
four vectorized steps:

1. read: keys, event time and values are cast to the definition's types (DuckDB, the backfill's casts); an
   event with a missing key or event time, or a value that does not read as its type, becomes a dead letter
   with the reason. A batch whose values are all present and in Arrow's own text form (as
   :func:`fti.streams.publish` writes them) or already typed is cast with Arrow kernels instead, to the same
   values (:mod:`fti.streams.canonical_read`);
2. watermark: the watermark is the newest event time seen so far minus the allowed lateness, evaluated as
   if the events came one at a time in arrival order (a running maximum), so where a stream is split into
   micro-batches changes nothing; an event older than it is a dead letter ("too late");
3. state: the events not already held (by key and event time: a repeat is a duplicate delivery) join the
   state (:class:`~fti.streams.window_state.WindowState`, numpy columns);
4. aggregates: for each key the batch touched, the rows from its earliest new event on are evaluated again
   over the key's events in their windows (:mod:`fti.streams.windows`, the semantics of the backfill's
   :func:`fti.features.aggregations.window_query`). A late event within the lateness thus also corrects the
   rows after it, which are emitted again.

With an emit step, these rows still update the online values at each event, but the rows for the offline store
are only those of the steps the watermark closed in the batch (a step ``[s, e)`` is closed once the watermark
reaches ``e``: no event of it can be accepted any more): the row of each key's last event in each such step,
as the backfill keeps them.

State older than the watermark minus the longest window (with an emit step: older than the start of the step
holding the watermark, minus the longest window) can no longer be read by any accepted event or closing step and
is evicted. :meth:`WindowEngine.checkpoint` saves the state and the watermark as Arrow IPC bytes.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa

from fti.errors import ValidationError
from fti.features.aggregations import AggregationSpec, typed_events_sql
from fti.features.sql import quote
from fti.streams.canonical_read import read_canonical
from fti.streams.window_state import WindowState

__all__ = ["BatchResult", "WindowEngine"]

_NO_EVENT = np.iinfo(np.int64).min
_SQL_TYPES = {"float64": "DOUBLE", "int64": "BIGINT", "string": "VARCHAR", "bool": "BOOLEAN"}


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one micro-batch did: the aggregate rows to write, and the events refused with their reasons.

    ``rows`` has the group's columns (keys, event time, aggregates), one per (key, event time) whose values the
    batch set or changed: the online values; ``dead_letters`` pairs each refused event's position in the batch
    with the reason; ``emitted`` the rows for the offline store: ``rows`` without an emit step, else one row per
    key and step the batch closed (its last event's).
    """

    rows: pa.Table
    dead_letters: list[tuple[int, str]]
    accepted: int
    duplicates: int
    emitted: pa.Table


class WindowEngine:
    """The window state of one aggregation group's stream, updated one micro-batch at a time.

    Example:
        >>> engine = WindowEngine(group.spec)  # doctest: +SKIP
        >>> result = engine.process(events)  # doctest: +SKIP
    """

    def __init__(self, spec: AggregationSpec) -> None:
        self._spec = spec
        self._connection = duckdb.connect()
        self._connection.execute("SET TimeZone = 'UTC'")
        self._newest = int(_NO_EVENT)
        self._evicted_through = int(_NO_EVENT)
        self._longest_us = int(spec.longest_window / timedelta(microseconds=1))
        self._lateness_us = int(spec.lateness / timedelta(microseconds=1))
        self._state = WindowState(spec)

    @property
    def watermark(self) -> datetime | None:
        """The newest event time seen minus the lateness: older events are refused (None before any event)."""
        if self._newest == _NO_EVENT:
            return None
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=self._newest - self._lateness_us)

    @property
    def state_rows(self) -> int:
        """How many events the window state holds."""
        return len(self._state)

    def process(self, events: pa.Table) -> BatchResult:
        """Fold one micro-batch of events (in arrival order) into the state; return the rows to write.

        Columns the definition reads but the batch lacks count as missing; other columns are ignored.
        """
        dead: list[tuple[int, str]] = []
        valid = read_canonical(self._spec, events)
        if valid is None:  # some value needs DuckDB's casts, or an event is malformed: find which and why
            valid, dead = self._read(events)
        before = self._newest
        is_late, late = self._watermark(
            valid.column("__seq").to_numpy().astype(np.int64), valid.column("__t").to_numpy().astype(np.int64)
        )
        dead.extend(late)
        accepted = valid.filter(pa.array(~is_late)) if len(late) else valid
        rows, inserted = self._state.fold(accepted)
        emitted = rows
        step = self._spec.emit_us
        if step is not None:
            emitted = rows.schema.empty_table()
            if self._newest != _NO_EVENT:
                after = int(np.iinfo(np.int64).min) if before == _NO_EVENT else before - self._lateness_us
                emitted = self._state.closed_steps(step, after, self._newest - self._lateness_us)
        self._evict()
        dead.sort()
        return BatchResult(rows, dead, inserted, accepted.num_rows - inserted, emitted)

    def _read(self, events: pa.Table) -> tuple[pa.Table, list[tuple[int, str]]]:
        """The read step in DuckDB: the events read as their types, in arrival order, and the refused ones."""
        connection = self._connection
        connection.register("__raw", self._raw(events))
        try:
            connection.execute(f"CREATE OR REPLACE TEMP TABLE __batch AS {self._read_sql()}")
            dead = self._refused()
            valid = connection.sql(
                "SELECT * EXCLUDE (__reason) FROM __batch WHERE __reason IS NULL ORDER BY __seq"
            ).to_arrow_table()
        finally:
            connection.unregister("__raw")
        return valid, dead

    def _raw(self, events: pa.Table) -> pa.Table:
        needed = [*self._spec.key, self._spec.event_time, *self._spec.value_columns]
        columns = {name: events.column(name) for name in needed if name in events.column_names}
        for name in needed:
            columns.setdefault(name, pa.nulls(events.num_rows, pa.string()))
        columns["__seq"] = pa.array(np.arange(events.num_rows, dtype=np.int64))
        return pa.table(columns)

    def _read_sql(self) -> str:
        spec = self._spec
        checks = [
            f"CASE WHEN {quote(column)} IS NULL THEN {_text(f'missing key {column!r}')} "
            f"WHEN TRY_CAST({quote(column)} AS {_SQL_TYPES[kind]}) IS NULL THEN "
            f"{_text(f'key {column!r} is not {kind}: ')} || CAST({quote(column)} AS VARCHAR) END"
            for column, kind in zip(spec.key, spec.key_types, strict=True)
        ]
        time = quote(spec.event_time)
        checks.append(
            f"CASE WHEN {time} IS NULL THEN {_text(f'missing event time {spec.event_time!r}')} "
            f"WHEN TRY_CAST({time} AS TIMESTAMPTZ) IS NULL THEN "
            f"{_text(f'event time {spec.event_time!r} is not a timestamp: ')} || CAST({time} AS VARCHAR) END"
        )
        checks.extend(
            f"CASE WHEN {quote(column)} IS NOT NULL AND TRY_CAST({quote(column)} AS {_SQL_TYPES[kind]}) IS NULL "
            f"THEN {_text(f'{column!r} is not {kind}: ')} || CAST({quote(column)} AS VARCHAR) END"
            for column, kind in spec.value_columns.items()
        )
        typed = typed_events_sql(spec, "__raw", is_lenient=True)
        head, _, relation = typed.rpartition(" FROM ")
        return f"{head}, __seq, NULLIF(concat_ws('; ', {', '.join(checks)}), '') AS __reason FROM {relation}"

    def _refused(self) -> list[tuple[int, str]]:
        found = self._connection.execute("SELECT __seq, __reason FROM __batch WHERE __reason IS NOT NULL").fetchall()
        return [(int(row[0]), str(row[1])) for row in found]

    def _watermark(self, seq: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, list[tuple[int, str]]]:
        """Which valid events are too late (a mask), each with the watermark it saw on arrival."""
        if len(times) == 0:
            return np.zeros(0, dtype=bool), []
        running = np.maximum.accumulate(np.maximum(times, self._newest))
        seen_before = np.concatenate([[self._newest], running[:-1]])
        is_late = (seen_before != _NO_EVENT) & (times < seen_before - self._lateness_us)
        self._newest = int(running[-1])
        late = [
            (int(position), f"too late: event time {_moment(moment)} is older than the watermark {_moment(mark)}")
            for position, moment, mark in zip(
                seq[is_late], times[is_late], seen_before[is_late] - self._lateness_us, strict=True
            )
        ]
        return is_late, late

    def _evict(self) -> None:
        if self._newest == _NO_EVENT:
            return
        watermark = self._newest - self._lateness_us
        step = self._spec.emit_us
        if step is not None:  # the open steps' last events need their windows when the steps close
            watermark -= watermark % step
        horizon = watermark - self._longest_us
        # deleting rewrites the state: only once the horizon moved by an eighth of the longest window
        if horizon - self._evicted_through >= max(self._longest_us // 8, 1):
            self._state.evict(horizon)
            self._evicted_through = horizon

    def checkpoint(self) -> bytes:
        """The state and the watermark as bytes (Arrow IPC), for :meth:`restore`."""
        return self.snapshot()()

    def snapshot(self) -> Callable[[], bytes]:
        """The state and watermark now, as a function that serializes them later, on any thread (a stream
        job's commit thread does, off the consume loop) into :meth:`checkpoint`'s bytes."""
        build = self._state.frozen()
        meta = {"newest": self._newest, "evicted_through": self._evicted_through, "spec": self._spec.to_json()}

        def serialize() -> bytes:
            table = build().replace_schema_metadata({"fti.window_state": json.dumps(meta)})
            sink = io.BytesIO()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            return sink.getvalue()

        return serialize

    def restore(self, data: bytes) -> None:
        """Replace the state and watermark with a :meth:`checkpoint`'s.

        Raises:
            ValidationError: the checkpoint was taken for another definition of the group.
        """
        table = pa.ipc.open_stream(data).read_all()
        meta = json.loads((table.schema.metadata or {})[b"fti.window_state"])
        if meta["spec"] != self._spec.to_json():
            raise ValidationError(
                "The window-state checkpoint was taken for another definition of this aggregation group; "
                "reset the stream job's checkpoint and backfill, or create a new version of the group."
            )
        self._state = WindowState(self._spec)
        self._state.load(table.replace_schema_metadata(None))
        self._newest = int(meta["newest"])
        self._evicted_through = int(meta["evicted_through"])

    def close(self) -> None:
        """Release the read step's database."""
        self._connection.close()


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _moment(microseconds: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(microseconds))
    return moment.isoformat()
