"""Fault injection for the tests: run a write in a fresh interpreter that kills itself with SIGKILL at a named
stage of its write path (see :mod:`fti.faults`), then let the test check what it left behind.

Two drivers: :func:`kill_at` runs a module-level function of a test module (``operation(*args)``, the
arguments as strings), :func:`start_killed` starts any command (``fti scheduler``, ``fti stream run``) with the
stage set, for the caller to wait on. Both refuse a stage :data:`fti.faults.STAGES` does not name, and
:func:`kill_at` fails when the operation ends without reaching its stage, so a renamed or moved kill point
cannot turn a fault test into one that checks nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
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
    """Run ``operation(*args)`` in a new interpreter that kills itself at ``stage``; fail unless it was so killed."""
    target = f"{operation.__module__}:{operation.__qualname__}"
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, target, *args],
        env=fault_environment(stage),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != -signal.SIGKILL:
        raise AssertionError(
            f"{target} ended with status {done.returncode} instead of being killed at {stage}:\n"
            f"{done.stdout}\n{done.stderr}"
        )


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
