"""Which row of each key an online write keeps (``latest_per_key``), with and without its sorted shortcut."""

from __future__ import annotations

import pyarrow as pa
import pytest

from fti.backends.online.tables import define_table, latest_per_key

TIME = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema([("k", pa.int64()), ("ts", TIME), ("v", pa.string())])


def _rows(keys: list[int], times: list[int]) -> pa.Table:
    return pa.table(
        {
            "k": keys,
            "ts": pa.array(times, pa.int64()).cast(TIME),
            "v": [f"{k}@{t}#{i}" for i, (k, t) in enumerate(zip(keys, times, strict=True))],
        }
    )


def test_rows_already_one_per_key_in_key_order_are_kept_as_they_are() -> None:
    table = define_table("t", ["k"], "ts", SCHEMA)
    rows = _rows([1, 2, 5, 9], [4, 3, 2, 1])
    assert latest_per_key(table, rows).equals(rows)


@pytest.mark.parametrize(
    ("keys", "times", "expected"),
    [
        ([1, 1, 2], [5, 3, 1], ["1@5#0", "2@1#2"]),  # sorted with a repeat: the newest row of key 1
        ([2, 1, 1], [1, 3, 3], ["1@3#2", "2@1#0"]),  # unsorted, equal times: the last of them wins
        ([3, 2, 1], [1, 1, 1], ["1@1#2", "2@1#1", "3@1#0"]),  # descending: sorted by key
    ],
)
def test_repeated_or_unsorted_keys_keep_each_keys_latest_row(
    keys: list[int], times: list[int], expected: list[str]
) -> None:
    table = define_table("t", ["k"], "ts", SCHEMA)
    assert latest_per_key(table, _rows(keys, times)).column("v").to_pylist() == expected


def test_composite_keys_are_always_resolved() -> None:
    schema = pa.schema([("a", pa.int64()), ("b", pa.string()), ("ts", TIME)])
    table = define_table("t", ["a", "b"], "ts", schema)
    rows = pa.table({"a": [1, 1, 1], "b": ["x", "y", "x"], "ts": pa.array([1, 1, 2], pa.int64()).cast(TIME)})
    kept = latest_per_key(table, rows)
    assert kept.select(["a", "b"]).to_pylist() == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}]
    assert kept.column("ts").cast(pa.int64()).to_pylist() == [2, 1]
