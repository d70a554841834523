"""One project per module with scikit-learn's datasets written into feature groups (they take a while)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

import fti
from fti.features.training import TrainingDataset
from tests.integration.training_pipeline.datasets import write_training_data


@pytest.fixture(scope="module")
def shared_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[fti.Project]:
    """A project of its own for the module's tests."""
    with threadpool_limits(limits=1), fti.connect(tmp_path_factory.mktemp("training")) as project:
        yield project


@pytest.fixture(scope="module")
def breast_cancer(shared_project: fti.Project) -> TrainingDataset:
    """Breast cancer (binary) with a ``site`` category column, as a training dataset with three splits."""
    return write_training_data(shared_project, "breast_cancer", category=True)


@pytest.fixture(scope="module")
def wine(shared_project: fti.Project) -> TrainingDataset:
    """Wine (three classes) as a training dataset."""
    return write_training_data(shared_project, "wine")


@pytest.fixture(scope="module")
def diabetes(shared_project: fti.Project) -> TrainingDataset:
    """Diabetes (regression) as a training dataset."""
    return write_training_data(shared_project, "diabetes")


@pytest.fixture
def project_path(shared_project: fti.Project) -> Path:
    """The shared project's folder."""
    return shared_project.root
