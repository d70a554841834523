"""Fault injection for the tests: run a write in a new process that kills itself with SIGKILL at a named stage of
its write path (see :mod:`fti.faults`), then let the test check what it left behind.

Two drivers: :func:`kill_at` runs a module-level function of a test module (``operation(*args)``, the
arguments as strings) in a child forked from a process that imported fti once (:mod:`tests.fault_zygote`;
a fresh interpreter where the system cannot fork); :func:`start_killed` starts any command (``fti scheduler``,
``fti stream run``) with the stage set, for the caller to wait on. Both refuse a stage :data:`fti.faults.STAGES`
does not name, and :func:`kill_at` fails when the operation ends without reaching its stage, so a renamed or
moved kill point cannot turn a fault test into one that checks nothing.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fti.faults import ENVIRONMENT_VARIABLE, STAGES

__all__ = [
    "ROOT",
    "fault_environment",
    "kill_at",
    "overrides_argument",
    "plain_environment",
    "read_overrides",
    "start_killed",
]

ROOT = Path(__file__).resolve().parents[1]

# the child imports the operation's module by name, then calls it with the remaining arguments
_CHILD = (
    "import importlib, sys\n"
    "module, _, name = sys.argv[1].partition(':')\n"
    "getattr(importlib.import_module(module), name)(*sys.argv[2:])\n"
)


def plain_environment() -> dict[str, str]:
    """The environment of a process importing this checkout's fti and tests, with no kill point."""
    environment = {key: value for key, value in os.environ.items() if key != ENVIRONMENT_VARIABLE}
    return {**environment, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), "NO_COLOR": "1"}


def fault_environment(stage: str) -> dict[str, str]:
    """The environment of a process that kills itself at ``stage``, importing this checkout's fti and tests."""
    if stage not in STAGES:
        raise AssertionError(f"{stage!r} is no kill point; fti.faults.STAGES names {sorted(STAGES)}")
    return {**plain_environment(), ENVIRONMENT_VARIABLE: stage}


def kill_at(stage: str, operation: Callable[..., object], *args: str, timeout: float = 180) -> None:
    """Run ``operation(*args)`` in a new process that kills itself at ``stage``; fail unless it was so killed."""
    target = f"{operation.__module__}:{operation.__qualname__}"
    if hasattr(os, "fork"):
        status, stdout, stderr = _ZYGOTE.run(target, args, fault_environment(stage), stage, timeout)
    else:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, target, *args],
            env=fault_environment(stage),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        status, stdout, stderr = done.returncode, done.stdout, done.stderr
    if status != -signal.SIGKILL:
        ended = "ran past its timeout" if status is None else f"ended with status {status}"
        raise AssertionError(f"{target} {ended} instead of being killed at {stage}:\n{stdout}\n{stderr}")


class _Zygote:
    """The :mod:`tests.fault_zygote` process of this test process, started on first use, stopped at exit."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None

    def run(
        self, target: str, arguments: Sequence[str], environment: Mapping[str, str], stage: str, timeout: float
    ) -> tuple[int | None, str, str]:
        """Run ``target(*arguments)`` in a forked child killed at ``stage``: its status, stdout and stderr."""
        process = self._started()
        assert process.stdin is not None and process.stdout is not None
        with tempfile.TemporaryDirectory(prefix="fti-fault-") as folder:
            outputs = {name: str(Path(folder) / name) for name in ("stdout", "stderr")}
            request = {
                "target": target,
                "arguments": list(arguments),
                "environment": dict(environment),
                "cwd": str(ROOT),
                "stage": stage,
                "timeout": timeout,
                **outputs,
            }
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            answer = process.stdout.readline()
            if not answer:
                self._process = None
                raise AssertionError(f"the fault zygote ended with status {process.wait()}")
            texts = [Path(path).read_text(errors="replace") for path in outputs.values()]
        return json.loads(answer)["status"], texts[0], texts[1]

    def _started(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.fault_zygote"],
                env=plain_environment(),
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            atexit.register(self.stop)
        return self._process

    def stop(self) -> None:
        """End the zygote: it exits when its stdin closes."""
        process, self._process = self._process, None
        if process is not None:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.close()
            process.wait(timeout=30)
            process.stdout.close()


_ZYGOTE = _Zygote()


def start_killed(stage: str, command: Sequence[str], **options: Any) -> subprocess.Popen[str]:
    """Start ``command`` as a process that kills itself at ``stage`` (``options`` go to :class:`subprocess.Popen`)."""
    return subprocess.Popen(list(command), env=fault_environment(stage), cwd=ROOT, text=True, **options)


def overrides_argument(overrides: Mapping[str, Any]) -> str:
    """Settings overrides as one command-line argument for an operation run by :func:`kill_at`."""
    return json.dumps(dict(overrides))


def read_overrides(argument: str) -> dict[str, Any]:
    """The overrides :func:`overrides_argument` encoded."""
    value = json.loads(argument)
    assert isinstance(value, dict)
    return value
