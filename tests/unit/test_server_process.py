"""The test helper that runs servers as subprocesses: a server that hangs on SIGTERM says where it hangs."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from fti.testing.server_process import ServerProcess

HANGS_ON_SIGTERM = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: None)
def wait_forever():
    while True:
        time.sleep(0.01)
print("started", file=sys.stderr, flush=True)
wait_forever()
"""


def _started(server: ServerProcess) -> None:
    while "started" not in server.output():
        assert server.process.poll() is None, server.output()
        time.sleep(0.01)


def test_a_server_that_ignores_sigterm_is_killed_and_its_stacks_are_reported(tmp_path: Path) -> None:
    server = ServerProcess([sys.executable, "-c", HANGS_ON_SIGTERM], dict(os.environ), tmp_path / "server.log")
    _started(server)
    with pytest.raises(RuntimeError, match=r"did not stop within 0.5 s of SIGTERM") as raised:
        server.stop(timeout=0.5)
    assert "in wait_forever" in str(raised.value)  # faulthandler's dump of the main thread
    assert server.process.poll() is not None


def test_standard_error_goes_to_the_file_and_never_blocks_the_server(tmp_path: Path) -> None:
    chatty = "import sys\nfor _ in range(20_000): sys.stderr.write('x' * 99 + '\\n')\nprint('done', file=sys.stderr)"
    with ServerProcess([sys.executable, "-c", chatty], dict(os.environ), tmp_path / "server.log") as server:
        assert server.process.wait(timeout=60) == 0  # 2 MB written: a pipe nobody reads would have blocked it
        assert server.output(100).endswith("done\n")
        assert (tmp_path / "server.log").stat().st_size > 1_900_000


def test_a_server_that_exits_before_it_is_ready_reports_its_output(tmp_path: Path) -> None:
    failing = "import sys; print('no such project', file=sys.stderr); sys.exit(2)"
    server = ServerProcess([sys.executable, "-c", failing], dict(os.environ), tmp_path / "server.log")
    with pytest.raises(RuntimeError, match=r"exited with 2:\nno such project"):
        server.wait_ready("http://127.0.0.1:9/", seconds=30)
