"""The point-in-time join compared with a plain reference implementation on random data (hypothesis)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fti

BASE = datetime(2024, 1, 1, tzinfo=UTC)
Row = tuple[int, int, int]  # key, hour, value

rows = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 6), st.integers(0, 10_000)), min_size=1, max_size=8)
commits = st.lists(rows, min_size=1, max_size=3)
ttls = st.none() | st.integers(1, 3)


def _frame(batch: list[Row], feature: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "k": pd.array([key for key, _, _ in batch], dtype="int64"),
            "ts": [BASE + timedelta(hours=hour) for _, hour, _ in batch],
            feature: pd.array([value for _, _, value in batch], dtype="int64"),
        }
    )


def _visible(history: list[list[Row]]) -> dict[tuple[int, int], int]:
    """(key, hour) -> value, the latest commit and the latest row within it winning."""
    latest: dict[tuple[int, int], int] = {}
    for batch in history:
        for key, hour, value in batch:
            latest[(key, hour)] = value
    return latest


def _latest_before(table: dict[tuple[int, int], int], key: int, hour: int, ttl: int | None) -> int | None:
    candidates = [
        (row_hour, value) for (row_key, row_hour), value in table.items() if row_key == key and row_hour <= hour
    ]
    if not candidates:
        return None
    row_hour, value = max(candidates)
    if ttl is not None and row_hour < hour - ttl:
        return None
    return value


def _project_with(
    folder: str, spine: list[list[Row]], first: list[list[Row]], second: list[list[Row]], ttl_a: Any, ttl_b: Any
) -> tuple[fti.Project, fti.features.FeatureView]:
    project = fti.connect(folder)
    labels = project.create_feature_group("labels", primary_key=["k"], event_time="ts")
    a = project.create_feature_group(
        "a", primary_key=["k"], event_time="ts", ttl=None if ttl_a is None else timedelta(hours=ttl_a)
    )
    b = project.create_feature_group(
        "b", primary_key=["k"], event_time="ts", ttl=None if ttl_b is None else timedelta(hours=ttl_b)
    )
    for group, history, feature in ((labels, spine, "y"), (a, first, "fa"), (b, second, "fb")):
        for batch in history:
            group.insert(_frame(batch, feature))
    query = labels.select(["y"]).join(a.select(["fa"])).join(b.select(["fb"]), on=["k"], prefix="b_")
    view = project.create_feature_view("pit", query=query, labels=["y"])
    return project, view


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spine=commits, first=commits, second=commits, ttl_a=ttls, ttl_b=ttls)
def test_batch_data_matches_reference(
    spine: list[list[Row]], first: list[list[Row]], second: list[list[Row]], ttl_a: int | None, ttl_b: int | None
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        project, view = _project_with(folder, spine, first, second, ttl_a, ttl_b)
        try:
            result = view.get_batch_data()
        finally:
            project.close()
    labels, a, b = _visible(spine), _visible(first), _visible(second)
    expected = [
        (key, hour, value, _latest_before(a, key, hour, ttl_a), _latest_before(b, key, hour, ttl_b))
        for (key, hour), value in sorted(labels.items(), key=lambda item: (item[0][1], item[0][0]))
    ]
    got = [
        (
            int(row.k),
            int((row.ts - pd.Timestamp(BASE)) / pd.Timedelta(hours=1)),
            int(row.y),
            None if pd.isna(row.fa) else int(row.fa),
            None if pd.isna(row.b_fb) else int(row.b_fb),
        )
        for row in result.itertuples()
    ]
    assert list(result.columns) == ["k", "ts", "y", "fa", "b_fb"]
    assert got == expected


spine_rows = st.lists(st.tuples(st.integers(0, 4), st.integers(-1, 8)), min_size=1, max_size=10)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spine=commits, first=commits, second=commits, ttl_a=ttls, entity=spine_rows)
def test_training_data_on_an_entity_frame_matches_reference(
    spine: list[list[Row]],
    first: list[list[Row]],
    second: list[list[Row]],
    ttl_a: int | None,
    entity: list[tuple[int, int]],
) -> None:
    frame = pd.DataFrame(
        {
            "k": pd.array([key for key, _ in entity], dtype="int64"),
            "ts": [BASE + timedelta(hours=hour) for _, hour in entity],
        }
    )
    with tempfile.TemporaryDirectory() as folder:
        project, view = _project_with(folder, spine, first, second, ttl_a, None)
        try:
            result = view.get_training_data(spine=frame)
        finally:
            project.close()
    labels, a, b = _visible(spine), _visible(first), _visible(second)
    expected = [
        (
            key,
            _latest_before(labels, key, hour, None),
            _latest_before(a, key, hour, ttl_a),
            _latest_before(b, key, hour, None),
        )
        for key, hour in entity
    ]
    got = [
        (
            int(row.k),
            None if pd.isna(row.y) else int(row.y),
            None if pd.isna(row.fa) else int(row.fa),
            None if pd.isna(row.b_fb) else int(row.b_fb),
        )
        for row in result.itertuples()
    ]
    assert list(result.columns) == ["k", "ts", "y", "fa", "b_fb"]
    assert got == expected
