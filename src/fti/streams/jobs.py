"""Stream jobs: an aggregation group kept up to date from its stream, exactly once in effect.

One worker owns some partitions of the stream (partition ``p`` goes to worker ``p % workers``) and keeps a
:class:`~fti.streams.engine.WindowEngine` per partition. Each round reads a micro-batch per partition, folds it
into the window state, writes the changed aggregates to the online store at once (event-time guarded upserts) and
buffers them (with an emit step, the rows of the steps the watermark closed) for the offline store. Every
``commit_seconds`` the buffered rows are appended to the offline store as one commit, then each partition's window
state is saved as a checkpoint together with the acknowledgement of the messages it covers, atomically. Commits are
applied in order on a background thread (:mod:`fti.streams.committing`) while the job keeps consuming; the offline
appends themselves run in a child process (:mod:`fti.streams.offline_process`), so the online writes never wait for
the interpreter lock they hold.

A worker killed at any moment leaves its messages since the last commit unacknowledged. Its successor (the same
worker restarted, or one that took its partitions over and claimed them) restores the checkpoint and reads the
pending messages again in order: the engine decides every event exactly as before, and the rows it writes again
replace equal ones (offline, by key and event time) or are refused as not newer (online). No event is lost and
none counts twice. Refused events go to the dead-letter stream ``<stream>:dead`` with the reason, at least once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from fti.errors import FtiError, ValidationError
from fti.streams.committing import Checkpoint, Commit, Committer
from fti.streams.engine import WindowEngine
from fti.streams.offline_process import GroupOpener, OfflineAppender
from fti.streams.partitioned import JobProgress, PartitionedJob
from fti.streams.running import dead_letter_table, record_freshness

if TYPE_CHECKING:
    from fti.backends.ports import StreamBroker, StreamMessages
    from fti.features.aggregation_groups import AggregationGroup

__all__ = ["JobProgress", "StreamJob", "StreamJobOptions", "dead_letter_stream"]

_log = logging.getLogger(__name__)


def dead_letter_stream(stream: str) -> str:
    """Where a stream's refused events go, each with its reason."""
    return f"{stream}:dead"


@dataclass(frozen=True, slots=True)
class StreamJobOptions:
    """How a stream job reads and commits.

    ``group`` is the consumer group (default: the aggregation group's ``<name>_v<version>``); ``batch_size``
    the most messages read per partition and round; ``block_ms`` how long a round waits for new messages;
    ``commit_seconds`` how often rows are appended offline and state and offsets checkpointed;
    ``offline_process`` whether the offline appends run in a child process (when the job was given a way to open
    the project there, as ``project.stream_job`` does) rather than on the worker's commit thread.
    """

    group: str | None = None
    batch_size: int = 5_000
    block_ms: int = 100
    commit_seconds: float = 1.0
    offline_process: bool = True


class StreamJob(PartitionedJob):
    """One worker of an aggregation group's stream job.

    Example:
        >>> job = project.stream_job("card_windows")  # doctest: +SKIP
        >>> job.run(should_stop=lambda: False)  # doctest: +SKIP
    """

    def __init__(
        self,
        group: AggregationGroup,
        broker: StreamBroker,
        *,
        worker: int = 0,
        workers: int = 1,
        options: StreamJobOptions | None = None,
        opener: GroupOpener | None = None,
    ) -> None:
        """``opener`` opens the project again in another process (picklable): with it and
        ``options.offline_process``, the offline appends run in a child process."""
        stream = group.spec.stream
        if stream is None:
            raise ValidationError(
                f"Aggregation group '{group.name}' v{group.version} names no stream: create it with stream='...'."
            )
        options = options or StreamJobOptions()
        super().__init__(
            broker, stream, worker=worker, workers=workers, batch_size=options.batch_size, block_ms=options.block_ms
        )
        self._group = group
        self._options = options
        self._consumer_group = options.group or f"{group.name}_v{group.version}"
        self._own_partitions()
        self._read_fields = [*group.spec.key, group.spec.event_time, *group.spec.value_columns]
        self._engines: dict[int, WindowEngine] = {}
        self._acks: dict[int, list[str]] = {}
        self._buffer: list[pa.Table] = []
        self._last_commit = time.monotonic()
        self._appender: OfflineAppender | None = None
        if opener is not None and options.offline_process:
            self._appender = OfflineAppender(opener, group.name, group.version)
        self._committer = Committer(self._append, self._save)

    @property
    def consumer_group(self) -> str:
        """The consumer group (default: the aggregation group's ``<name>_v<version>``)."""
        return self._consumer_group

    def start(self) -> None:
        """Restore each partition's checkpoint, claim what other consumers left pending, and process the
        pending messages again (they were delivered before the last stop and never acknowledged); with an offline
        writer process, return once it is ready."""
        if self._appender is not None:
            self._appender.start()  # it opens the project while the pending messages are replayed
        for partition in self._partitions:
            engine = WindowEngine(self._group.spec)
            saved = self._broker.checkpoint(self._stream, partition, self._consumer_group)
            if saved is not None:
                engine.restore(saved)
            self._engines[partition] = engine
            self._acks[partition] = []
            self._replay(partition)
        if self._appender is not None:
            self._appender.wait_ready()

    def step(self) -> int:
        """Read and process one micro-batch per partition; commit when it is time. Return the events read."""
        read = super().step()
        if time.monotonic() - self._last_commit >= self._options.commit_seconds:
            self._submit()
        return read

    def _reset(self) -> None:
        """Forget everything since the last commit (the next :meth:`start` restores and replays it)."""
        self._committer.discard()
        self._close_engines()
        self._acks.clear()
        self._buffer = []

    def commit(self) -> None:
        """Append the buffered rows offline as one commit, then checkpoint each partition's state together with
        the acknowledgement of its messages; return once all of it (and every earlier commit) is durable."""
        self._submit()
        self._committer.flush()

    def _submit(self) -> None:
        """Hand the buffered rows and each partition's checkpoint to the background committer."""
        rows = pa.concat_tables(self._buffer) if self._buffer else None
        checkpoints = [
            Checkpoint(partition, self._acks[partition], engine.snapshot())
            for partition, engine in self._engines.items()
            if self._acks[partition]
        ]
        self._buffer = []
        self._acks = {partition: [] for partition in self._acks}
        self._last_commit = time.monotonic()
        if rows is not None or checkpoints:
            self._committer.submit(Commit(rows, checkpoints))

    def _append(self, rows: pa.Table) -> None:
        if self._appender is not None:
            self._appender.append(rows)
        else:
            self._group.append(rows, is_online_written=True)

    def _save(self, checkpoint: Checkpoint) -> None:
        self._broker.commit(
            self._stream, checkpoint.partition, self._consumer_group, checkpoint.ids, checkpoint.state()
        )
        self.progress.commits += 1

    def close(self) -> None:
        """Wait for the commits already handed over, then release the window state (commit first: :meth:`run`
        does). A commit that failed is logged: its messages stay pending and are read again on the next start."""
        try:
            self._committer.close()
        except FtiError as exc:
            _log.warning("A commit of the stream job failed and will be redone from the last checkpoint: %s", exc)
            self._committer.discard()
        finally:
            self._close_engines()
            if self._appender is not None:
                self._appender.close()

    def _close_engines(self) -> None:
        for engine in self._engines.values():
            engine.close()
        self._engines.clear()

    def _fields(self) -> list[str]:
        return self._read_fields

    def _process(self, messages: StreamMessages, *, is_replay: bool) -> None:
        engine = self._engines[messages.partition]
        result = engine.process(messages.events)
        if result.dead_letters:
            self._dead_letters(messages, result.dead_letters)
        if result.rows.num_rows:
            self._group.write_online(result.rows)
        if result.emitted.num_rows:
            self._buffer.append(result.emitted)
        record_freshness(self.progress.freshness_ms, messages.arrived_ms)
        self._acks[messages.partition].extend(messages.ids)
        progress = self.progress
        progress.events_in += len(messages.ids)
        progress.rows_out += result.rows.num_rows
        progress.dead_letters += len(result.dead_letters)
        progress.duplicates += result.duplicates
        watermark = engine.watermark
        progress.watermark = None if watermark is None else watermark.isoformat()

    def _dead_letters(self, messages: StreamMessages, refused: Sequence[tuple[int, str]]) -> None:
        events = dead_letter_table(messages, refused)
        self._broker.publish(dead_letter_stream(self._stream), events, [0] * len(refused))
