"""The process that owns a running run, and whether it is gone.

A run records the process that started it: its host (its name and, on Linux, its pid namespace), its pid and
a token of when that process started (the boot's id and the process's start time in clock ticks, read from
``/proc`` on Linux). A run still ``running`` whose owner ran on this host and no longer exists was killed
(SIGKILL, an out-of-memory kill, a reboot): nothing ended it, and nothing will. The start token tells a pid
that a later process reuses from the one that started the run. A run started on another host is never judged
from here: only its own host can see its process.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fti.core.tracking import OWNER_TAG

__all__ = ["OWNER_TAG", "ProcessOwner", "current_owner"]


@dataclass(frozen=True, slots=True)
class ProcessOwner:
    """A process on a host: its pid and a token of when it started ("" where the platform gives none)."""

    host: str
    pid: int
    started: str

    def encode(self) -> str:
        """The owner as the value of :data:`OWNER_TAG`: ``host pid started``."""
        return f"{self.host} {self.pid} {self.started}".rstrip()

    @classmethod
    def decode(cls, value: str) -> ProcessOwner | None:
        """The owner :meth:`encode` wrote, or None for a value it did not write."""
        parts = value.split(" ")
        if len(parts) not in (2, 3) or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2] if len(parts) == 3 else "")

    def is_gone(self) -> bool:
        """Whether this process ran on this host and no longer exists (its pid is free or another process's).

        False for a process of another host: whether it lives cannot be seen from here.
        """
        if self.host != _host():
            return False
        if self.pid == os.getpid():
            return self.started != _start_token(self.pid)
        if not _exists(self.pid):
            return True
        token = _start_token(self.pid)
        return bool(self.started) and bool(token) and token != self.started


def current_owner() -> ProcessOwner:
    """This process."""
    pid = os.getpid()
    return ProcessOwner(_host(), pid, _start_token(pid))


@cache
def _host() -> str:
    """The host name, with the pid namespace where there is one: containers sharing a host name (host networking)
    but not their pids are different hosts here, so that none judges another's pids."""
    # a host name has no spaces; the encoding separates on them
    name = socket.gethostname().replace(" ", "_") or "localhost"
    try:
        namespace = str(Path("/proc/self/ns/pid").readlink())  # 'pid:[4026531836]'
    except OSError:
        return name
    return f"{name}/{namespace.removeprefix('pid:').strip('[]')}"


@cache
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_token(pid: int) -> str:
    """``boot-id/start-ticks`` of the process on Linux; "" where ``/proc`` does not tell."""
    boot = _boot_id()
    if not boot:
        return ""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # the command name in parentheses may hold spaces: the fields after its closing parenthesis are fixed
    fields = stat.rpartition(")")[2].split()
    # field 22 of the file (starttime) is the 20th after the name, which is field 2; field 3 is fields[0]
    return f"{boot}/{fields[19]}" if len(fields) > 19 else ""


def _exists(pid: int) -> bool:
    """Whether the process lives: a zombie (killed, not yet reaped by its parent) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        pass
    else:
        return stat.rpartition(")")[2].split()[:1] != ["Z"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True
