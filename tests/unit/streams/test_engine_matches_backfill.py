"""The stream engine's online values and offline rows equal the backfill's, for any event sequence (hypothesis).

Events come out of order, repeated (a duplicate delivery), late within the lateness and later than it, split
into micro-batches anywhere, restarted from a checkpoint between them. What the engine emits is applied the way
the stores apply it: offline, the last row written per (key, event time) wins (a feature group's insert
replaces); online, the row with the newest event time per key wins, of equal ones the last written. The
backfill runs over the events the stream accepted.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fti
from fti.features.aggregation_groups import compute_aggregates
from fti.features.aggregations import AggregationSpec
from fti.streams import WindowEngine

T0 = datetime(2024, 1, 1, tzinfo=UTC)

SPEC = AggregationSpec.of(
    "cards",
    key=["cc"],
    event_time="ts",
    aggregations=[
        fti.agg.count(window="60s"),
        fti.agg.sum("amount", window="60s"),
        fti.agg.mean("amount", window="5m"),
        fti.agg.max("amount", window="60s"),
        fti.agg.min("amount", window="5m"),
        fti.agg.std("amount", window="5m"),
        fti.agg.last("merchant", window="90s", value_type="string"),
        fti.agg.count_distinct("merchant", window="5m"),
    ],
    lateness="30s",
)

event = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.integers(min_value=0, max_value=600),
    st.one_of(st.none(), st.integers(min_value=-50, max_value=50).map(float)),
    st.sampled_from(["m1", "m2", "m3", None]),
)


def _with_repeats(events: list[tuple[Any, ...]], repeats: list[int]) -> list[tuple[Any, ...]]:
    out = list(events)
    for position in repeats:
        if out:
            out.append(out[position % len(out)])  # a duplicate delivery, later in the stream
    return out


def _table(events: list[tuple[Any, ...]]) -> pa.Table:
    return pa.table(
        {
            "cc": [e[0] for e in events],
            "ts": pa.array([T0 + timedelta(seconds=e[1]) for e in events], pa.timestamp("us", tz="UTC")),
            "amount": pa.array([e[2] for e in events], pa.float64()),
            "merchant": pa.array([e[3] for e in events], pa.string()),
        }
    )


def _same(left: dict[str, Any], right: dict[str, Any]) -> bool:
    for name, value in left.items():
        other = right[name]
        if isinstance(value, float) and isinstance(other, float):
            if not math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-9):
                return False
        elif value != other:
            return False
    return True


SPEC_EMIT = AggregationSpec.of(
    "cards_each_2m",
    key=list(SPEC.key),
    event_time=SPEC.event_time,
    aggregations=SPEC.aggregations,
    lateness=SPEC.lateness,
    emit="2m",
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(event, min_size=1, max_size=40),
    repeats=st.lists(st.integers(min_value=0, max_value=100), max_size=8),
    cuts=st.lists(st.integers(min_value=1, max_value=48), max_size=6),
)
def test_stream_values_equal_the_backfill(events: list[tuple[Any, ...]], repeats: list[int], cuts: list[int]) -> None:
    _check_stream_equals_backfill(SPEC, events, repeats, cuts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(event, min_size=1, max_size=40),
    repeats=st.lists(st.integers(min_value=0, max_value=100), max_size=8),
    cuts=st.lists(st.integers(min_value=1, max_value=48), max_size=6),
)
def test_with_an_emit_step_the_stream_writes_the_backfills_rows_of_each_closed_step(
    events: list[tuple[Any, ...]], repeats: list[int], cuts: list[int]
) -> None:
    _check_stream_equals_backfill(SPEC_EMIT, events, repeats, cuts)


def _check_stream_equals_backfill(
    spec: AggregationSpec, events: list[tuple[Any, ...]], repeats: list[int], cuts: list[int]
) -> None:
    """Offline (the rows emitted), the stream's rows equal the backfill's, with an emit step those of the steps
    that ended at or before the final watermark; online, the newest per key equals the backfill's."""
    stream = _with_repeats(events, repeats)
    bounds = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})
    engine = WindowEngine(spec)
    offline: dict[tuple[str, datetime], dict[str, Any]] = {}
    online: dict[str, dict[str, Any]] = {}
    refused: set[int] = set()
    for number, (start, end) in enumerate(itertools.pairwise(bounds)):
        if number % 2:  # a restart from the checkpoint between micro-batches changes nothing
            restored = WindowEngine(spec)
            restored.restore(engine.checkpoint())
            engine.close()
            engine = restored
        result = engine.process(_table(stream[start:end]))
        refused.update(start + position for position, _ in result.dead_letters)
        for row in result.emitted.to_pylist():
            offline[(row["cc"], row["ts"])] = row
        for row in result.rows.to_pylist():
            if row["cc"] not in online or row["ts"] >= online[row["cc"]]["ts"]:
                online[row["cc"]] = row
    watermark = engine.watermark
    engine.close()
    accepted = [e for position, e in enumerate(stream) if position not in refused]
    expected = compute_aggregates(spec, _table(accepted), "backfill").read_all().to_pylist()
    newest = {row["cc"]: row for row in expected}  # the backfill's rows are in key and event-time order
    if spec.emit is not None:
        assert watermark is not None
        step = spec.emit
        expected = [row for row in expected if T0 + ((row["ts"] - T0) // step + 1) * step <= watermark]
    assert sorted(offline) == sorted((row["cc"], row["ts"]) for row in expected)
    for row in expected:
        assert _same(row, offline[(row["cc"], row["ts"])]), (row, offline[(row["cc"], row["ts"])])
    assert sorted(online) == sorted(newest)
    for key, row in newest.items():
        assert _same(row, online[key])


def test_an_emit_step_keeps_each_keys_last_event_of_each_step_in_the_backfill_and_the_stream() -> None:
    events = [("a", 10, 1.0, "m1"), ("a", 100, 2.0, "m2"), ("b", 110, 5.0, "m1"), ("a", 130, 4.0, "m1")]
    rows = compute_aggregates(SPEC_EMIT, _table(events), "backfill").read_all().to_pylist()
    assert [(row["cc"], row["ts"].second + 60 * row["ts"].minute, row["count_1m"]) for row in rows] == [
        ("a", 100, 1),  # the last of [0 s, 120 s): the event at 10 s has left its 60 s window
        ("a", 130, 2),
        ("b", 110, 1),
    ]
    engine = WindowEngine(SPEC_EMIT)
    first = engine.process(_table(events))  # watermark 100 s: no step closed yet, every event online
    assert (first.emitted.num_rows, first.rows.num_rows) == (0, 4)
    closing = engine.process(_table([("c", 270, 1.0, "m1")]))  # watermark 240 s closes [0 s, 120 s) and [120 s, 240 s)
    assert [(row["cc"], row["ts"].second + 60 * row["ts"].minute) for row in closing.emitted.to_pylist()] == [
        ("a", 100),
        ("a", 130),
        ("b", 110),
    ]
    engine.close()


def test_an_emit_step_that_is_not_a_duration_is_refused() -> None:
    with pytest.raises(fti.errors.ValidationError, match="The emit step of aggregation group 'x' 'often' is not a"):
        AggregationSpec.of("x", key=["cc"], event_time="ts", aggregations=[fti.agg.count(window="1h")], emit="often")


def test_only_events_later_than_the_lateness_are_refused() -> None:
    engine = WindowEngine(SPEC)
    engine.process(_table([("a", 100, 1.0, "m1")]))
    result = engine.process(_table([("a", 70, 2.0, "m1"), ("a", 69, 3.0, "m1"), ("a", 100, 9.0, "m1")]))
    assert [position for position, _ in result.dead_letters] == [1]
    assert result.dead_letters[0][1] == (
        "too late: event time 2024-01-01T00:01:09+00:00 is older than the watermark 2024-01-01T00:01:10+00:00"
    )
    assert (result.accepted, result.duplicates) == (1, 1)
    # the late event within the lateness corrects the row after it, which is emitted again
    assert [(row["ts"].second, row["count_1m"]) for row in result.rows.to_pylist()] == [(10, 1), (40, 2)]


def test_malformed_events_are_refused_with_the_reason_and_the_rest_counts() -> None:
    engine = WindowEngine(SPEC)
    batch = pa.table(
        {
            "cc": ["a", None, "a", "a"],
            "ts": ["2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z", "yesterday", "2024-01-01T00:00:02Z"],
            "amount": ["1.5", "2", "3", "lots"],
        }
    )
    result = engine.process(batch)
    assert result.dead_letters == [
        (1, "missing key 'cc'"),
        (2, "event time 'ts' is not a timestamp: yesterday"),
        (3, "'amount' is not float64: lots"),
    ]
    assert result.rows.column("amount_sum_1m").to_pylist() == [1.5]


def test_a_checkpoint_restores_the_state_and_the_watermark() -> None:
    engine = WindowEngine(SPEC)
    engine.process(_table([("a", 100, 1.0, "m1"), ("b", 200, 2.0, "m2")]))
    restored = WindowEngine(SPEC)
    restored.restore(engine.checkpoint())
    assert (restored.state_rows, restored.watermark) == (2, engine.watermark)
    again = restored.process(_table([("b", 200, 5.0, "m1"), ("a", 190, 1.0, "m1")]))
    assert (again.accepted, again.duplicates) == (1, 1)
    other_spec = AggregationSpec.of("x", key=["cc"], event_time="ts", aggregations=[fti.agg.count(window="1h")])
    other = WindowEngine(other_spec)
    with pytest.raises(fti.errors.ValidationError, match="checkpoint was taken for another definition"):
        other.restore(engine.checkpoint())


def test_composite_keys_and_every_value_type_match_the_backfill() -> None:
    spec = AggregationSpec.of(
        "mixed",
        key=["shop", "till"],
        event_time="ts",
        aggregations=[
            fti.agg.max("items", window="90s", value_type="int64"),
            fti.agg.min("items", window="45s", value_type="int64"),
            fti.agg.max("clerk", window="90s", value_type="string"),
            fti.agg.min("clerk", window="90s", value_type="string"),
            fti.agg.last("is_card", window="60s", value_type="bool"),
            fti.agg.count_distinct("items", window="90s", value_type="int64"),
            fti.agg.count(window="30s"),
        ],
        key_types={"till": "int64"},
    )
    rng = np.random.default_rng(7)
    size = 400
    events = pa.table(
        {
            "shop": pa.array(rng.choice(["a", "b", "a:1"], size)),
            "till": pa.array(rng.integers(0, 3, size)),
            "ts": pa.array(
                [T0 + timedelta(seconds=int(s)) for s in np.sort(rng.integers(0, 900, size))],
                pa.timestamp("us", tz="UTC"),
            ),
            "items": pa.array(rng.integers(-5, 5, size), mask=rng.random(size) < 0.2),
            "clerk": pa.array(rng.choice(["zoe", "al", "Bo", "émile"], size), mask=rng.random(size) < 0.2),
            "is_card": pa.array(rng.random(size) < 0.5, mask=rng.random(size) < 0.3),
        }
    )
    engine = WindowEngine(spec)
    offline: dict[tuple[Any, ...], dict[str, Any]] = {}
    for start in range(0, size, 70):
        for row in engine.process(events.slice(start, 70)).rows.to_pylist():
            offline[(row["shop"], row["till"], row["ts"])] = row
    engine.close()
    expected = compute_aggregates(spec, events, "backfill").read_all().to_pylist()
    assert len(expected) == len(offline)
    for row in expected:
        assert offline[(row["shop"], row["till"], row["ts"])] == row


def test_a_snapshot_serializes_the_state_as_it_was_when_taken() -> None:
    engine = WindowEngine(SPEC)
    engine.process(_table([("a", 100, 1.0, "m1"), ("b", 101, 2.0, "m2")]))
    taken = engine.snapshot()
    engine.process(_table([("a", 500, 3.0, "m3"), ("c", 501, 4.0, "m4")]))  # evicts a and b, adds a new key
    restored = WindowEngine(SPEC)
    restored.restore(taken())
    assert restored.state_rows == 2
    again = restored.process(_table([("b", 110, 1.0, "m2")]))
    assert again.rows.to_pylist()[0]["count_1m"] == 2
    assert again.rows.to_pylist()[0]["merchant_count_distinct_5m"] == 1
