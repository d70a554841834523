"""A server run as a subprocess for a test or a benchmark (``fti serve``, say), started and stopped safely.

Its standard error goes to a file, not a pipe: a pipe nobody reads fills after 64 KiB of warnings and then
blocks the server in whatever thread writes next, which looks like a server that hangs. The server runs
with ``faulthandler`` on, so when it does not stop within the time given after SIGTERM, SIGABRT makes it
print every thread's stack, and the error raised carries that dump: a hang says where it hangs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

__all__ = ["ServerProcess"]


class ServerProcess:
    """``command`` started with ``env``; its standard error is written to ``log_path``.

    Use it as a context manager: leaving it stops the server (SIGTERM, then SIGABRT and SIGKILL).

    Args:
        command: the program and its arguments.
        env: the whole environment of the server (``PYTHONFAULTHANDLER`` is added).
        log_path: the file the server's standard error goes to.
        cwd: the working folder of the server.
    """

    def __init__(
        self, command: Sequence[str], env: Mapping[str, str], log_path: Path, *, cwd: Path | None = None
    ) -> None:
        self.log_path = log_path
        with log_path.open("wb") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                list(command),
                env={**env, "PYTHONFAULTHANDLER": "1"},
                cwd=cwd,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def output(self, chars: int = 4000) -> str:
        """The last ``chars`` characters the server wrote to standard error."""
        with self.log_path.open("rb") as log:
            log.seek(max(0, os.fstat(log.fileno()).st_size - chars))
            return log.read().decode(errors="replace")

    def wait_ready(self, url: str, seconds: float = 90) -> None:
        """Wait until ``url`` answers 200; raise with the server's output when it exits or takes too long."""
        import httpx

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"The server did not answer 200 on {url} within {seconds:g} s:\n{self.output()}")

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM and wait up to ``timeout`` seconds for a graceful exit; its exit status.

        A server still running then prints its threads' stacks (SIGABRT) and is killed, and the
        ``RuntimeError`` raised carries the stacks."""
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGABRT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            raise RuntimeError(
                f"The server did not stop within {timeout:g} s of SIGTERM; its threads were:\n{self.output(20_000)}"
            ) from None

    def kill(self) -> None:
        """SIGKILL, and wait for the process to end."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.stop()
            return
        with contextlib.suppress(RuntimeError):  # the test failed already: its error matters more than a slow stop
            self.stop()
