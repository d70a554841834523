"""An executor that runs its tasks on another and records what it mapped: which work went to the executor."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from fti.backends.ports import Executor, TaskHandle

T = TypeVar("T")
R = TypeVar("R")


class RecordingExecutor:
    """An executor that runs every task on another executor and records which functions it mapped."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.mapped: list[tuple[str, int]] = []

    @property
    def workers(self) -> int:
        return self.inner.workers

    @property
    def is_cluster(self) -> bool:
        return self.inner.is_cluster

    def open(self) -> None:
        self.inner.open()

    def close(self) -> None:
        """The inner executor belongs to the session."""

    def ping(self) -> None:
        self.inner.ping()

    def describe(self) -> str:
        return self.inner.describe()

    def map(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        self.mapped.append((function.__name__, len(items)))
        return self.inner.map(function, items)

    def submit(self, function: Callable[[T], R], item: T) -> TaskHandle[R]:
        return self.inner.submit(function, item)
