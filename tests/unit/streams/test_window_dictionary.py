"""The window state's value dictionaries: codes stay the positions of their values across many small batches,
equal floats (every NaN, 0.0 and -0.0) share a code, and compacting keeps the lookups right."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from fti.streams.window_state import _Dictionary


@pytest.mark.parametrize("kind", [pa.string(), pa.int64()], ids=["text", "int64"])
def test_codes_are_the_values_positions_over_many_small_batches(kind: pa.DataType) -> None:
    rng = np.random.default_rng(5)
    dictionary = _Dictionary(kind)
    seen: dict[object, int] = {}
    for size in rng.integers(1, 300, 400):
        drawn = rng.integers(0, 20_000, size)
        values = pa.array(drawn, mask=rng.random(size) < 0.1).cast(kind)
        codes = dictionary.encode(values)
        for value, code in zip(values.to_pylist(), codes.tolist(), strict=True):
            if value is None:
                assert code == -1
            else:
                assert dictionary.values[code].as_py() == value
                assert seen.setdefault(value, code) == code  # a value keeps its code
    assert len(dictionary.values) == len(seen)


def test_equal_floats_share_a_code() -> None:
    dictionary = _Dictionary(pa.float64())
    first = dictionary.encode(pa.array([1.5, float("nan"), 0.0, None]))
    again = dictionary.encode(pa.array([-0.0, 1.5, float("-nan"), 2.0]))
    assert first.tolist() == [0, 1, 2, -1]
    assert again.tolist() == [2, 0, 1, 3]
    assert len(dictionary.values) == 4


def test_compacting_keeps_the_used_values_and_their_lookups() -> None:
    dictionary = _Dictionary(pa.string())
    for start in range(0, 1_000, 10):
        dictionary.encode(pa.array([str(i) for i in range(start, start + 10)]))
    is_used = np.zeros(1_000, dtype=bool)
    is_used[::3] = True
    remap = dictionary.compact(is_used)
    assert dictionary.values.to_pylist() == [str(i) for i in range(0, 1_000, 3)]
    assert remap[3] == 1 and remap[4] == -1
    assert dictionary.encode(pa.array(["3", "4", "999"])).tolist() == [1, 334, 333]
