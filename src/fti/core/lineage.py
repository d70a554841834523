"""What a model was built from: the training data reference a run records, and the lineage read back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import pyarrow as pa

__all__ = ["FeatureGroupCommit", "HasFeatureSchema", "TrainingDataLineage", "TrainingDataRef"]


@runtime_checkable
class TrainingDataRef(Protocol):
    """Anything that names a training dataset version and the feature-group commits it read.

    A feature store's training dataset implements it; ``project.start_run(..., training_data=td)``
    records these values so every model version logged in the run can be traced back to them.
    A feature-group commit is the version number of the feature group's table after the insert.
    """

    @property
    def feature_view_name(self) -> str:
        """Name of the feature view the training dataset was read from."""

    @property
    def feature_view_version(self) -> int:
        """Version of that feature view."""

    @property
    def training_dataset_version(self) -> int:
        """Version of the training dataset within the feature view."""

    @property
    def feature_group_commits(self) -> Mapping[tuple[str, int], int]:
        """``(feature group name, feature group version) -> commit`` for every group it read."""


@runtime_checkable
class HasFeatureSchema(Protocol):
    """Training data that can tell the input columns a model trained on it expects."""

    @property
    def feature_schema(self) -> pa.Schema:
        """Feature columns (labels excluded) with their Arrow types."""


@dataclass(frozen=True, slots=True)
class FeatureGroupCommit:
    """One feature group version at the commit a training dataset read."""

    name: str
    version: int
    commit: int


@dataclass(frozen=True, slots=True)
class TrainingDataLineage:
    """A training dataset version, its feature view version and the feature-group commits it read."""

    feature_view_name: str
    feature_view_version: int
    training_dataset_version: int
    feature_group_commits: tuple[FeatureGroupCommit, ...] = ()

    @classmethod
    def from_ref(cls, ref: TrainingDataRef) -> TrainingDataLineage:
        """Copy the values of any :class:`TrainingDataRef`."""
        commits = tuple(
            FeatureGroupCommit(name=str(name), version=int(version), commit=int(commit))
            for (name, version), commit in sorted(ref.feature_group_commits.items())
        )
        return cls(
            feature_view_name=str(ref.feature_view_name),
            feature_view_version=int(ref.feature_view_version),
            training_dataset_version=int(ref.training_dataset_version),
            feature_group_commits=commits,
        )
