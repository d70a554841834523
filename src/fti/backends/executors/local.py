"""Run tasks in local worker processes (the embedded default executor)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, PositiveInt

from fti.backends.executors.processes import ProcessTask, start_process_task
from fti.backends.settings import parse_backend_config
from fti.errors import BackendError

__all__ = ["LocalExecutor", "LocalExecutorConfig"]

T = TypeVar("T")
R = TypeVar("R")


class LocalExecutorConfig(BaseModel):
    """Settings of the local executor: how many worker processes (default: CPU count)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_workers: PositiveInt | None = None


class LocalExecutor:
    """A pool of local processes, started on ``open`` with the 'spawn' method (safe with threads)."""

    def __init__(self, config: LocalExecutorConfig) -> None:
        self.config = config
        self._pool: ProcessPoolExecutor | None = None

    @classmethod
    def config_from(cls, options: Mapping[str, Any]) -> LocalExecutorConfig:
        """Validate this backend's options."""
        return parse_backend_config(LocalExecutorConfig, options, "executor")

    @property
    def workers(self) -> int:
        """Number of worker processes."""
        return self.config.max_workers or os.cpu_count() or 1

    @property
    def is_cluster(self) -> bool:
        """Local processes share this machine's cores."""
        return False

    def open(self) -> None:
        """Start the pool."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))

    def close(self) -> None:
        """Stop the pool, waiting for running tasks."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def ping(self) -> None:
        """Local processes are always available."""

    def describe(self) -> str:
        """How many processes."""
        return f"{self.workers} local processes"

    def map(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Apply a picklable ``function`` to every item in parallel; results in input order.

        The first task that raises makes ``map`` raise that exception, after cancelling the rest.
        """
        if self._pool is None:
            raise BackendError("The local executor is not open: call open() first.")
        return list(self._pool.map(function, items))

    def submit(self, function: Callable[[T], R], item: T) -> ProcessTask[R]:
        """Start ``function(item)`` in a new local process (see :mod:`fti.backends.executors.processes`)."""
        if self._pool is None:
            raise BackendError("The local executor is not open: call open() first.")
        return start_process_task(function, item)
