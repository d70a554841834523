"""The PyTorch MLP trains data-parallel (DistributedDataParallel, gloo) on Ray workers, and registers a model of
the same form as one trained locally."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fti
from fti.backends.ports import Executor
from fti.errors import ValidationError
from fti.training import train
from fti.training.torch_trainer import TorchMLPClassifier
from fti.training.tracked import in_memory
from tests.integration.ray.recording import RecordingExecutor
from tests.integration.training_pipeline.datasets import write_training_data

pytestmark = pytest.mark.xdist_group("ray")

PARAMS = {"hidden_layers": (16,), "epochs": 30, "lr": 0.01, "batch_size": 32, "patience": None, "progress": False}


def test_the_mlp_trains_on_two_ray_workers_and_predicts_like_a_local_one(
    tmp_path: Path, ray_executor: Executor
) -> None:
    recording = RecordingExecutor(ray_executor)
    with fti.connect(tmp_path / "local") as project:
        splits = in_memory(write_training_data(project, "wine"))
    local = train(splits, "mlp", params=PARAMS)
    distributed = train(splits, "mlp", params=PARAMS | {"workers": 2}, executor=lambda: recording)

    assert recording.mapped == [("_train_replica", 2)]
    model = distributed.model.named_steps["model"]
    assert type(model) is type(local.model.named_steps["model"]) is TorchMLPClassifier
    assert [name for name, _ in model.network_.named_parameters()] == [
        name for name, _ in local.model.named_steps["model"].network_.named_parameters()
    ]
    assert len(distributed.history) == 30 and set(distributed.history[0]) == {"train_loss", "validation_loss"}
    X_test, y_test = splits.test
    assert set(distributed.model.predict(X_test)) <= set(np.unique(y_test))
    # three classes: far better than chance (about 0.4), as the local model is
    assert distributed.metrics["test_accuracy"] > 0.6 and local.metrics["test_accuracy"] > 0.6


def test_a_project_on_ray_registers_a_distributed_mlp_that_loads_and_predicts(
    tmp_path: Path, ray_cluster_address: str
) -> None:
    overrides = {"executor.type": "ray", "executor.address": ray_cluster_address}
    with fti.connect(tmp_path, overrides=overrides) as project:
        wine = write_training_data(project, "wine")
        tracked = project.train(wine, "mlp", params=PARAMS | {"workers": 2}, register="wine-mlp")
        assert tracked.version is not None
        loaded = project.get_model("wine-mlp")
        X_test, _ = wine.test
        assert (loaded.predict(X_test) == tracked.result.model.predict(X_test)).all()
        history = project.runs()
        assert history.loc[history["run_id"] == tracked.run_id, "params.workers"].tolist() == ["2"]


def test_more_replicas_than_workers_are_refused(tmp_path: Path, ray_executor: Executor) -> None:
    with fti.connect(tmp_path) as project:
        splits = in_memory(write_training_data(project, "wine"))
    with pytest.raises(ValidationError, match=r"workers=3 replicas at once, but the executor .* runs 2 task"):
        train(splits, "mlp", params=PARAMS | {"workers": 3}, executor=lambda: ray_executor)
