"""What a run captures about the code and interpreter that execute it."""

from __future__ import annotations

import functools
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from fti.core.tracking import CodeVersion

__all__ = ["code_version", "installed_packages", "python_version"]


def python_version() -> str:
    """The interpreter's version, for example '3.11.9'."""
    return ".".join(str(part) for part in sys.version_info[:3])


@functools.cache
def installed_packages() -> dict[str, str]:
    """``distribution name -> version`` of every installed package (read once per process)."""
    found: dict[str, str] = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name:
            found[str(name).lower()] = distribution.version
    return dict(sorted(found.items()))


def code_version(root: Path) -> CodeVersion:
    """The git commit of ``root``'s repository, whether it has uncommitted changes, and the entry point.

    Git is asked once per process and folder: a training script does not change its own commit while
    it runs, and runs should not pay two subprocesses each.
    """
    commit, is_dirty = _git_state(root.resolve())
    entry = sys.argv[0] if sys.argv and sys.argv[0] else None
    return CodeVersion(git_commit=commit, is_dirty=is_dirty, entry_point=entry)


@functools.cache
def _git_state(root: Path) -> tuple[str | None, bool | None]:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=False
        )
        if head.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    is_dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return head.stdout.strip() or None, is_dirty
