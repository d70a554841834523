"""The engine's fast read step (Arrow casts) gives exactly what its DuckDB read step gives, and leaves every
batch it cannot read exactly (malformed events, text not in Arrow's own form) to DuckDB."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import fti
from fti.features.aggregations import AggregationSpec
from fti.streams import WindowEngine
from fti.streams.canonical_read import read_canonical

T0 = datetime(2024, 1, 1, tzinfo=UTC)

SPEC = AggregationSpec.of(
    "mixed",
    key=["shop", "till"],
    event_time="ts",
    aggregations=[
        fti.agg.sum("amount", window="60s"),
        fti.agg.max("items", window="60s", value_type="int64"),
        fti.agg.last("is_card", window="60s", value_type="bool"),
        fti.agg.last("clerk", window="60s", value_type="string"),
    ],
    key_types={"till": "int64"},
)


def _typed(size: int, seed: int = 3) -> pa.Table:
    rng = np.random.default_rng(seed)
    amounts = rng.normal(0, 1e3, size)
    amounts[:4] = [np.nan, np.inf, -np.inf, 1e300]
    return pa.table(
        {
            "shop": pa.array(rng.choice(["a", "b", "", "é:1"], size)),
            "till": pa.array(rng.integers(-3, 3, size)),
            "ts": pa.array(
                [T0 + timedelta(microseconds=int(s)) for s in np.sort(rng.integers(0, 90_000_000, size))],
                pa.timestamp("us", tz="UTC"),
            ),
            "amount": pa.array(amounts, mask=rng.random(size) < 0.2),
            "items": pa.array(rng.integers(-5, 5, size), mask=rng.random(size) < 0.2),
            "is_card": pa.array(rng.random(size) < 0.5, mask=rng.random(size) < 0.3),
            "clerk": pa.array(rng.choice(["zoe", "al", "Bo"], size), mask=rng.random(size) < 0.2),
        }
    )


def _as_text(table: pa.Table) -> pa.Table:
    """The events as a broker delivers what fti.streams.publish wrote: every value as Arrow's text for it."""
    return pa.table({name: pc.cast(table.column(name), pa.string()) for name in table.column_names})


def _comparable(column: pa.Array | pa.ChunkedArray) -> list[object]:
    return ["nan" if isinstance(value, float) and math.isnan(value) else value for value in column.to_pylist()]


def _duckdb_read(events: pa.Table) -> tuple[pa.Table, list[tuple[int, str]]]:
    engine = WindowEngine(SPEC)
    try:
        return engine._read(events)
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("as_text", "is_naive"),
    [(False, False), (True, False), (False, True), (True, True)],
    ids=["typed", "published text", "typed, naive times", "published text, naive times"],
)
def test_the_fast_read_equals_the_duckdb_read(as_text: bool, is_naive: bool) -> None:
    events = _typed(500)
    if is_naive:  # times without a zone: read as UTC
        events = events.set_column(2, "ts", events.column("ts").cast(pa.timestamp("us")))
    if as_text:
        events = _as_text(events)
    fast = read_canonical(SPEC, events)
    assert fast is not None
    slow, refused = _duckdb_read(events)
    assert refused == []
    assert fast.column_names == slow.column_names
    for name in fast.column_names:
        expected = slow.column(name).cast(fast.column(name).type)
        assert _comparable(fast.column(name)) == _comparable(expected), name


def test_text_in_another_form_than_arrows_is_read_by_duckdb_to_the_same_values() -> None:
    events = pa.table(
        {
            "shop": ["a", "a", "a"],
            "till": ["1", "1", "01"],
            "ts": ["2024-01-01 00:00:01.000000Z", "2024-01-01T00:00:02Z", "2024-01-01 00:00:03"],
            "amount": ["1.5", "1.50", "2"],
            "items": ["1", "2", "3"],
            "is_card": ["true", "false", "t"],
            "clerk": ["zoe", None, "al"],
        }
    )
    assert read_canonical(SPEC, events) is None
    result = WindowEngine(SPEC).process(events)
    assert result.dead_letters == []
    rows = result.rows.to_pylist()
    assert [row["ts"].second for row in rows] == [1, 2, 3]
    assert [row["amount_sum_1m"] for row in rows] == [1.5, 3.0, 5.0]
    assert [row["is_card_last_1m"] for row in rows] == [True, False, True]


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("shop", None, "missing key 'shop'"),
        ("till", "two", "key 'till' is not int64: two"),
        ("ts", None, "missing event time 'ts'"),
        ("ts", "soon", "event time 'ts' is not a timestamp: soon"),
        ("amount", "lots", "'amount' is not float64: lots"),
        ("items", "1.5x", "'items' is not int64: 1.5x"),
    ],
)
def test_a_malformed_event_in_published_text_is_still_refused_with_its_reason(
    column: str, value: str | None, reason: str
) -> None:
    events = _as_text(_typed(20))
    values = events.column(column).to_pylist()
    values[7] = value
    events = events.set_column(events.schema.get_field_index(column), column, pa.array(values, pa.string()))
    assert read_canonical(SPEC, events) is None
    result = WindowEngine(SPEC).process(events)
    assert result.dead_letters == [(7, reason)]
    assert result.accepted == 19


def test_a_batch_lacking_a_column_is_left_to_duckdb() -> None:
    events = _as_text(_typed(5)).drop_columns(["clerk"])
    assert read_canonical(SPEC, events) is None
    result = WindowEngine(SPEC).process(events)
    assert (result.accepted, result.dead_letters) == (5, [])
    assert result.rows.column("clerk_last_1m").null_count == result.rows.num_rows
