"""Catalog events: what the services record when something happens that a pipeline may be triggered by.

A feature-group commit, a new model version, an alias move, a monitoring alert, a tracking run, a
deployment and a finished pipeline run each append one :class:`Event` in the same catalog transaction
as the record it announces. Events have one increasing id (the scheduler's cursor), and each names
the pipeline run that produced it, if any: a pipeline run's lineage is the events it produced.

The pipeline run in progress is ambient: the process running a pipeline enters :func:`producing` and
every event written, and every read noted with :func:`note_read`, in that context is attributed to it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "EVENT_KINDS",
    "Event",
    "EventKind",
    "ProducingRun",
    "alert_event",
    "current_pipeline_run",
    "new_event",
    "note_read",
    "producing",
]

EventKind = Literal["commit", "model_version", "alias", "alert", "pipeline_run", "run", "deployment"]
EVENT_KINDS: tuple[EventKind, ...] = ("commit", "model_version", "alias", "alert", "pipeline_run", "run", "deployment")


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened, as the catalog records it.

    ``subject`` is the name a trigger matches (the feature group, the model, the deployment, the pipeline,
    the experiment); ``detail`` holds the rest as JSON values.
    """

    kind: EventKind
    subject: str
    detail: Mapping[str, Any]
    created_at: datetime
    pipeline_run_id: str | None = None
    #: assigned by the catalog when the event is appended
    id: int | None = None

    def describe(self) -> str:
        """One line for people: ``commit transactions v1 #3``."""
        detail = self.detail
        if self.kind == "commit":
            return f"commit {self.subject} v{detail.get('version')} #{detail.get('commit')}"
        if self.kind == "model_version":
            return f"model version {self.subject}:{detail.get('version')}"
        if self.kind == "alias":
            target = detail.get("to_version")
            moved = f"v{target}" if target is not None else "deleted"
            return f"alias {self.subject}@{detail.get('alias')} -> {moved}"
        if self.kind == "alert":
            return f"alert on {self.subject}: {detail.get('message', detail.get('rule', ''))}"
        if self.kind == "pipeline_run":
            return f"pipeline {self.subject} {detail.get('state')}"
        if self.kind == "run":
            return f"run {str(detail.get('run_id', ''))[:8]} in {self.subject}"
        return f"deployment {self.subject}"


@dataclass(slots=True)
class ProducingRun:
    """The pipeline run a process is executing, and what it read so far."""

    run_id: str
    reads: list[str] = field(default_factory=list)


_CURRENT: ContextVar[ProducingRun | None] = ContextVar("fti_pipeline_run", default=None)


def current_pipeline_run() -> str | None:
    """The id of the pipeline run this code executes in, or None outside pipelines."""
    current = _CURRENT.get()
    return None if current is None else current.run_id


@contextmanager
def producing(run_id: str) -> Iterator[ProducingRun]:
    """Attribute the events written and the reads noted inside the block to the pipeline run ``run_id``."""
    scope = ProducingRun(run_id)
    token = _CURRENT.set(scope)
    try:
        yield scope
    finally:
        _CURRENT.reset(token)


def note_read(reference: str) -> None:
    """Record that the current pipeline run read ``reference`` (``commit:cards:v1#3``); a no-op outside one."""
    current = _CURRENT.get()
    if current is not None and reference not in current.reads:
        current.reads.append(reference)


def new_event(kind: EventKind, subject: str, **detail: Any) -> Event:
    """An event happening now, attributed to the current pipeline run (if any)."""
    return Event(kind, subject, detail, datetime.now(UTC), current_pipeline_run())


#: what an alert is about, by the type of the rule that fired it
_ALERT_KINDS = {"drift_share": "drift", "feature_drift": "drift", "quality": "quality", "metric_below": "performance"}


def alert_event(deployment: str, alert: Mapping[str, Any]) -> Event:
    """The event of an alert that fired on ``deployment`` (``alert`` as ``Alert.to_dict()`` gives it)."""
    detail = {**alert, "kind": _ALERT_KINDS.get(str(alert.get("rule")), "other")}
    return Event("alert", deployment, detail, datetime.now(UTC), current_pipeline_run())
