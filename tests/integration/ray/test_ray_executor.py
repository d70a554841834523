"""The executor contract on a real 2-node Ray cluster, and the Ray executor's errors."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from fti.backends.kinds import create_backend
from fti.backends.ports import Executor
from fti.errors import BackendError
from fti.testing.executor import ExecutorContract, fail_on_three

pytestmark = pytest.mark.xdist_group("ray")


@pytest.fixture
def executor(ray_executor: Executor) -> Executor:
    return ray_executor


class TestRayExecutor(ExecutorContract):
    pass


def node_of_a_slow_task(_: int) -> str:
    """The node a task ran on; the task lasts long enough that the cluster's other CPU takes the next one."""
    import ray

    time.sleep(1)
    return str(ray.get_runtime_context().get_node_id())


def test_tasks_run_on_both_nodes(ray_executor: Executor) -> None:
    assert ray_executor.workers == 2
    assert len(set(ray_executor.map(node_of_a_slow_task, list(range(4))))) == 2


def test_a_failing_task_names_its_item(ray_executor: Executor) -> None:
    with pytest.raises(ValueError, match="task 3 failed") as raised:
        ray_executor.map(fail_on_three, [0, 1, 2, 3])
    assert "task 3 of 4 on the Ray cluster" in raised.value.__notes__[0]
    assert "fail_on_three" in str(raised.value.__cause__)


def test_an_unreachable_address_is_refused_clearly() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    executor = create_backend("executor", "ray", {"address": f"127.0.0.1:{port}"})
    with pytest.raises(BackendError, match=rf"No Ray cluster answers at executor.address '127.0.0.1:{port}'"):
        executor.open()


def square_dying_once(item: tuple[str, int]) -> int:
    """Square a number, but the first attempt kills its worker process (as a lost worker would)."""
    folder, value = item
    marker = Path(folder) / f"{value}.tried"
    if not marker.exists():
        marker.touch()
        os._exit(1)
    return value * value


def test_a_task_whose_worker_dies_is_retried_and_the_result_is_exact(ray_executor: Executor, tmp_path: Path) -> None:
    assert ray_executor.map(square_dying_once, [(str(tmp_path), value) for value in range(3)]) == [0, 1, 4]
    assert len(list(tmp_path.glob("*.tried"))) == 3
