"""Adaptive micro-batching: concurrent requests to one model are predicted together.

A vectorized model answers 100 rows barely slower than 1, so when many small requests arrive at once,
gathering them into one ``predict`` call raises throughput. The batcher adapts to the load:

* with ``max_wait_ms == 0`` (the default) it never waits: a request that finds the model idle is
  predicted at once (after one turn of the event loop, which lets requests that are already parsed join
  it); requests that arrive while the model is busy queue up and become the next batch. Under low load
  every batch has one request and costs nothing extra; under high load batches grow by themselves.
* with ``max_wait_ms > 0`` the first request of a batch opens a collection window of at most that long,
  which closes early once ``max_batch_rows`` rows are waiting: larger batches for a little latency.

If a batch fails, its requests are predicted one by one, so a bad request fails alone. See
docs/serving.md for when to change the defaults.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fti.inference.ports import ServedModel
from fti.inference.tasks import stop_task

__all__ = ["BatchingConfig", "MicroBatcher"]


@dataclass(frozen=True, slots=True)
class BatchingConfig:
    """Micro-batching settings.

    Attributes:
        enabled: gather concurrent requests per model; off, each request calls ``predict`` on its own.
        max_batch_rows: the most rows of one batch (a request is never split).
        max_wait_ms: the longest a first request waits for company; 0 never waits.
    """

    enabled: bool = True
    max_batch_rows: int = 256
    max_wait_ms: float = 0.0


@dataclass(slots=True)
class _Pending:
    frame: pd.DataFrame
    future: asyncio.Future[np.ndarray] = field(repr=False)


class MicroBatcher:
    """Gathers concurrent ``predict`` calls to one model into batches, on the running event loop.

    Args:
        model: the model predicting the batches.
        config: window size and wait.
        observe_batch: called with the row count of every batch (metrics).
    """

    def __init__(
        self, model: ServedModel, config: BatchingConfig, observe_batch: Callable[[int], None] | None = None
    ) -> None:
        self.model = model
        self._config = config
        self._observe = observe_batch
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task[None] | None = None

    async def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predict ``frame``'s rows together with whatever else arrives within the window."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._run(self._queue))
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(frame, future))
        return await future

    async def close(self) -> None:
        """Finish the batches already queued, then stop the worker."""
        if self._queue is not None and self._worker is not None:
            await self._queue.join()
            await stop_task(self._worker)
        self._queue = self._worker = None

    async def _run(self, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            batch = [await queue.get()]
            if self._config.max_wait_ms > 0:
                await self._collect(queue, batch)
            else:
                await asyncio.sleep(0)  # one turn of the loop: requests parsed meanwhile join this batch
                self._drain(queue, batch)
            self._predict(batch)
            for _ in batch:
                queue.task_done()

    def _drain(self, queue: asyncio.Queue[_Pending], batch: list[_Pending]) -> None:
        """Add what is queued now to ``batch``, up to the row limit."""
        rows = sum(len(pending.frame) for pending in batch)
        while rows < self._config.max_batch_rows and not queue.empty():
            pending = queue.get_nowait()
            batch.append(pending)
            rows += len(pending.frame)

    async def _collect(self, queue: asyncio.Queue[_Pending], batch: list[_Pending]) -> None:
        """Add requests to ``batch`` until the window closes or the row limit is reached."""
        rows = len(batch[0].frame)
        deadline = asyncio.get_running_loop().time() + self._config.max_wait_ms / 1000
        while rows < self._config.max_batch_rows:
            if queue.empty():
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    pending = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    break
            else:
                pending = queue.get_nowait()
            batch.append(pending)
            rows += len(pending.frame)

    def _predict(self, batch: list[_Pending]) -> None:
        if self._observe is not None:
            self._observe(sum(len(pending.frame) for pending in batch))
        if len(batch) == 1:
            self._answer(batch)
            return
        try:
            frames = pd.concat([pending.frame for pending in batch], ignore_index=True)
            predictions = np.ascontiguousarray(self.model.predict(frames))
        except Exception:  # one bad request must not fail the others: predict each on its own
            for pending in batch:
                self._answer([pending])
            return
        offsets = np.cumsum([len(pending.frame) for pending in batch])[:-1]
        for pending, part in zip(batch, np.split(predictions, offsets), strict=True):
            if not pending.future.done():
                pending.future.set_result(part)

    def _answer(self, alone: list[_Pending]) -> None:
        pending = alone[0]
        try:
            predictions = np.ascontiguousarray(self.model.predict(pending.frame))
        except Exception as exc:  # handed to the waiting request, which renders it at the HTTP edge
            if not pending.future.done():
                pending.future.set_exception(exc)
            return
        if not pending.future.done():
            pending.future.set_result(predictions)
