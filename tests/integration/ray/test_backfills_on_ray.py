"""An aggregation group's backfill on a cluster executor computes its windows in key-hash partitions on the
cluster, and commits the same rows as the backfill on the local executor."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fti
from fti.backends.ports import Executor
from fti.features import AggregationGroup, FeatureStore
from tests.integration.ray.recording import RecordingExecutor

pytestmark = pytest.mark.xdist_group("ray")

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _events() -> pd.DataFrame:
    """Events of 30 cards over two days: repeated (card, time) deliveries, events exactly a window apart."""
    rng = np.random.default_rng(11)
    rows = 1_500
    minutes = rng.integers(0, 48 * 60, rows) // 15 * 15  # quarter hours: many events a whole window apart
    events = pd.DataFrame(
        {
            "cc": [f"card-{value}" for value in rng.integers(0, 30, rows)],
            "ts": pd.Timestamp(T0) + pd.to_timedelta(minutes, unit="min"),
            "amount": rng.gamma(2, 20, rows).round(2),
            "merchant": [f"m{value}" for value in rng.integers(0, 8, rows)],
        }
    )
    return events


def _backfill(project: fti.Project, features: FeatureStore | None = None) -> pd.DataFrame:
    group = project.create_aggregation_group(
        "card_windows",
        key=["cc"],
        event_time="ts",
        aggregations=[
            fti.agg.count(window="1h"),
            fti.agg.sum("amount", window="1h"),
            fti.agg.mean("amount", window="1d"),
            fti.agg.std("amount", window="1d"),
            fti.agg.last("merchant", window="1d", value_type="string"),
            fti.agg.count_distinct("merchant", window="1d"),
        ],
    )
    if features is not None:
        group = features.get_aggregation_group("card_windows")
    assert isinstance(group, AggregationGroup)
    result = group.backfill(_events())
    assert result.commit == 0
    return group.read()


def test_an_aggregation_backfill_on_ray_commits_what_the_local_backfill_commits(
    tmp_path: Path, ray_executor: Executor
) -> None:
    with fti.connect(tmp_path / "local") as project:
        local = _backfill(project)
    recording = RecordingExecutor(ray_executor)
    with fti.connect(tmp_path / "ray") as project:
        features = FeatureStore(project.catalog, project.offline_store, executor=lambda: recording)
        on_ray = _backfill(project, features)

    assert recording.mapped == [("_window_part", 4)]  # 2 workers x 2 key-hash partitions
    assert len(local) < len(_events())  # repeated deliveries counted once
    pd.testing.assert_frame_equal(on_ray, local)


def test_a_project_on_ray_backfills_as_a_local_project_does(tmp_path: Path, ray_cluster_address: str) -> None:
    with fti.connect(tmp_path / "local") as project:
        local = _backfill(project)
    overrides = {"executor.type": "ray", "executor.address": ray_cluster_address}
    with fti.connect(tmp_path / "ray", overrides=overrides) as project:
        pd.testing.assert_frame_equal(_backfill(project), local)
