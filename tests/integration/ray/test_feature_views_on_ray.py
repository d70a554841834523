"""A project whose executor is the Ray cluster joins feature views in key-hash partitions on the cluster, and
reads the same batch data and training datasets as a project on the local executor."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fti
from fti.backends.ports import Executor
from fti.features import FeatureStore, FeatureView
from tests.integration.ray.recording import RecordingExecutor

pytestmark = pytest.mark.xdist_group("ray")

START = pd.Timestamp("2026-01-01", tz="UTC")


def _write_features(project: fti.Project) -> None:
    """Labels (the spine) and two groups keyed by card: ties with the spine's times, a ttl's edge, missing
    values, cards with no features, and a group joined on another key."""
    rng = np.random.default_rng(7)
    rows = 400
    cards = rng.integers(0, 40, rows)
    minutes = rng.integers(0, 600, rows)
    labels = pd.DataFrame({"cc_num": cards, "ts": START + pd.to_timedelta(minutes, unit="min")})
    labels = labels.drop_duplicates(["cc_num", "ts"])
    labels["merchant"] = rng.integers(0, 5, len(labels))
    labels["is_fraud"] = rng.random(len(labels)) < 0.2
    spine = project.create_feature_group("labels", primary_key=["cc_num"], event_time="ts")
    spine.insert(labels)

    activity_times = np.concatenate([minutes[:100], rng.integers(0, 600, 200)])  # 100 ties with spine rows
    activity = pd.DataFrame(
        {
            "cc_num": np.concatenate([cards[:100], rng.integers(0, 30, 200)]),
            "ts": START + pd.to_timedelta(activity_times, unit="min"),
        }
    ).drop_duplicates(["cc_num", "ts"])
    amounts = rng.gamma(2, 30, len(activity))
    activity["amount"] = np.where(rng.random(len(activity)) < 0.1, np.nan, amounts)
    recent = project.create_feature_group(
        "activity", primary_key=["cc_num"], event_time="ts", ttl=timedelta(minutes=45)
    )
    recent.insert(activity)

    profile = pd.DataFrame(
        {"cc_num": np.arange(25), "ts": START - pd.Timedelta(days=1), "limit": rng.gamma(3, 500, 25)}
    )
    project.create_feature_group("profiles", primary_key=["cc_num"], event_time="ts").insert(profile)
    stores = pd.DataFrame({"merchant": np.arange(5), "ts": START, "rating": rng.random(5)})
    project.create_feature_group("merchants", primary_key=["merchant"], event_time="ts").insert(stores)

    labels_group = project.get_feature_group("labels")
    by_card = (
        labels_group.select(["merchant", "is_fraud"])
        .join(recent.select_all())
        .join(project.get_feature_group("profiles").select_all())
    )
    project.create_feature_view("by_card", query=by_card, labels=["is_fraud"])
    by_both = by_card.join(project.get_feature_group("merchants").select_all(), on=["merchant"])
    project.create_feature_view("by_card_and_merchant", query=by_both, labels=["is_fraud"])


def _read(fv: FeatureView) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The view's batch data up to 8 h in, and a new training dataset's rows with their splits."""
    dataset = fv.create_training_data(split={"train": 0.7, "test": 0.3}, split_by="time")
    return fv.get_batch_data(end=START + pd.Timedelta(hours=8)), dataset.read()


@pytest.fixture(scope="module")
def local_reads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    with fti.connect(tmp_path_factory.mktemp("local_views")) as project:
        _write_features(project)
        return {view: _read(project.get_feature_view(view)) for view in ("by_card", "by_card_and_merchant")}


def test_feature_views_read_on_ray_equal_the_local_reads(
    tmp_path: Path, ray_cluster_address: str, local_reads: dict[str, tuple[pd.DataFrame, pd.DataFrame]]
) -> None:
    overrides = {"executor.type": "ray", "executor.address": ray_cluster_address}
    with fti.connect(tmp_path, overrides=overrides) as project:
        _write_features(project)
        for view in ("by_card", "by_card_and_merchant"):
            batch, dataset = _read(project.get_feature_view(view))
            pd.testing.assert_frame_equal(batch, local_reads[view][0])
            pd.testing.assert_frame_equal(dataset, local_reads[view][1])
    assert local_reads["by_card"][0]["amount"].isna().any()  # missing features, by ttl or by value


def test_a_cluster_executor_joins_in_partitions_and_the_single_node_join_takes_what_it_cannot(
    tmp_path: Path, ray_executor: Executor, local_reads: dict[str, tuple[pd.DataFrame, pd.DataFrame]]
) -> None:
    recording = RecordingExecutor(ray_executor)
    with fti.connect(tmp_path) as project:
        _write_features(project)
        features = FeatureStore(project.catalog, project.offline_store, executor=lambda: recording)

        batch, dataset = _read(features.get_feature_view("by_card"))
        assert recording.mapped == [("join_partition", 4), ("join_partition", 4)]  # 2 workers x 2 partitions
        pd.testing.assert_frame_equal(batch, local_reads["by_card"][0])
        pd.testing.assert_frame_equal(dataset, local_reads["by_card"][1])

        recording.mapped.clear()  # joined on two keys: one hash cannot partition it
        batch, _ = _read(features.get_feature_view("by_card_and_merchant"))
        assert recording.mapped == []
        pd.testing.assert_frame_equal(batch, local_reads["by_card_and_merchant"][0])
