"""The scheduler: queues due schedule slots and matching events as pipeline runs, starts them through the
executor under leases, and records how each ended.

Each pass (:meth:`Scheduler.tick`) does, in order: collect the runs that ended (or stop those past their
timeout), renew this scheduler's leases and mark lost the runs whose scheduler stopped renewing them,
queue the due slots and the new events, and start queued runs up to the pipelines' concurrency and this
scheduler's capacity. The catalog keeps (pipeline, slot, attempt) unique and hands each queued run to
exactly one scheduler, so any number of schedulers can share a catalog. A run that failed, timed out or
was lost is queued again as its next attempt while attempts remain (a lost or stopped one gets one more
than its retries allow: it did not fail by itself), after a backoff doubling from the pipeline's retry
delay; the last attempt's end is recorded as a ``pipeline_run`` event other pipelines can trigger on.

Time comes from an injected clock, so tests drive schedules, leases and timeouts without sleeping.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fti.core.events import Event
from fti.core.pipelines import PipelineRunRecord, PipelineSpec, RunState
from fti.errors import FtiError
from fti.faults import kill_point
from fti.orchestration.triggers import due_slots, next_slot
from fti.orchestration.worker import PipelineTask, TaskOutcome, run_pipeline_task, warm_up

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from fti.artifacts import ArtifactService
    from fti.backends.ports import CatalogStore, Executor, TaskHandle

__all__ = ["Clock", "Scheduler", "SchedulerSettings", "log_key", "new_run", "utc_now"]

Clock = Callable[[], datetime]
_log = logging.getLogger("fti.scheduler")


def utc_now() -> datetime:
    """The current time in UTC (the default clock)."""
    return datetime.now(UTC)


def log_key(run: PipelineRunRecord) -> str:
    """Where a finished run's log is kept in the artifact store."""
    return f"pipelines/{run.pipeline}/{run.id}.log"


def new_run(pipeline: str, slot: str, now: datetime, **fields: Any) -> PipelineRunRecord:
    """A queued first attempt at ``slot``, due now unless ``fields`` say otherwise."""
    values: dict[str, Any] = {"attempt": 1, "trigger": "manual", "state": RunState.QUEUED, "due_at": now}
    values.update(fields)
    return PipelineRunRecord(id=uuid.uuid4().hex, pipeline=pipeline, slot=slot, created_at=now, **values)


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """How often the scheduler looks for work, how long its leases last and how many runs it runs at once."""

    poll_interval: float = 0.5
    lease: timedelta = timedelta(seconds=30)
    max_runs: int = 4


@dataclass(slots=True)
class _Active:
    run: PipelineRunRecord
    handle: TaskHandle[TaskOutcome]


@dataclass(slots=True)
class _Cursors:
    schedule: datetime
    event: int
    next_due: datetime | None = None


@dataclass(slots=True)
class _Followed:
    """Runs a caller waits for (manual runs), with their retries."""

    slots: set[tuple[str, str]] = field(default_factory=set)
    retries: dict[str, datetime] = field(default_factory=dict)


class Scheduler:
    """Runs the given pipelines on their schedules and triggers (see the module docstring)."""

    def __init__(
        self,
        catalog: CatalogStore,
        executor: Executor,
        artifacts: ArtifactService,
        pipelines: Mapping[str, PipelineSpec],
        *,
        opener: Callable[[], AbstractContextManager[Any]],
        root: Path,
        settings: SchedulerSettings | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._catalog = catalog
        self._executor = executor
        self._artifacts = artifacts
        self._specs = dict(pipelines)
        self._opener = opener
        self._root = root
        self.settings = settings or SchedulerSettings()
        self._clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._running: dict[str, _Active] = {}
        self._cursors: dict[str, _Cursors] = {}
        self._next_lease_check: datetime | None = None
        self._schedule_until: datetime | None = None
        self._followed = _Followed()
        #: runs this scheduler finished, in order
        self.finished: list[PipelineRunRecord] = []
        self._stop = threading.Event()

    @property
    def running(self) -> list[str]:
        """Ids of the runs this scheduler has in flight."""
        return list(self._running)

    @property
    def logs_dir(self) -> Path:
        """Where running runs write their logs (kept as artifacts when they end)."""
        return self._root / ".fti" / "pipelines" / "logs"

    # -- loops -------------------------------------------------------------------------------------

    def run_forever(self) -> None:
        """Tick every poll interval until :meth:`stop`; then stop this scheduler's runs and queue them again.

        A pass that fails (the catalog unreachable) is logged and tried again at the next interval.
        """
        try:
            self.warm_up()
            while not self._stop.is_set():
                try:
                    self.tick()
                except FtiError as exc:
                    _log.error("scheduler pass failed (trying again): %s", exc)
                self._stop.wait(self.settings.poll_interval)
        finally:
            self.close()

    def run_once(self) -> list[PipelineRunRecord]:
        """Run what is due now and wait until nothing is left: the due slots (up to now), the pending events,
        the runs they start, their retries and the runs the events of those runs start. Returns the runs
        that ended, in order."""
        self._schedule_until = self._clock()
        first = len(self.finished)
        while True:
            self.tick()
            if not self._running and self._is_idle():
                return self.finished[first:]
            self._stop.wait(self.settings.poll_interval)

    def run_queued(self, run_ids: list[str]) -> list[PipelineRunRecord]:
        """Start the queued runs ``run_ids`` now (due or not) and wait for them and their retries to end."""
        now = self._clock()
        with self._catalog.transaction() as tx:
            claimed = [tx.pipelines.claim_run(run_id, self.owner, now, now + self.settings.lease) for run_id in run_ids]
        first = len(self.finished)
        for run in claimed:
            if run is not None:
                self._followed.slots.add((run.pipeline, run.slot))
                self._launch(run)
        while self._running or self._followed.retries:
            self._stop.wait(min(self.settings.poll_interval, 0.2))
            now = self._clock()
            self._collect(now)
            self._keep_leases(now)
            self._start_followed_retries(now)
        return self.finished[first:]

    def warm_up(self) -> None:
        """Get the executor's processes ready (their imports done) before the first run is due."""
        self._executor.submit(warm_up, None).result(timeout=300)

    def stop(self) -> None:
        """Ask :meth:`run_forever` (from another thread or a signal handler) to end after its current pass."""
        self._stop.set()

    def tick(self) -> None:
        """One pass: collect ended runs, keep leases, queue due slots and events, start queued runs."""
        now = self._clock()
        if not self._cursors:
            self.register()
        self._collect(now)
        if self._next_lease_check is None or now >= self._next_lease_check:
            self._keep_leases(now)
            self._next_lease_check = now + self.settings.lease / 3
        self._queue_slots(now)
        self._queue_events()
        self._start(now)

    def close(self) -> None:
        """Stop this scheduler's running runs and queue them again (for the next scheduler)."""
        now = self._clock()
        for active in list(self._running.values()):
            active.handle.cancel()
            self._finish(active.run, RunState.CANCELLED, "Its scheduler stopped; it is queued again.", (), now)
        self._running.clear()

    # -- registering and queueing ------------------------------------------------------------------

    def register(self) -> None:
        """Record the pipelines in the catalog (the first tick does it): a pipeline new to the catalog starts
        reacting to the events recorded from now on, and its schedule's slots from now on."""
        now = self._clock()
        with self._catalog.transaction() as tx:
            last_event = tx.events.last_id()
            for name, spec in self._specs.items():
                record = tx.pipelines.ensure(name, spec.to_dict(), now, last_event)
                self._cursors[name] = _Cursors(record.schedule_cursor, record.event_cursor)
        for name, spec in self._specs.items():
            if spec.schedule is not None:
                cursors = self._cursors[name]
                cursors.next_due = next_slot(spec.schedule, spec.timezone, cursors.schedule)

    def _queue_slots(self, now: datetime) -> None:
        until = now if self._schedule_until is None else min(now, self._schedule_until)
        for name, spec in self._specs.items():
            cursors = self._cursors[name]
            if spec.schedule is None or cursors.next_due is None or cursors.next_due > until:
                continue
            with self._catalog.transaction() as tx:
                record = tx.pipelines.find(name)
                cursor = max(cursors.schedule, record.schedule_cursor) if record else cursors.schedule
                slots, cursor = due_slots(spec.schedule, spec.timezone, spec.catchup, cursor, until)
                runs = [
                    new_run(name, f"schedule:{slot.isoformat()}", now, trigger="schedule", scheduled_for=slot)
                    for slot in slots
                ]
                queued = tx.pipelines.add_runs(runs)
                tx.pipelines.advance(name, schedule_cursor=cursor)
            if queued:
                _log.info("queued %d slot(s) of %s", queued, name)
            cursors.schedule = cursor
            cursors.next_due = next_slot(spec.schedule, spec.timezone, cursor)

    def _queue_events(self) -> None:
        listening = {name: spec for name, spec in self._specs.items() if spec.triggers}
        if not listening:
            return
        low = min(self._cursors[name].event for name in listening)
        with self._catalog.transaction() as tx:
            events = tx.events.after(low, limit=1000)
            if not events:
                return
            newest = events[-1].id or low
            for name, spec in listening.items():
                cursor = self._cursors[name].event
                runs = [
                    new_run(name, f"event:{event.id}", event.created_at, trigger="event", event_id=event.id)
                    for event in events
                    if (event.id or 0) > cursor and any(trigger.matches(event) for trigger in spec.triggers)
                ]
                if tx.pipelines.add_runs(runs):
                    _log.info("queued %d run(s) of %s on events", len(runs), name)
                tx.pipelines.advance(name, event_cursor=newest)
        for name in listening:
            self._cursors[name].event = max(self._cursors[name].event, newest)

    def _is_idle(self) -> bool:
        listening = [name for name, spec in self._specs.items() if spec.triggers]
        with self._catalog.transaction() as tx:
            if tx.pipelines.count_queued(list(self._specs)):
                return False
            return not listening or tx.events.last_id() <= min(self._cursors[name].event for name in listening)

    # -- starting and ending runs ------------------------------------------------------------------

    def _start(self, now: datetime) -> None:
        free = self.settings.max_runs - len(self._running)
        if free <= 0:
            return
        concurrency = {name: spec.concurrency for name, spec in self._specs.items()}
        with self._catalog.transaction() as tx:
            claimed = tx.pipelines.claim(self.owner, now, now + self.settings.lease, concurrency, free)
        for run in claimed:
            kill_point("scheduler.after_claim")
            self._launch(run)

    def _launch(self, run: PipelineRunRecord) -> None:
        spec = self._specs[run.pipeline]
        event = None
        if run.event_id is not None:
            with self._catalog.transaction() as tx:
                found = tx.events.after(run.event_id - 1, limit=1)
            event = found[0] if found and found[0].id == run.event_id else None
        task = PipelineTask(run, spec, self._opener, str(self.logs_dir / f"{run.id}.log"), str(self._root), event)
        try:
            handle = self._executor.submit(run_pipeline_task, task)
        except FtiError as exc:
            self._finish(run, RunState.FAILED, f"The executor could not start it: {exc}", (), self._clock())
            return
        _log.info("started %s (run %s, attempt %d, %s)", run.pipeline, run.id, run.attempt, run.trigger)
        self._running[run.id] = _Active(run, handle)
        kill_point("scheduler.after_launch")

    def _collect(self, now: datetime) -> None:
        for run_id, active in list(self._running.items()):
            run, handle = active.run, active.handle
            timeout = self._specs[run.pipeline].timeout
            if handle.done():
                try:
                    outcome = handle.result(0)
                except Exception as exc:
                    outcome = TaskOutcome(False, "".join(traceback.format_exception(exc)), ())
                state = RunState.SUCCEEDED if outcome.is_success else RunState.FAILED
                self._finish(run, state, outcome.error, outcome.reads, now)
            elif timeout is not None and run.started_at is not None and now - run.started_at >= timeout:
                handle.cancel()
                message = f"It ran longer than the pipeline's timeout of {timeout} and was stopped."
                self._finish(run, RunState.TIMED_OUT, message, (), now)
            else:
                continue
            del self._running[run_id]

    def _finish(
        self, run: PipelineRunRecord, state: RunState, error: str | None, reads: tuple[str, ...], now: datetime
    ) -> None:
        self._keep_log(run)
        with self._catalog.transaction() as tx:
            if not tx.pipelines.finish(run.id, self.owner, state, now, error, reads):
                _log.warning("run %s of %s was taken from this scheduler (lease expired)", run.id, run.pipeline)
                return
            retry = self._retry_or_event(tx, run, state, now)
        ended = replace(run, state=state, ended_at=now, error=error, reads=reads)
        self.finished.append(ended)
        _log.info("%s %s (run %s, attempt %d)", run.pipeline, state.value, run.id, run.attempt)
        if retry is not None and (run.pipeline, run.slot) in self._followed.slots:
            self._followed.retries[retry.id] = retry.due_at

    def _retry_or_event(self, tx: Any, run: PipelineRunRecord, state: RunState, now: datetime) -> Any:
        spec = self._specs.get(run.pipeline)
        retries = spec.retries if spec is not None else 0
        interrupted = state in (RunState.LOST, RunState.CANCELLED)
        if state is not RunState.SUCCEEDED and run.attempt <= retries + (1 if interrupted else 0):
            delay = timedelta(0) if interrupted or spec is None else spec.retry_delay * 2 ** (run.attempt - 1)
            retry = replace(
                run,
                id=uuid.uuid4().hex,
                attempt=run.attempt + 1,
                state=RunState.QUEUED,
                due_at=now + delay,
                created_at=now,
                started_at=None,
                ended_at=None,
                owner=None,
                lease_expires_at=None,
                error=None,
                reads=(),
            )
            tx.pipelines.add_runs([retry])
            return retry
        outcome = "succeeded" if state is RunState.SUCCEEDED else "failed"
        detail = {"state": outcome, "run_state": state.value, "run_id": run.id, "attempt": run.attempt}
        tx.events.append(Event("pipeline_run", run.pipeline, detail, now))
        return None

    def _keep_leases(self, now: datetime) -> None:
        with self._catalog.transaction() as tx:
            tx.pipelines.renew(self.owner, now + self.settings.lease)
            lost = tx.pipelines.expire(now)
            for run in lost:
                _log.warning("run %s of %s is lost (its scheduler %s stopped)", run.id, run.pipeline, run.owner)
                self._retry_or_event(tx, run, RunState.LOST, now)

    def _start_followed_retries(self, now: datetime) -> None:
        for run_id, due in list(self._followed.retries.items()):
            if due > now:
                continue
            del self._followed.retries[run_id]
            with self._catalog.transaction() as tx:
                run = tx.pipelines.claim_run(run_id, self.owner, now, now + self.settings.lease)
            if run is not None:
                self._launch(run)

    def _keep_log(self, run: PipelineRunRecord) -> None:
        path = self.logs_dir / f"{run.id}.log"
        if path.exists():
            self._artifacts.put_bytes(log_key(run), path.read_bytes())
            path.unlink()
