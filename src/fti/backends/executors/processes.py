"""One task in a process of its own: started from a fork server, stoppable, and dying with its submitter.

The fork server (on Linux and macOS; spawn elsewhere) is started once per process with the module of the
first submitted function imported, and every module of its package the submitting process has imported
by then, so tasks start in milliseconds instead of re-importing them. Each
task leads a new process group: stopping it kills every process it started too. A thread in the task
watches a pipe whose other end only the submitter holds: when the submitter dies, even by SIGKILL, the
pipe closes and the task's group is killed, so a task never outlives the scheduler that owns its lease.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any, Generic, TypeVar

from fti.errors import BackendError

__all__ = ["ProcessTask", "RemoteTracebackError", "start_process_task"]

T = TypeVar("T")
R = TypeVar("R")

_lock = threading.Lock()
_context: BaseContext | None = None


class RemoteTracebackError(Exception):
    """The traceback of an exception raised in a task's process (set as the re-raised exception's cause)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _task_context(module: str) -> BaseContext:
    global _context
    with _lock:
        if _context is None:
            if "forkserver" in multiprocessing.get_all_start_methods():
                package = module.partition(".")[0]
                imported = sorted(name for name in list(sys.modules) if name.partition(".")[0] == package)
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload([module, *imported])
                _context = context
            else:
                _context = multiprocessing.get_context("spawn")
        return _context


def _die_with_parent(alive: Connection) -> None:
    with contextlib.suppress(EOFError, OSError):
        alive.recv()
    os.killpg(os.getpgid(0), signal.SIGKILL)


def _run(function: Callable[[Any], Any], item: Any, results: Connection, alive: Connection) -> None:
    os.setsid()
    threading.Thread(target=_die_with_parent, args=(alive,), daemon=True, name="fti-task-watchdog").start()
    try:
        outcome: tuple[bool, Any, str] = (True, function(item), "")
    except BaseException as exc:
        outcome = (False, exc, traceback.format_exc())
    try:
        results.send(outcome)
    except Exception as exc:  # an unpicklable value or exception: say what it was
        results.send((False, BackendError(f"The task's result could not be sent back: {exc}"), outcome[2]))
    results.close()


class ProcessTask(Generic[R]):
    """The handle of a task started by :func:`start_process_task`."""

    def __init__(self, process: Any, results: Connection, alive: Connection) -> None:
        self._process = process
        self._results = results
        self._alive = alive
        self._outcome: tuple[bool, Any, str] | None = None
        self._cancelled = False

    @property
    def pid(self) -> int | None:
        """The task's process id (the id of its process group too)."""
        pid: int | None = self._process.pid
        return pid

    def done(self) -> bool:
        """Whether the task ended."""
        return self._outcome is not None or self._cancelled or self._poll(0)

    def result(self, timeout: float | None = None) -> R:
        """The task's value, or its exception re-raised (with the remote traceback as its cause)."""
        if self._cancelled:
            raise BackendError("The task was stopped before it finished.")
        if self._outcome is None and not self._poll(timeout):
            raise TimeoutError(f"The task did not finish within {timeout} s.")
        assert self._outcome is not None
        is_ok, value, remote = self._outcome
        if is_ok:
            return value  # type: ignore[no-any-return]
        if isinstance(value, BaseException):
            raise value from RemoteTracebackError(remote)
        raise BackendError(f"The task failed: {value}")

    def cancel(self) -> None:
        """Kill the task's process group now; idempotent."""
        if self._outcome is not None or self._cancelled:
            return
        self._cancelled = True
        pid = self._process.pid
        if pid is not None:
            # before it leads its own group there is no group to kill: the process alone is killed below
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        if self._process.is_alive():
            self._process.kill()
        self._process.join(10)
        self._close()

    def _poll(self, timeout: float | None) -> bool:
        if self._outcome is not None:
            return True
        try:
            if not self._results.poll(timeout):
                return False
            self._outcome = self._results.recv()
        except (EOFError, OSError):
            self._process.join(10)
            code = self._process.exitcode
            how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
            self._outcome = (False, BackendError(f"The task's process {how} before it returned."), "")
        self._process.join(10)
        self._close()
        return True

    def _close(self) -> None:
        self._results.close()
        self._alive.close()


def start_process_task(function: Callable[[T], R], item: T) -> ProcessTask[R]:
    """Run ``function(item)`` (both picklable) in a new process and return its handle at once."""
    context = _task_context(function.__module__)
    results_out, results_in = context.Pipe(duplex=False)
    alive_out, alive_in = context.Pipe(duplex=False)
    process = context.Process(  # type: ignore[attr-defined]
        target=_run, args=(function, item, results_in, alive_out), name="fti-task", daemon=False
    )
    process.start()
    results_in.close()
    alive_out.close()
    return ProcessTask(process, results_out, alive_in)
