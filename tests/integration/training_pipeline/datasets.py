"""scikit-learn's shipped datasets written into feature groups, read back as training datasets."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

import fti
from fti.features.training import TrainingDataset

LOADERS: dict[str, Any] = {"breast_cancer": load_breast_cancer, "wine": load_wine, "diabetes": load_diabetes}


SITES = np.array(["north", "south", "east"])


def dataset_frames(name: str, *, category: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features and labels of ``name`` with an ``id`` key and a synthetic hourly event time.

    With ``category``, a string feature ``site`` (three values) is added.
    """
    frame: pd.DataFrame = LOADERS[name](as_frame=True).frame
    frame.columns = [re.sub(r"\W+", "_", str(column)).strip("_") for column in frame.columns]
    frame.insert(0, "id", range(len(frame)))
    if category:
        frame["site"] = SITES[np.arange(len(frame)) % 3]
    # rows shuffled before the event times are assigned, so a split by time draws from every class
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    frame.insert(1, "ts", pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(range(len(frame)), unit="h"))
    labels = frame[["id", "ts", "target"]].assign(ts=frame["ts"] + pd.Timedelta(minutes=1))
    return frame.drop(columns=["target"]), labels


def write_training_data(project: fti.Project, name: str, *, category: bool = False) -> TrainingDataset:
    """Write ``name`` into two feature groups (features, labels), join them in a view, create a training dataset."""
    features_frame, labels_frame = dataset_frames(name, category=category)
    features = project.create_feature_group(f"{name}_features", primary_key=["id"], event_time="ts")
    labels = project.create_feature_group(f"{name}_labels", primary_key=["id"], event_time="ts")
    features.insert(features_frame)
    labels.insert(labels_frame)
    view = project.create_feature_view(
        name, query=labels.select(["target"]).join(features.select_all()), labels=["target"]
    )
    return view.create_training_data(split={"train": 0.7, "validation": 0.15, "test": 0.15}, split_by="time")
