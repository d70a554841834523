"""Items taken ahead by a thread of their own: order, errors and an early stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from fti.core.read_ahead import read_ahead


def test_items_arrive_in_order_then_the_error() -> None:
    def numbers() -> Iterator[int]:
        yield from range(100)
        raise ValueError("broken page")

    seen: list[int] = []
    with pytest.raises(ValueError, match="broken page"):
        for item in read_ahead(numbers(), 2):
            seen.append(item)
    assert seen == list(range(100))


def test_an_early_stop_closes_the_items_in_their_thread_and_waits_for_it() -> None:
    closed = threading.Event()
    taken: list[int] = []

    def numbers() -> Iterator[int]:
        try:
            for item in range(1_000_000):
                taken.append(item)
                yield item
        finally:
            closed.set()

    items = read_ahead(numbers(), 2)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    assert closed.is_set(), "the source is closed before close() returns"
    assert len(taken) <= 3 + 2 + 1, "at most depth items (and the one being offered) are taken ahead"
    assert not any(thread.name == "fti-read-ahead" for thread in threading.enumerate())
