"""What a stream job and a prediction job share: one worker's partitions of a stream, read as one consumer of a
group, pending messages claimed and replayed on start, the retry loop, and the lag.

Partition ``p`` of the stream goes to worker ``p % workers``. A subclass says how to process a micro-batch
(:meth:`PartitionedJob._process`), how to commit and how to forget what it has not committed; the rounds, the
replay and the run loop are here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from fti.errors import FtiError, ValidationError
from fti.streams.running import run_until_stopped

if TYPE_CHECKING:
    from fti.backends.ports import StreamBroker, StreamMessages

__all__ = ["JobProgress", "PartitionedJob"]


@dataclass
class JobProgress:
    """What a job did so far: events read, rows written, refusals, commits, lag and freshness."""

    events_in: int = 0
    rows_out: int = 0
    dead_letters: int = 0
    duplicates: int = 0
    commits: int = 0
    replayed: int = 0
    watermark: str | None = None
    #: milliseconds from an event's arrival in the broker to its aggregates being readable online (a sample)
    freshness_ms: list[float] = field(default_factory=list)

    def freshness(self, percentile: float) -> float | None:
        """A percentile of the freshness sample, in milliseconds (None before any event)."""
        return float(np.percentile(self.freshness_ms, percentile)) if self.freshness_ms else None


class PartitionedJob(ABC):
    """One worker of a job over the partitions of ``stream`` it owns, as consumer ``worker-<worker>`` of the
    consumer group :attr:`consumer_group`.

    Example:
        >>> job.run(should_stop=lambda: False, exit_when_idle=5.0)  # doctest: +SKIP
    """

    def __init__(
        self, broker: StreamBroker, stream: str, *, worker: int, workers: int, batch_size: int, block_ms: int
    ) -> None:
        if not 0 <= worker < workers:
            raise ValidationError(f"Worker {worker} of {workers}: use a worker index from 0 to {workers - 1}.")
        self._broker = broker
        self._stream = stream
        self._worker = worker
        self._workers = workers
        self._batch_size = batch_size
        self._block_ms = block_ms
        self._consumer = f"worker-{worker}"
        self._partitions: list[int] = []
        self.progress = JobProgress()

    @property
    @abstractmethod
    def consumer_group(self) -> str:
        """The consumer group this worker reads as."""

    @property
    def partitions(self) -> list[int]:
        """The partitions of the stream this worker owns."""
        return list(self._partitions)

    @abstractmethod
    def start(self) -> None:
        """Get ready, then replay what this worker left unacknowledged (:meth:`_replay`)."""

    @abstractmethod
    def commit(self) -> None:
        """Make what was processed durable and acknowledge its messages."""

    @abstractmethod
    def _reset(self) -> None:
        """Forget everything since the last commit (the next :meth:`start` replays it)."""

    @abstractmethod
    def _fields(self) -> Sequence[str]:
        """The event fields read."""

    @abstractmethod
    def _process(self, messages: StreamMessages, *, is_replay: bool) -> None:
        """Process one micro-batch of one partition."""

    def step(self) -> int:
        """Read and process one micro-batch per partition; return the events read."""
        read = 0
        for partition in self._partitions:
            messages = self._read(partition, is_pending=False)
            if messages.ids:
                read += len(messages.ids)
                self._process(messages, is_replay=False)
        return read

    def run(
        self,
        should_stop: Callable[[], bool],
        *,
        exit_when_idle: float | None = None,
        on_progress: Callable[[JobProgress], None] | None = None,
        on_error: Callable[[FtiError, float], None] | None = None,
    ) -> JobProgress:
        """Process until ``should_stop()`` (or, with ``exit_when_idle``, until no event came for that many
        seconds), then commit and return the progress.

        ``on_progress`` is called about once a second. When the broker or a store fails, the job drops what it
        has not committed, reports the error and the seconds it waits (``on_error``; default: a log warning),
        waits with exponential backoff (up to 30 s), and starts again from the last checkpoint.
        """
        return run_until_stopped(
            self.start,
            self.step,
            self.commit,
            self._reset,
            self.progress,
            should_stop,
            exit_when_idle=exit_when_idle,
            on_progress=on_progress,
            on_error=on_error,
        )

    def lag(self) -> int:
        """Messages of this worker's partitions not yet acknowledged."""
        group = self.consumer_group
        return sum(self._broker.pending(self._stream, p, group) for p in self._partitions)

    def _own_partitions(self) -> int:
        """Take this worker's share of the stream's partitions, as the broker records them now; return their
        count."""
        count = self._broker.partitions(self._stream)
        self._partitions = [p for p in range(count) if p % self._workers == self._worker]
        return count

    def _replay(self, partition: int) -> None:
        """Claim what other consumers left pending in ``partition`` and process this worker's pending messages
        again (delivered before the last stop and never acknowledged), committing after each micro-batch."""
        self._broker.claim(self._stream, partition, self.consumer_group, self._consumer)
        while True:
            messages = self._read(partition, is_pending=True)
            if not messages.ids:
                return
            self.progress.replayed += len(messages.ids)
            self._process(messages, is_replay=True)
            self.commit()

    def _read(self, partition: int, *, is_pending: bool) -> StreamMessages:
        return self._broker.read(
            self._stream,
            partition,
            self.consumer_group,
            self._consumer,
            fields=list(self._fields()),
            count=self._batch_size,
            block_ms=max(self._block_ms // max(len(self._partitions), 1), 1),
            is_pending=is_pending,
        )
