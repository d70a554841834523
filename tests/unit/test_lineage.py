"""Lineage: a run records the training dataset it reads; models trace back to it and it forward to them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import fti
from fti.core.lineage import FeatureGroupCommit, TrainingDataLineage, TrainingDataRef
from fti.core.registry import ColumnSpec
from fti.errors import ValidationError
from fti.registry import ModelLineage, ModelVersionRef, RunLineage, TrainingDataUsage


@dataclass(frozen=True)
class TrainingDataset:
    """Stands in for the feature store's training dataset: any object with these attributes works."""

    feature_view_name: str = "fraud"
    feature_view_version: int = 1
    training_dataset_version: int = 2
    feature_group_commits: Mapping[tuple[str, int], int] = field(
        default_factory=lambda: {("card_activity", 1): 7, ("fraud_labels", 1): 3}
    )
    feature_schema: pa.Schema = field(
        default_factory=lambda: pa.schema([("amount_avg_1d", pa.float64()), ("tx_count_1d", pa.int64())])
    )


class Mean:
    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return frame.mean(axis=1).to_numpy()


COMMITS = (FeatureGroupCommit("card_activity", 1, 7), FeatureGroupCommit("fraud_labels", 1, 3))


def test_training_dataset_satisfies_the_protocol() -> None:
    assert isinstance(TrainingDataset(), TrainingDataRef)


def test_model_version_lineage_reaches_feature_group_commits(project: fti.Project) -> None:
    td = TrainingDataset()
    with project.start_run("fraud", training_data=td) as run:
        version = run.log_model(Mean(), "fraud-detector")
    lineage = version.lineage()
    assert isinstance(lineage, ModelLineage)
    assert lineage.model == ModelVersionRef("fraud-detector", 1)
    assert lineage.run is not None and lineage.run.id == run.id
    assert lineage.feature_view == ("fraud", 1)
    assert lineage.training_dataset_version == 2
    assert lineage.feature_group_commits == COMMITS
    assert run.training_data == TrainingDataLineage("fraud", 1, 2, COMMITS)
    assert project.lineage(version) == lineage
    assert project.lineage("fraud-detector:1") == lineage
    assert version.record.training_dataset_name == "fraud"
    assert version.record.training_dataset_version == 2


def test_signature_falls_back_to_the_training_data_schema(project: fti.Project) -> None:
    with project.start_run("fraud", training_data=TrainingDataset()) as run:
        version = run.log_model(Mean(), "mean")
    assert version.signature is not None
    assert version.signature.inputs == (ColumnSpec("amount_avg_1d", "double"), ColumnSpec("tx_count_1d", "int64"))
    with pytest.raises(ValidationError, match="expects column 'tx_count_1d'"):
        version.predict(pd.DataFrame({"amount_avg_1d": [1.0]}))


def test_lineage_from_a_run_and_from_a_training_dataset(project: fti.Project) -> None:
    td = TrainingDataset()
    with project.start_run("fraud", training_data=td) as first:
        first.log_model(Mean(), "a")
        with project.start_run("fraud") as child:
            pass
    with project.start_run("fraud", training_data=td) as second:
        second.log_model(Mean(), "b")
    with project.start_run("fraud", training_data=TrainingDataset(training_dataset_version=3)) as other:
        other.log_model(Mean(), "c")

    run_lineage = project.lineage(first)
    assert isinstance(run_lineage, RunLineage)
    assert run_lineage.child_run_ids == (child.id,)
    assert run_lineage.model_versions == (ModelVersionRef("a", 1),)
    assert run_lineage.training_data is not None and run_lineage.training_data.feature_group_commits == COMMITS
    assert project.lineage(first.id) == run_lineage

    usage = project.lineage(td)
    assert isinstance(usage, TrainingDataUsage)
    assert set(usage.run_ids) == {first.id, second.id}
    assert set(usage.model_versions) == {ModelVersionRef("a", 1), ModelVersionRef("b", 1)}
    assert project.lineage(TrainingDataLineage("fraud", 1, 3)).model_versions == (ModelVersionRef("c", 1),)


def test_runs_without_training_data_have_empty_lineage(project: fti.Project) -> None:
    with project.start_run("fraud") as run:
        version = run.log_model(Mean(), "plain")
    lineage = version.lineage()
    assert lineage.training_data is None
    assert lineage.feature_view is None
    assert lineage.feature_group_commits == ()


def test_wrong_training_data_and_lineage_targets_are_refused(project: fti.Project) -> None:
    with pytest.raises(ValidationError, match="training_data must be a training dataset"):
        project.start_run("fraud", training_data=pd.DataFrame())  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="Cannot trace the lineage of a int"):
        project.lineage(42)
