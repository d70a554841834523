"""A stream job's offline appends, made in a process of its own so they never hold the job's interpreter lock.

Appending a micro-batch to the offline store (the Delta commit, its statistics, the catalog transaction) costs
tens of milliseconds of CPU a commit, much of it in Python or in native calls that keep the interpreter lock. On
a thread of the worker that time is taken from the consume loop, and an event that arrives meanwhile waits for
it before its aggregates are written online. An :class:`OfflineAppender` hands the rows, as Arrow IPC bytes
over a pipe, to a child process (a fresh interpreter) that opens the project again and appends them; the job's
commit thread waits for the answer without the lock, so the consume loop and the online writes go on beside it.

The order of a commit does not change: the rows are durable offline before the checkpoint and the
acknowledgement that cover them are saved (the commit thread saves those once the child answered). A child that
dies raises a BackendError in the job, which starts again from its last checkpoint with a new child. A child
whose worker dies reads the end of the pipe and exits once its current append is done (an append of rows never
acknowledged is written again, identically, by the worker that replays their messages). The child ignores
SIGINT and SIGTERM: Ctrl-C on a terminal reaches the whole process group, and the worker closes its child only
after its last commit.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa

from fti.errors import BackendError

if TYPE_CHECKING:
    from fti.features.aggregation_groups import AggregationGroup

__all__ = ["GroupOpener", "OfflineAppender", "OpenedProject", "serve"]

_STOP = b""
_CHILD = "import sys; from fti.streams.offline_process import serve; serve(int(sys.argv[1]), int(sys.argv[2]))"
_CLOSE_SECONDS = 30.0


class OpenedProject(Protocol):
    """What the child process needs of the project it opens: the group, and closing it."""

    def get_aggregation_group(self, name: str, version: int | None = None) -> AggregationGroup:
        """The aggregation group ``name`` at ``version``."""
        ...

    def close(self) -> None:
        """Release the project's stores."""
        ...


#: opens the project again in another process (picklable; see ``Project``'s opener)
GroupOpener = Callable[[], OpenedProject]


class OfflineAppender:
    """Appends an aggregation group's rows to the offline store in a child process, one append at a time.

    The child is started by :meth:`start` (or the first :meth:`append`) and opens the project with ``opener``;
    :meth:`wait_ready` waits until it has.

    Example:
        >>> appender = OfflineAppender(project_opener, "card_windows", 1)  # doctest: +SKIP
        >>> appender.start()  # doctest: +SKIP
        >>> appender.append(rows)  # doctest: +SKIP
        >>> appender.close()  # doctest: +SKIP
    """

    def __init__(self, opener: GroupOpener, name: str, version: int) -> None:
        self._opener = opener
        self._name = name
        self._version = version
        self._process: subprocess.Popen[bytes] | None = None
        self._sending: Connection | None = None  # to the child
        self._connection: Connection | None = None  # from the child
        self._is_ready = False

    @property
    def pid(self) -> int | None:
        """The child's process id (None before it is started or after it stopped)."""
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Start the child unless it runs; return at once (it opens the project meanwhile)."""
        if self._process is not None and self._process.poll() is None:
            return
        self._stop()
        # A fresh interpreter on two pipes of its own (not multiprocessing's spawn, which imports the caller's
        # main module again: a script without a ``__main__`` guard would run twice).
        down_read, down_write = os.pipe()
        up_read, up_write = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(down_read), str(up_write)],
                pass_fds=(down_read, up_write),
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            for fd in (down_read, down_write, up_read, up_write):
                os.close(fd)
            raise BackendError(
                f"The offline writer process of aggregation group '{self._name}' cannot start: {exc}"
            ) from exc
        os.close(down_read)
        os.close(up_write)
        self._process, self._is_ready = process, False
        self._sending = Connection(down_write, readable=False)
        self._connection = Connection(up_read, writable=False)
        try:
            self._sending.send((self._opener, self._name, self._version))
        except OSError as exc:
            raise self._stopped() from exc

    def wait_ready(self) -> None:
        """Start the child unless it runs, and wait until it has opened the project.

        Raises:
            BackendError: the child stopped; or the error it met opening the project.
        """
        self.start()
        assert self._connection is not None
        if self._is_ready:
            return
        try:
            reply = self._connection.recv()
        except (EOFError, OSError) as exc:
            raise self._stopped() from exc
        if isinstance(reply, BaseException):
            self._stop()  # it could not open the project: the next call starts a new one
            raise reply
        self._is_ready = True

    def append(self, rows: pa.Table) -> None:
        """Append ``rows`` as one commit (``AggregationGroup.append``); return once it is durable.

        Raises:
            BackendError: the child stopped, or the append failed there (its error, raised again here).
        """
        self.wait_ready()
        assert self._connection is not None
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, rows.schema) as writer:
            writer.write_table(rows)
        assert self._sending is not None
        try:
            self._sending.send_bytes(sink.getvalue())
            reply = self._connection.recv()
        except (EOFError, OSError) as exc:
            raise self._stopped() from exc
        if isinstance(reply, BaseException):
            raise reply

    def close(self) -> None:
        """Ask the child to exit once its current append is done, and wait for it; idempotent."""
        if self._sending is not None:
            with contextlib.suppress(OSError):  # the child is gone already
                self._sending.send_bytes(_STOP)
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(_CLOSE_SECONDS)
        self._stop()

    def _stopped(self) -> BackendError:
        """The error for a child that stopped (cleaned up: the next call starts a new one)."""
        code = None if self._process is None else self._process.poll()
        self._stop()
        return BackendError(
            f"The offline writer process of aggregation group '{self._name}' stopped (exit code {code}); the job "
            "starts again from its last checkpoint with a new one."
        )

    def _stop(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
        for connection in (self._sending, self._connection):
            if connection is not None:
                connection.close()
        self._process, self._sending, self._connection, self._is_ready = None, None, None, False


def _portable(error: BaseException) -> BaseException:
    """``error`` if it survives pickling, else a BackendError that names it."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return BackendError(f"The offline append failed: {type(error).__name__}: {error}")
    return error


def serve(receiving_fd: int, sending_fd: int) -> None:
    """The child's main: read what to open, open the project, answer ready (None) or the error, then append
    each table it is sent until told to stop or the worker is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    receiving = Connection(receiving_fd, writable=False)
    connection = Connection(sending_fd, readable=False)
    try:
        opener, name, version = receiving.recv()
    except (EOFError, OSError):
        return
    try:
        project = opener()
    except Exception as exc:
        connection.send(_portable(exc))
        return
    try:
        group = project.get_aggregation_group(name, version)
    except Exception as exc:
        connection.send(_portable(exc))
        project.close()
        return
    connection.send(None)
    try:
        _append_each(receiving, connection, group)
    finally:
        project.close()


def _append_each(receiving: Connection, connection: Connection, group: AggregationGroup) -> None:
    while True:
        try:
            payload = receiving.recv_bytes()
        except (EOFError, OSError):
            return  # the worker is gone
        if payload == _STOP:
            return
        try:
            rows = pa.ipc.open_stream(payload).read_all()
            group.append(rows, is_online_written=True)
        except Exception as exc:
            connection.send(_portable(exc))
        else:
            connection.send(None)
