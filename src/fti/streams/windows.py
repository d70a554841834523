"""Sliding-window aggregates evaluated at chosen events, vectorized with numpy: the stream engine's inner loop.

The events come sorted by key (a dense integer code) and event time (microseconds, unique per key). For each
event asked for, the window ``(t - width, t]`` of its key is located with one ``searchsorted`` and expanded
into (event, window member) pairs; every aggregate is then a ``bincount`` or ``reduceat`` over those pairs.
The work per event is the number of its key's events in its longest window, so the cost follows the data in
the windows, not the state held.

The definitions follow :func:`fti.features.aggregations.window_query` (the backfill's SQL): ``count`` counts
events (or non-null values of a column), ``sum``/``mean``/``std`` ignore nulls (``std`` is the sample standard
deviation, null under two values), ``max``/``min`` ignore nulls (a NaN is the largest double, as in DuckDB),
``last`` is the newest non-null value and ``count_distinct`` counts distinct non-null values. The property
test in ``tests/unit/streams`` holds the two to the same values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fti.features.aggregations import Aggregation

__all__ = ["Column", "WindowValues", "evaluate"]


@dataclass(frozen=True, slots=True)
class Column:
    """One value column as numpy: ``values`` (codes for text, 0/1 for booleans), ``valid`` (False: null) and,
    for text, ``ranks`` giving each code's place in the text order (for max and min)."""

    values: np.ndarray
    valid: np.ndarray
    ranks: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class WindowValues:
    """An aggregate's values at the events asked for: ``values`` (codes for text) and ``valid``."""

    values: np.ndarray
    valid: np.ndarray


@dataclass(frozen=True, slots=True)
class _Pairs:
    query: np.ndarray  # the asked event each pair belongs to (0..asked-1)
    member: np.ndarray  # the window member's position in the sorted events
    starts: np.ndarray  # where each asked event's pairs start
    asked: int


def evaluate(
    codes: np.ndarray,
    times: np.ndarray,
    columns: dict[str, Column],
    at: np.ndarray,
    aggregations: tuple[Aggregation, ...],
) -> dict[str, WindowValues]:
    """Each aggregation's value at the events ``at`` (positions into ``codes``/``times``, sorted by key and time)."""
    longest = max(item.window_us for item in aggregations)
    pairs = _pairs(codes, times, at, longest)
    inside: dict[int, np.ndarray] = {}
    out: dict[str, WindowValues] = {}
    for item in aggregations:
        if item.window_us not in inside:
            inside[item.window_us] = times[pairs.member] > times[at][pairs.query] - item.window_us
        member = inside[item.window_us]
        column = None if item.column is None else columns[item.column]
        out[item.name] = _aggregate(item, column, pairs, member)
    return out


def _pairs(codes: np.ndarray, times: np.ndarray, at: np.ndarray, width: int) -> _Pairs:
    """(asked event, member) for every member of the asked events' longest windows."""
    group = np.concatenate([[0], np.cumsum(codes[1:] != codes[:-1])]).astype(np.int64)
    # the window's first member: the key's first event at or after t - width + 1, found by searching
    # (key, time) composites; when those would not fit in 62 bits, time ranks stand in for the times
    firsts = times[at] - width + 1
    lowest = min(int(times.min()), int(firsts.min()))
    span = max(int(times.max()), int(firsts.max())) - lowest + 1
    if (int(group[-1]) + 1) * span < 2**62:
        event_times, first_times = times - lowest, firsts - lowest
    else:
        _, rank = np.unique(np.concatenate([times, firsts]), return_inverse=True)
        span = int(rank.max()) + 1
        event_times, first_times = rank[: len(times)], rank[len(times) :]
    low = np.searchsorted(group * span + event_times, group[at] * span + first_times, side="left")
    sizes = at - low + 1
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    query = np.repeat(np.arange(len(at), dtype=np.int64), sizes)
    member = np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(starts, sizes) + np.repeat(low, sizes)
    return _Pairs(query, member, starts, len(at))


def _aggregate(item: Aggregation, column: Column | None, pairs: _Pairs, inside: np.ndarray) -> WindowValues:
    asked = pairs.asked
    if column is None:
        counted = np.bincount(pairs.query, weights=inside, minlength=asked)
        return WindowValues(counted.astype(np.int64), np.ones(asked, dtype=bool))
    taken = inside & column.valid[pairs.member]
    present = np.bincount(pairs.query, weights=taken, minlength=asked).astype(np.int64)
    if item.function == "count":
        return WindowValues(present, np.ones(asked, dtype=bool))
    if item.function in ("sum", "mean", "std"):
        return _moments(item.function, column.values[pairs.member], taken, present, pairs)
    if item.function in ("max", "min"):
        return _extreme(item.function == "max", column, taken, present, pairs)
    if item.function == "last":
        newest = np.maximum.reduceat(np.where(taken, pairs.member, -1), pairs.starts)
        return WindowValues(column.values[np.maximum(newest, 0)], newest >= 0)
    return _distinct(column.values[pairs.member], taken, pairs)


def _moments(function: str, values: np.ndarray, taken: np.ndarray, present: np.ndarray, pairs: _Pairs) -> WindowValues:
    asked = pairs.asked
    numbers = np.where(taken, values.astype(np.float64), 0.0)
    total = np.bincount(pairs.query, weights=numbers, minlength=asked)
    if function == "sum":
        return WindowValues(total, present > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / present
        if function == "mean":
            return WindowValues(mean, present > 0)
        deviation = np.where(taken, numbers - mean[pairs.query], 0.0)  # two passes: no cancellation
        squares = np.bincount(pairs.query, weights=deviation * deviation, minlength=asked)
        return WindowValues(np.sqrt(squares / (present - 1)), present > 1)


def _extreme(is_max: bool, column: Column, taken: np.ndarray, present: np.ndarray, pairs: _Pairs) -> WindowValues:
    values = column.values[pairs.member]
    if column.ranks is not None:
        values = column.ranks[values]
    reduce: Any
    if values.dtype.kind == "f":
        fill = -np.inf if is_max else np.inf
        # np.maximum keeps a NaN (the largest double); np.fmin passes over it unless all are NaN
        reduce = np.maximum if is_max else np.fmin
    else:
        limits = np.iinfo(values.dtype)
        fill, reduce = (limits.min, np.maximum) if is_max else (limits.max, np.minimum)
    found = reduce.reduceat(np.where(taken, values, fill), pairs.starts)
    if values.dtype.kind == "f" and not is_max:
        numbers = np.bincount(pairs.query, weights=taken & ~np.isnan(values), minlength=pairs.asked)
        found = np.where((present > 0) & (numbers == 0), np.nan, found)  # only NaNs: the minimum is NaN
    if column.ranks is not None:
        found = np.argsort(column.ranks)[np.where(present > 0, found, 0)]
    return WindowValues(found, present > 0)


def _distinct(values: np.ndarray, taken: np.ndarray, pairs: _Pairs) -> WindowValues:
    codes = values[taken]
    if len(codes) and (codes.dtype.kind == "f" or int(codes.min()) < 0 or int(codes.max()) >= 2**31):
        _, codes = np.unique(codes, return_inverse=True)  # small codes, one per distinct value
    codes = codes.astype(np.int64)
    base = int(codes.max()) + 1 if len(codes) else 1
    ordered = np.sort(pairs.query[taken] * base + codes)
    is_first = np.ones(len(ordered), dtype=bool)
    is_first[1:] = ordered[1:] != ordered[:-1]
    counted = np.bincount(ordered[is_first] // base, minlength=pairs.asked).astype(np.int64)
    return WindowValues(counted, np.ones(pairs.asked, dtype=bool))
