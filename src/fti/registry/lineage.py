"""Lineage as the registry reports it: from a model version, a run, or a training dataset."""

from __future__ import annotations

from dataclasses import dataclass

from fti.core.lineage import FeatureGroupCommit, TrainingDataLineage
from fti.core.tracking import RunInfo

__all__ = ["ModelLineage", "ModelVersionRef", "RunLineage", "TrainingDataUsage"]


@dataclass(frozen=True, slots=True)
class ModelVersionRef:
    """A model version by name and number."""

    name: str
    version: int

    def __str__(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True, slots=True)
class ModelLineage:
    """Where a model version came from: its run, training dataset, feature view and feature-group commits.

    A fine-tuned model also names its ``base_model``: the model version it was trained from (``name:3``),
    or the local folder (``folder:...``) or package (``package:...``) it was read from.
    """

    model: ModelVersionRef
    run: RunInfo | None
    training_data: TrainingDataLineage | None
    base_model: str | None = None

    @property
    def feature_view(self) -> tuple[str, int] | None:
        """``(name, version)`` of the feature view the training data was read from."""
        if self.training_data is None:
            return None
        return self.training_data.feature_view_name, self.training_data.feature_view_version

    @property
    def training_dataset_version(self) -> int | None:
        """The training dataset's version within its feature view."""
        return None if self.training_data is None else self.training_data.training_dataset_version

    @property
    def feature_group_commits(self) -> tuple[FeatureGroupCommit, ...]:
        """The feature-group commits the training data read."""
        return () if self.training_data is None else self.training_data.feature_group_commits


@dataclass(frozen=True, slots=True)
class RunLineage:
    """A run, the training data it read, its nested runs and the model versions it logged."""

    run: RunInfo
    training_data: TrainingDataLineage | None
    child_run_ids: tuple[str, ...]
    model_versions: tuple[ModelVersionRef, ...]


@dataclass(frozen=True, slots=True)
class TrainingDataUsage:
    """The runs that read a training dataset version and the model versions built from it."""

    feature_view_name: str
    feature_view_version: int
    training_dataset_version: int
    run_ids: tuple[str, ...]
    model_versions: tuple[ModelVersionRef, ...]
