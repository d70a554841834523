"""Taking an iterator's items in a thread of their own, a few ahead of the consumer.

Reading a source (parsing a file, decoding a database's rows), checking the rows and writing them each
keep a core busy; run one after another on the consumer's thread they add up, run a few items apart
they overlap.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from queue import Empty, Full, Queue
from typing import Any, TypeVar

__all__ = ["read_ahead"]

_T = TypeVar("_T")


def read_ahead(items: Iterator[_T], depth: int) -> Generator[_T, None, None]:
    """The items of ``items``, taken by a thread of their own up to ``depth`` ahead of the consumer.

    The producer's errors are raised to the consumer in order. When the consumer stops early, the producer
    stops after the item it is taking and closes ``items``; this returns once it has.
    """
    queue: Queue[tuple[bool, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def offer(entry: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                queue.put(entry, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((True, item)):
                    return
            offer((False, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            offer((False, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="fti-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            is_item, value = queue.get()
            if not is_item:
                if value is not None:
                    raise value
                return
            yield value
    finally:
        stop.set()
        while thread.is_alive():
            try:
                queue.get(timeout=0.1)
            except Empty:
                continue
        thread.join()
