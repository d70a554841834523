"""Pipelines as data: triggers, specs, pipeline runs and their states (no I/O, no scheduling).

A :class:`PipelineSpec` is what the scheduler needs to know of a pipeline: its name, where its steps
live (``module:function`` references a fresh process can import), its schedule and triggers, retries,
timeout and concurrency. A :class:`PipelineRunRecord` is one attempt at one slot, as the catalog keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from fti.core.events import Event, EventKind

__all__ = [
    "FINAL_STATES",
    "Catchup",
    "PipelineRecord",
    "PipelineRunRecord",
    "PipelineSpec",
    "RunState",
    "Trigger",
    "TriggerSource",
]

Catchup = Literal["none", "latest", "all"]
#: the event kinds a trigger can listen to
TriggerSource = Literal["commit", "model_version", "alias", "alert", "pipeline_run"]


class RunState(StrEnum):
    """Where a pipeline run stands."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    LOST = "lost"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.TIMED_OUT, RunState.LOST, RunState.CANCELLED})


@dataclass(frozen=True, slots=True)
class Trigger:
    """Start a pipeline when an event of ``kind`` about ``subject`` (``*``: any) is recorded.

    ``detail`` narrows it: the alias for ``alias``, the alert kind (drift, quality, performance) for
    ``alert``, the final state (succeeded, failed, finished) for ``pipeline_run``.
    """

    kind: TriggerSource
    subject: str
    detail: str | None = None

    def matches(self, event: Event) -> bool:
        """Whether ``event`` starts a pipeline with this trigger."""
        if event.kind != self.kind or self.subject not in ("*", event.subject):
            return False
        if self.detail is None:
            return self.kind != "pipeline_run" or event.detail.get("state") == "succeeded"
        if self.kind == "alias":
            return event.detail.get("alias") == self.detail and event.detail.get("to_version") is not None
        if self.kind == "alert":
            return event.detail.get("kind") == self.detail
        if self.kind == "pipeline_run":
            state = event.detail.get("state")
            return state == self.detail or (self.detail == "finished" and state is not None)
        return True

    def __str__(self) -> str:
        return f"{self.kind}:{self.subject}" + (f"/{self.detail}" if self.detail else "")


@dataclass(frozen=True, slots=True)
class PipelineSpec:
    """A registered pipeline, as plain data a scheduler and a worker process share."""

    name: str
    #: ``module:qualname`` of each step, run in order; a module is a dotted name or a ``.py`` file path
    steps: tuple[str, ...]
    schedule: str | None = None
    timezone: str = "UTC"
    catchup: Catchup = "latest"
    triggers: tuple[Trigger, ...] = ()
    retries: int = 0
    retry_delay: timedelta = timedelta(seconds=30)
    timeout: timedelta | None = None
    concurrency: int = 1
    params: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    #: ``file:line`` where the pipeline was defined, for error messages
    defined_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON values describing the pipeline (kept in the catalog for the CLI and the dashboard)."""
        return {
            "steps": list(self.steps),
            "schedule": self.schedule,
            "timezone": self.timezone,
            "catchup": self.catchup,
            "triggers": [str(trigger) for trigger in self.triggers],
            "retries": self.retries,
            "retry_delay_seconds": self.retry_delay.total_seconds(),
            "timeout_seconds": None if self.timeout is None else self.timeout.total_seconds(),
            "concurrency": self.concurrency,
            "params": dict(self.params),
            "description": self.description,
            "defined_at": self.defined_at,
        }

    def listens_to(self, kind: EventKind) -> bool:
        """Whether a trigger of this pipeline listens to events of ``kind``."""
        return any(trigger.kind == kind for trigger in self.triggers)


@dataclass(frozen=True, slots=True)
class PipelineRecord:
    """What the catalog keeps per pipeline: its description and how far schedules and events were read."""

    name: str
    definition: Mapping[str, Any]
    registered_at: datetime
    updated_at: datetime
    #: the last schedule slot considered (run or skipped)
    schedule_cursor: datetime
    #: the id of the last event considered
    event_cursor: int


@dataclass(frozen=True, slots=True)
class PipelineRunRecord:
    """One attempt at one slot of a pipeline: a schedule time, an event, or a manual request.

    The catalog keeps (pipeline, slot, attempt) unique: however many schedulers find a slot due, it is
    queued and started once.
    """

    id: str
    pipeline: str
    #: ``schedule:<UTC time>``, ``event:<id>`` or ``manual:<id>``
    slot: str
    attempt: int
    trigger: Literal["schedule", "event", "manual"]
    state: RunState
    #: not started before this time (retries wait out their backoff)
    due_at: datetime
    created_at: datetime
    params: Mapping[str, str] = field(default_factory=dict)
    scheduled_for: datetime | None = None
    event_id: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    #: the scheduler holding the run's lease while it runs
    owner: str | None = None
    lease_expires_at: datetime | None = None
    error: str | None = None
    #: what the run read (``commit:cards:v1#3``, ``model_version:fraud:2``), recorded when it ends
    reads: tuple[str, ...] = ()

    @property
    def duration(self) -> timedelta | None:
        """How long the run ran, once it ended."""
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at
