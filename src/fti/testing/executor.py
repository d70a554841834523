"""The contract every Executor implementation passes: provide a fixture ``executor`` (open)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

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
