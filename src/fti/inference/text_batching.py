"""Batching of concurrent generation requests to one text generation model.

Generation is sequential per token, so requests that arrive together are decoded together: one forward
pass per step for the whole batch (``fti.llm.decoding`` keeps each request's own parameters and seed).
Like the prediction micro-batcher it never waits for company: a request that finds the model idle
starts at once (after one turn of the event loop, which lets requests already parsed join it); requests
that arrive while a batch is decoding wait and form the next batch, up to ``max_batch`` requests. The
decoding runs in a worker thread, so the event loop keeps streaming tokens and accepting requests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fti.inference.tasks import stop_task
from fti.llm.decoding import GenerationRequest
from fti.llm.generator import TextGenerator

__all__ = ["TextBatcher"]

_logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Pending:
    request: GenerationRequest
    done: asyncio.Future[None]


class TextBatcher:
    """Gathers concurrent requests to ``generator`` into batches, on the running event loop.

    Args:
        generator: the model and tokenizer.
        max_batch: the most requests decoded together.
        observe_batch: called with the size of every batch (metrics).
    """

    def __init__(
        self, generator: TextGenerator, max_batch: int, observe_batch: Callable[[int], None] | None = None
    ) -> None:
        self.generator = generator
        self._max_batch = max_batch
        self._observe = observe_batch
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task[None] | None = None

    async def generate(self, requests: Sequence[GenerationRequest]) -> None:
        """Decode ``requests`` (filled in when this returns), batched with whatever else is queued."""
        loop = asyncio.get_running_loop()
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = loop.create_task(self._run(self._queue))
        pending = [_Pending(request, loop.create_future()) for request in requests]
        for item in pending:
            self._queue.put_nowait(item)
        await asyncio.gather(*(item.done for item in pending))

    async def close(self) -> None:
        """Finish the queued batches, then stop the worker."""
        if self._queue is not None and self._worker is not None:
            await self._queue.join()
            await stop_task(self._worker)
        self._queue = self._worker = None

    async def _run(self, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            batch = [await queue.get()]
            await asyncio.sleep(0)  # one turn of the loop: requests parsed meanwhile join this batch
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            if self._observe is not None:
                self._observe(len(batch))
            try:
                await asyncio.to_thread(self.generator.run, [item.request for item in batch])
            except Exception as exc:  # handed to every waiting request, rendered at the HTTP edge
                _logger.exception("Generating a batch of %d requests failed.", len(batch))
                for item in batch:
                    if not item.done.done():
                        item.done.set_exception(exc)
            else:
                for item in batch:
                    if not item.done.done():
                        item.done.set_result(None)
            for _ in batch:
                queue.task_done()
