"""The demo's retraining splits time-ordered fraud data by time, as its training pipeline does."""

from __future__ import annotations

from pathlib import Path

import pytest

import fti
from fti.demo.training_pipeline import retrain_boosted
from tests.integration.serving_project.conftest import build_project

pytest.importorskip("xgboost")


def test_retraining_uses_the_training_pipeline_s_time_split(tmp_path: Path) -> None:
    build_project(tmp_path)
    with fti.connect(tmp_path) as project:
        version = retrain_boosted(project, params={"n_estimators": 10, "max_depth": 2})
        lineage = version.lineage().training_data
        assert lineage is not None
        dataset = project.get_feature_view("fraud").get_training_dataset(lineage.training_dataset_version)
        assert dataset.record.split_by == "time"
        assert set(dataset.record.split or {}) == {"train", "validation", "test"}
        # the test split is the newest labelled rows: what a retrained model is retrained for
        train, test = dataset.read("train"), dataset.read("test")
        assert train["ts"].max() <= test["ts"].min()
