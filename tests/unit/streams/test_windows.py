"""Window bounds are found the same way when the (key, time) composites would not fit in 62 bits."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

import fti
from fti.streams.windows import evaluate


def test_windows_far_apart_in_time_are_bounded_like_near_ones() -> None:
    count = fti.agg.count(window=timedelta(microseconds=20), name="n")
    far = 2**61
    for start in (0, far):
        codes = np.array([0, 0, 0, 1, 1, 2], dtype=np.int64)
        times = np.array([0, 10, 25, start, start + 19, start + 40], dtype=np.int64)
        found = evaluate(codes, times, {}, np.arange(6, dtype=np.int64), (count,))
        assert found[count.name].values.tolist() == [1, 2, 2, 1, 2, 1]
