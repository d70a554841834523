"""Executor tasks started all at once whose results are taken in order, each as soon as it and those before it
are done: the caller writes the first parts of a commit while the later ones are still computed."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from fti.backends.ports import Executor

__all__ = ["map_in_order"]

T = TypeVar("T")
R = TypeVar("R")


def map_in_order(executor: Executor, function: Callable[[T], R], items: Sequence[T], what: str) -> Iterator[R]:
    """``function`` of every item on ``executor``, all started at once (one ``map`` of one item each, from threads
    of this process); the results yielded in item order. The first item that fails raises its error with a note
    naming it (``part 2 of 4 of <what>``); closing the iterator early leaves the tasks not yet started undone."""
    if not items:
        return
    pool = ThreadPoolExecutor(max_workers=len(items), thread_name_prefix="fti-ordered-tasks")
    running = [pool.submit(executor.map, function, [item]) for item in items]
    try:
        for index, future in enumerate(running):
            try:
                value = future.result()[0]
            except Exception as exc:
                exc.add_note(f"part {index + 1} of {len(items)} of {what}")
                raise
            yield value
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
