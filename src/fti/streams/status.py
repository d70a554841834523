"""The status a running stream job records in the broker about once a second (its lag and freshness), which the
dashboard lists; a status not renewed for a while belongs to a job that stopped or died."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from fti.errors import FtiError

if TYPE_CHECKING:
    from fti.backends.ports import StreamBroker
    from fti.streams.jobs import JobProgress

__all__ = ["JobKind", "JobStatus", "list_statuses", "record_status"]

JobKind = Literal["aggregation", "prediction"]


@dataclass(frozen=True, slots=True)
class JobStatus:
    """What one worker of a stream job last said about itself.

    ``name`` is the aggregation group (``name:version``) or the deployment; ``lag`` the messages of its
    partitions not yet acknowledged; freshness the milliseconds from an event reaching the broker to its
    output (aggregates online, or its prediction) being written; ``state`` is ``stopped`` after a graceful stop.
    """

    kind: JobKind
    name: str
    stream: str
    worker: int
    events_in: int
    dead_letters: int
    lag: int | None
    freshness_p50_ms: float | None
    freshness_p99_ms: float | None
    watermark: str | None
    updated_at: str
    state: Literal["running", "stopped"] = "running"

    @property
    def job(self) -> str:
        """The job's key: kind, name and worker."""
        return f"{self.kind}:{self.name}:{self.worker}"

    def age_seconds(self, now: datetime | None = None) -> float:
        """Seconds since the status was recorded."""
        return ((now or datetime.now(UTC)) - datetime.fromisoformat(self.updated_at)).total_seconds()


def record_status(
    broker: StreamBroker,
    kind: JobKind,
    name: str,
    stream: str,
    progress: JobProgress,
    *,
    worker: int = 0,
    lag: int | None = None,
    is_stopped: bool = False,
) -> JobStatus:
    """Record a job worker's status from its progress; return it."""
    status = JobStatus(
        kind,
        name,
        stream,
        worker,
        progress.events_in,
        progress.dead_letters,
        lag,
        progress.freshness(50),
        progress.freshness(99),
        progress.watermark,
        datetime.now(UTC).isoformat(),
        "stopped" if is_stopped else "running",
    )
    broker.record_status(status.job, json.dumps(asdict(status)).encode())
    return status


def list_statuses(broker: StreamBroker) -> list[JobStatus]:
    """Every recorded job status, by kind, name and worker; a status that cannot be read is skipped.

    Raises:
        BackendError: the broker cannot be reached.
    """
    found: list[JobStatus] = []
    for data in broker.statuses().values():
        try:
            found.append(JobStatus(**json.loads(data)))
        except (TypeError, ValueError, FtiError):  # written by another version of fti: not ours to show
            continue
    return sorted(found, key=lambda status: (status.kind, status.name, status.worker))
