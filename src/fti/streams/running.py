"""What every stream job shares: the loop that runs it with retries, its dead letters, its freshness sample."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pyarrow as pa

from fti.errors import FtiError, ValidationError

if TYPE_CHECKING:
    from fti.backends.ports import StreamMessages

__all__ = ["dead_letter_table", "record_freshness", "run_until_stopped"]

_FRESHNESS_SAMPLES = 100_000
_FIRST_RETRY = 0.5
_LAST_RETRY = 30.0
_log = logging.getLogger(__name__)
P = TypeVar("P")


def run_until_stopped(
    start: Callable[[], None],
    step: Callable[[], int],
    commit: Callable[[], None],
    reset: Callable[[], None],
    progress: P,
    should_stop: Callable[[], bool],
    *,
    exit_when_idle: float | None = None,
    on_progress: Callable[[P], None] | None = None,
    on_error: Callable[[FtiError, float], None] | None = None,
) -> P:
    """Start a job, then step it until ``should_stop()`` (or, with ``exit_when_idle``, until no event came for that
    many seconds), then commit and return its progress.

    ``on_progress`` is called about once a second. When the broker or a store fails, the job is reset (it drops
    what it has not committed), the error reported with the seconds it waits (``on_error``; default: a log
    warning), and after exponential backoff (up to 30 s) started again from the last checkpoint. A
    ValidationError is not retried.
    """
    started, delay = False, _FIRST_RETRY
    idle_since = shown = time.monotonic()
    while not should_stop():
        try:
            if not started:
                start()
                started, idle_since = True, time.monotonic()
            if step():
                idle_since = time.monotonic()
            elif exit_when_idle is not None and time.monotonic() - idle_since >= exit_when_idle:
                break
            delay = _FIRST_RETRY
        except FtiError as exc:
            if isinstance(exc, ValidationError):
                raise
            (on_error or _log_error)(exc, delay)
            reset()
            started = False
            _sleep(delay, should_stop)
            delay = min(delay * 2, _LAST_RETRY)
        if on_progress is not None and time.monotonic() - shown >= 1.0:
            on_progress(progress)
            shown = time.monotonic()
    if started:
        commit()
    return progress


def dead_letter_table(messages: StreamMessages, refused: Sequence[tuple[int, str]]) -> pa.Table:
    """The refused messages' fields with their ``reason`` and ``message_id``."""
    positions = pa.array([position for position, _ in refused], pa.int64())
    events = messages.events.take(positions)
    events = events.append_column("reason", pa.array([reason for _, reason in refused], pa.string()))
    return events.append_column("message_id", pa.array([messages.ids[p] for p, _ in refused], pa.string()))


def record_freshness(sample: list[float], arrived_ms: Sequence[int]) -> None:
    """Add to a freshness sample the milliseconds since about a hundred of the messages arrived."""
    if len(sample) >= _FRESHNESS_SAMPLES or not arrived_ms:
        return
    arrived = np.asarray(arrived_ms[:: max(len(arrived_ms) // 100, 1)], dtype=np.float64)
    sample.extend((time.time() * 1000 - arrived).tolist())


def _log_error(error: FtiError, delay: float) -> None:
    _log.warning("%s Retrying in %.1f s from the last checkpoint.", error, delay)


def _sleep(seconds: float, should_stop: Callable[[], bool]) -> None:
    deadline = time.monotonic() + seconds
    while not should_stop() and time.monotonic() < deadline:
        time.sleep(min(0.1, seconds))
