"""A stream job's commits, written off the consume loop: offline rows first, then checkpoints with their acks.

Appending a micro-batch's rows to the offline store takes longer than reading and folding the next ones, so
a :class:`Committer` does it on a thread of its own while the job keeps consuming. Each commit it is handed is
applied whole and in the order handed: the rows are appended offline, and only then is each partition's window
state saved together with the acknowledgement of the messages it covers. A checkpoint is thus never saved
before the rows it covers are durable, and a worker killed with commits still queued leaves their messages
pending, to be read again from the previous checkpoint (the writes are idempotent).

The queue is bounded: a job that consumes faster than it can commit waits for the writer instead of buffering
without limit. Once a commit fails, the ones queued after it are dropped (applying them would acknowledge
messages whose rows were never written) and the error is raised to the job at its next hand-over or flush.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from fti.faults import kill_point

__all__ = ["Checkpoint", "Commit", "Committer"]

_QUEUED_COMMITS = 2


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One partition's window state and the ids of the messages it covers, to acknowledge with it; ``state``
    serializes the state as it was when the checkpoint was taken (on the commit thread)."""

    partition: int
    ids: Sequence[str]
    state: Callable[[], bytes]


@dataclass(frozen=True, slots=True)
class Commit:
    """What one commit writes: the rows for the offline store (None: none), then the checkpoints."""

    rows: pa.Table | None
    checkpoints: Sequence[Checkpoint]


class Committer:
    """Applies :class:`Commit` s in order on a background thread (``append`` then ``save`` each checkpoint).

    Example:
        >>> committer = Committer(group.append, save_checkpoint)  # doctest: +SKIP
        >>> committer.submit(Commit(rows, [Checkpoint(0, ids, state)]))  # doctest: +SKIP
        >>> committer.flush()  # doctest: +SKIP
    """

    def __init__(self, append: Callable[[pa.Table], object], save: Callable[[Checkpoint], None]) -> None:
        self._append = append
        self._save = save
        self._queue: queue.Queue[Commit | None] = queue.Queue(maxsize=_QUEUED_COMMITS)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self.checkpoints_saved = 0

    def submit(self, commit: Commit) -> None:
        """Queue a commit (waiting while the queue is full); raise the error of an earlier one that failed."""
        self._raise_error()
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="fti-stream-commits", daemon=True)
            self._thread.start()
        self._queue.put(commit)

    def flush(self) -> None:
        """Wait until every queued commit is applied; raise the error of one that failed."""
        if self._thread is not None:
            self._queue.join()
        self._raise_error()

    def discard(self) -> None:
        """Wait for the commit being applied, drop the queued ones and forget any error (the job starts again
        from its last checkpoint)."""
        if self._thread is not None:
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
                self._queue.task_done()
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._queue = queue.Queue(maxsize=_QUEUED_COMMITS)
        self._error = None

    def close(self) -> None:
        """Apply what is queued, then stop the thread; raise the error of a commit that failed."""
        self.flush()
        self.discard()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _work(self) -> None:
        while True:
            commit = self._queue.get()
            try:
                if commit is None:
                    return
                if self._error is None:
                    self._apply(commit)
            except BaseException as exc:  # handed to the job's thread, which reports it
                self._error = exc
            finally:
                self._queue.task_done()

    def _apply(self, commit: Commit) -> None:
        if commit.rows is not None and commit.rows.num_rows:
            self._append(commit.rows)
        for checkpoint in commit.checkpoints:
            kill_point("stream.before_checkpoint")
            self._save(checkpoint)
            self.checkpoints_saved += 1
            kill_point("stream.after_checkpoint")
