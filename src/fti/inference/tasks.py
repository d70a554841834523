"""Stopping the server's background tasks (batch workers, the deployment poller) without losing a cancellation."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["stop_task"]

_logger = logging.getLogger(__name__)


async def stop_task(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has ended; a cancellation of the caller during the wait goes on to it.

    ``task.cancel()`` then ``with suppress(CancelledError): await task`` swallows the caller's own
    cancellation too when it arrives during the wait: the caller runs on as if never cancelled. The server's
    poller, cancelled at shutdown while it stopped a batch worker, then polled forever, and the shutdown
    waited for it forever.
    """
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled() and (error := task.exception()) is not None:
        _logger.error("Background task %s had failed before it was stopped.", task.get_name(), exc_info=error)
