"""Stream jobs on a real Redis server: projects whose broker is that server, and events to stream."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import fti
from fti.features.aggregation_groups import compute_aggregates

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def aggregations() -> list[fti.agg.Aggregation]:
    """Eight aggregations over three windows."""
    return [
        fti.agg.count(window="1h"),
        fti.agg.sum("amount", window="1h"),
        fti.agg.mean("amount", window="1d"),
        fti.agg.max("amount", window="1h"),
        fti.agg.min("amount", window="1d"),
        fti.agg.std("amount", window="1d"),
        fti.agg.last("merchant", window="1h", value_type="string"),
        fti.agg.count_distinct("merchant", window="1d"),
    ]


def transactions(count: int, cards: int, seed: int = 7) -> pd.DataFrame:
    """Card transactions over a day, shuffled by up to a minute (the lateness allows five)."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(0, 86_400, count)) + rng.integers(-60, 60, count)
    return pd.DataFrame(
        {
            "cc_num": [f"c{n}" for n in rng.integers(0, cards, count)],
            "ts": [T0 + timedelta(seconds=int(s)) for s in seconds],
            "amount": np.round(rng.gamma(2.0, 30.0, count), 2),
            "merchant": [f"m{n}" for n in rng.integers(0, 20, count)],
        }
    )


def expected_rows(group: fti.features.AggregationGroup, events: pd.DataFrame) -> pd.DataFrame:
    """The backfill's rows over ``events``, sorted by key and event time."""
    table = compute_aggregates(group.spec, pa.Table.from_pandas(events, preserve_index=False), "backfill")
    return _sorted(table.read_all().to_pandas())


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["cc_num", "ts"]).reset_index(drop=True)


def assert_equal_to_backfill(project: fti.Project, name: str, events: pd.DataFrame) -> None:
    """The group's offline rows and online values equal the backfill over ``events``."""
    group = project.get_aggregation_group(name)
    expected = expected_rows(group, events)
    stored = _sorted(group.read())[list(expected.columns)]
    pd.testing.assert_frame_equal(stored, expected, check_dtype=False, rtol=1e-9)
    newest = expected.groupby("cc_num").tail(1).reset_index(drop=True)
    online = project.online_store.read(f"{name}_1", newest["cc_num"].tolist()).to_pandas()
    pd.testing.assert_frame_equal(online[list(newest.columns)], newest, check_dtype=False, rtol=1e-9)


@pytest.fixture
def stream_name() -> str:
    """A stream name no other test uses."""
    return f"tx_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def broker_settings(redis_url: str) -> dict[str, Any]:
    """Settings that put the project's stream broker on the test Redis server."""
    return {"stream_broker.url": redis_url}


@pytest.fixture
def streaming_project(project_dir: Path, broker_settings: dict[str, Any]) -> Iterator[fti.Project]:
    """A project on embedded stores whose stream broker is the test Redis server."""
    with fti.connect(project_dir, overrides=broker_settings) as opened:
        yield opened


def create_group(project: fti.Project, name: str, stream: str) -> fti.features.AggregationGroup:
    """The card aggregation group read from ``stream``, online, five minutes of lateness."""
    return project.create_aggregation_group(
        name, key=["cc_num"], event_time="ts", aggregations=aggregations(), lateness="5m", stream=stream, online=True
    )
