"""The contract every Executor implementation passes: provide a fixture ``executor`` (open)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fti.errors import BackendError

if TYPE_CHECKING:
    from fti.backends.ports import Executor

__all__ = ["ExecutorContract"]


def square(value: int) -> int:
    """A picklable task."""
    return value * value


def worker_pid(_: int) -> int:
    """The process a task ran in."""
    return os.getpid()


def columns(rows: int) -> dict[str, list[int]]:
    """A task returning a structure, as batch tasks return tables."""
    return {"values": list(range(rows))}


def fail_on_three(value: int) -> int:
    """A task that fails for one input."""
    if value == 3:
        raise ValueError("task 3 failed")
    return value


def sleep_with_child(pid_file: str) -> None:
    """Start a child process, write both pids, and sleep (until stopped)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    Path(pid_file).write_text(f"{os.getpid()} {child.pid}")
    time.sleep(600)


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a killed child of ours stays a zombie until reaped: count it as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return True


def wait_until(condition: object, timeout: float = 30.0, what: str = "the condition") -> None:
    """Poll ``condition()`` until it is true or ``timeout`` seconds passed (then fail)."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


class ExecutorContract:
    """Behaviour shared by every executor."""

    def test_results_keep_input_order(self, executor: Executor) -> None:
        assert executor.map(square, list(range(20))) == [value * value for value in range(20)]

    def test_empty_input(self, executor: Executor) -> None:
        assert executor.map(square, []) == []

    def test_tasks_run_outside_the_caller(self, executor: Executor) -> None:
        assert os.getpid() not in set(executor.map(worker_pid, list(range(4))))

    def test_a_failing_task_raises(self, executor: Executor) -> None:
        with pytest.raises(ValueError, match="task 3 failed"):
            executor.map(fail_on_three, [1, 2, 3, 4])

    def test_it_keeps_working_after_a_failure(self, executor: Executor) -> None:
        with pytest.raises(ValueError, match="task 3 failed"):
            executor.map(fail_on_three, list(range(10)))
        assert executor.map(square, [3, 4]) == [9, 16]

    def test_more_tasks_than_workers_all_run(self, executor: Executor) -> None:
        assert executor.workers >= 1
        count = executor.workers * 3 + 1
        assert executor.map(square, list(range(count))) == [value * value for value in range(count)]

    def test_tasks_return_what_they_compute_whole(self, executor: Executor) -> None:
        assert executor.map(columns, [2, 0]) == [{"values": [0, 1]}, {"values": []}]

    def test_a_submitted_task_returns_its_value(self, executor: Executor) -> None:
        task = executor.submit(square, 7)
        assert task.result(timeout=60) == 49
        assert task.done()

    def test_a_submitted_task_runs_in_a_process_of_its_own(self, executor: Executor) -> None:
        first, second = executor.submit(worker_pid, 0), executor.submit(worker_pid, 1)
        pids = {first.result(timeout=60), second.result(timeout=60)}
        assert len(pids) == 2 and os.getpid() not in pids

    def test_a_submitted_task_raises_its_exception_with_the_remote_traceback(self, executor: Executor) -> None:
        task = executor.submit(fail_on_three, 3)
        with pytest.raises(ValueError, match="task 3 failed") as raised:
            task.result(timeout=60)
        assert "fail_on_three" in str(raised.value.__cause__)

    def test_result_waits_at_most_its_timeout(self, executor: Executor, tmp_path: Path) -> None:
        task = executor.submit(sleep_with_child, str(tmp_path / "pids"))
        try:
            with pytest.raises(TimeoutError):
                task.result(timeout=0.2)
            assert not task.done()
        finally:
            task.cancel()

    def test_cancel_stops_the_task_and_the_processes_it_started(self, executor: Executor, tmp_path: Path) -> None:
        pid_file = tmp_path / "pids"
        task = executor.submit(sleep_with_child, str(pid_file))
        wait_until(pid_file.exists, what="the task writing its pids")
        pids = [int(value) for value in pid_file.read_text().split()]
        task.cancel()
        wait_until(lambda: not any(_is_alive(pid) for pid in pids), what="the task's processes ending")
        assert task.done()
        with pytest.raises(BackendError, match="stopped"):
            task.result(timeout=1)
        task.cancel()  # idempotent
