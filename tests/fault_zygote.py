"""A process that has imported fti once and forks a fresh child for each killed operation of the fault tests.

Starting an interpreter and importing fti, pandas and pyarrow costs about two seconds, most of a fault case:
this process pays it once per test process. It reads one request per line on stdin (JSON: the operation as
``module:function``, its arguments, the environment and the folder to run it in, the stage to kill at, a
timeout and the files for the child's output), forks, and answers one line on stdout: the child's exit status
(negative: the signal that ended it; null: it ran past the timeout and was killed). The child takes the
request's environment and kill point (:data:`fti.faults.ENVIRONMENT_VARIABLE` is read when fti is imported, so
the child sets the module's copy too), runs the operation, runs the exit hooks an interpreter would, and exits.

It imports nothing that starts a thread, and opens no connection: each child starts from a process that has
only imported modules, as a fresh interpreter would be after its imports.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import signal
import sys
import time
import traceback
from typing import Any

import numpy  # noqa: F401  (imported once, for every child)
import pandas  # noqa: F401
import pyarrow  # noqa: F401

import fti
import fti.faults


def _child(request: dict[str, Any]) -> None:
    """The forked child: run the operation as a fresh interpreter would, then exit."""
    for number, name in ((1, "stdout"), (2, "stderr")):
        descriptor = os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(descriptor, number)
        os.close(descriptor)
    os.environ.clear()
    os.environ.update(request["environment"])
    os.chdir(request["cwd"])
    fti.faults._KILL_AT = request["stage"]
    status = 0
    try:
        module, _, name = request["target"].partition(":")
        getattr(importlib.import_module(module), name)(*request["arguments"])
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        status = 1
    try:
        atexit._run_exitfuncs()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _wait(pid: int, timeout: float) -> int | None:
    """The child's exit status (negative: the signal that ended it), or None once killed past ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.005)


#: what opening a project and writing imports on first use, imported here once for every child
_WARM = ("sqlite3", "sqlalchemy", "alembic", "alembic.command", "duckdb", "deltalake", "fti.backends.catalog.store")


def _import(name: str) -> None:
    """Import ``name`` here, for the next children; a module that cannot be imported is the child's to report."""
    try:
        importlib.import_module(name)
    except Exception:  # the child imports it again and fails with the details
        return


def main() -> None:
    """Serve requests until stdin closes."""
    for name in _WARM:
        _import(name)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        sys.stdout.write(json.dumps({"status": _wait(pid, request["timeout"])}) + "\n")
        sys.stdout.flush()
        # the operation's module (a test module: definitions only) is imported once for the next children
        _import(request["target"].partition(":")[0])


if __name__ == "__main__":
    main()
