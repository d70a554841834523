"""The PyTorch MLP trainer: held-out quality, early stopping, step metrics, and a sklearn-compatible model."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from fti.errors import ValidationError
from fti.training import train
from fti.training.ports import Splits
from fti.training.torch_trainer import TorchMLPClassifier, TorchMLPRegressor, iterate_batches

from .conftest import RecordingRunLogger


def test_mlp_on_breast_cancer(breast_cancer: Splits, run: RecordingRunLogger) -> None:
    result = train(breast_cancer, "mlp", params={"epochs": 40, "batch_size": 64, "progress": False}, logger=run)

    assert result.metrics["test_f1"] >= 0.93
    model = result.model.named_steps["model"]
    assert isinstance(model, TorchMLPClassifier) and model._resolved_loss() == "bce"
    assert [layer.out_features for layer in model.network_ if isinstance(layer, torch.nn.Linear)] == [64, 64, 1]
    epochs = [step for key, _, step in run.steps if key == "validation_loss"]
    assert epochs == list(range(len(result.history))) == [step for key, _, step in run.steps if key == "train_loss"]
    assert run.params["hidden_layers"] == [64, 64]
    assert run.params["lr"] == 0.001 and run.params["optimizer"] == "adam"
    proba = result.model.predict_proba(breast_cancer.test[0])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_early_stopping_restores_the_best_epoch(breast_cancer: Splits) -> None:
    params = {"epochs": 200, "patience": 3, "lr": 0.05, "progress": False}

    result = train(breast_cancer, "mlp", params=params)

    losses = [record["validation_loss"] for record in result.history]
    assert len(losses) < 200
    best = int(np.argmin(losses))
    assert len(losses) == best + 1 + 3  # stopped after `patience` epochs without improvement


def test_mlp_multiclass_uses_cross_entropy_and_sgd(wine: Splits) -> None:
    params = {"epochs": 60, "optimizer": "sgd", "lr": 0.05, "hidden_layers": (32,), "progress": False}

    result = train(wine, "mlp", params=params)

    model = result.model.named_steps["model"]
    assert model._resolved_loss() == "cross_entropy"
    assert result.metrics["test_f1_macro"] >= 0.9
    assert result.model.predict_proba(wine.test[0]).shape == (len(wine.test[1]), 3)


def test_mlp_regression_predicts_in_target_units(diabetes: Splits) -> None:
    result = train(diabetes, "mlp", params={"epochs": 40, "progress": False})

    model = result.model.named_steps["model"]
    assert isinstance(model, TorchMLPRegressor)
    assert result.metrics["test_r2"] >= 0.3
    assert 50 < result.model.predict(diabetes.test[0]).mean() < 250


def test_progress_bar_runs(breast_cancer: Splits) -> None:
    result = train(breast_cancer, "mlp", params={"epochs": 2, "progress": True})

    assert len(result.history) == 2


def test_mlp_pickles_and_plain_fit_works(breast_cancer: Splits) -> None:
    X, y = breast_cancer.train
    model = TorchMLPClassifier(epochs=3, progress=False).fit(X.to_numpy(), y.to_numpy())

    restored = pickle.loads(pickle.dumps(model))

    np.testing.assert_array_equal(restored.predict(X.to_numpy()), model.predict(X.to_numpy()))
    assert model.get_params()["epochs"] == 3


def test_batches_are_a_permutation_of_the_rows() -> None:
    generator = torch.Generator().manual_seed(0)

    batches = list(iterate_batches(10, 4, generator))

    assert [len(batch) for batch in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))


def test_bad_params_are_named(breast_cancer: Splits) -> None:
    with pytest.raises(ValidationError, match="MLP params are invalid: optimizer 'rmsprop' is not 'adam' or 'sgd'"):
        train(breast_cancer, "mlp", params={"optimizer": "rmsprop", "progress": False})


def test_each_epoch_reports_its_validation_loss(breast_cancer: Splits) -> None:
    seen: list[tuple[int, float]] = []

    result = train(
        breast_cancer, "mlp", params={"epochs": 4, "progress": False}, on_iteration=lambda i, v: seen.append((i, v))
    )

    assert seen == [(epoch, record["validation_loss"]) for epoch, record in enumerate(result.history)]


def test_balanced_pos_weight_finds_the_rare_class() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(4000, 4))
    target = (features[:, 0] + 0.5 * features[:, 1] > 2.2).astype(int)  # about 2% positives
    recalls = {}
    for weight in (None, "balanced"):
        model = TorchMLPClassifier((16,), epochs=3, batch_size=256, pos_weight=weight, progress=False)
        predicted = model.fit(features, target).predict(features)
        recalls[weight] = float(predicted[target == 1].mean())

    assert target.mean() < 0.03
    assert recalls["balanced"] > 0.8 > recalls[None]


def test_bad_pos_weight_is_named(breast_cancer: Splits) -> None:
    with pytest.raises(ValidationError, match="pos_weight -1 is not a positive number or 'balanced'"):
        train(breast_cancer, "mlp", params={"pos_weight": -1, "progress": False})


def test_training_threads_are_set_for_the_fit_and_restored() -> None:
    before = torch.get_num_threads()
    seen: list[int] = []
    model = TorchMLPClassifier((4,), epochs=2, threads=1, progress=False)
    model.fit_network(
        np.eye(4),
        np.array([0, 1, 0, 1]),
        validation=(np.eye(4), np.array([0, 1, 0, 1])),
        on_iteration=lambda _epoch, _loss: seen.append(torch.get_num_threads()),
    )

    assert seen == [1, 1]
    assert torch.get_num_threads() == before
    with pytest.raises(ValidationError, match=r"threads \(0\) must be >= 1"):
        TorchMLPClassifier(threads=0, progress=False).fit(np.eye(4), np.array([0, 1, 0, 1]))


def test_a_data_parallel_mlp_without_an_executor_is_refused(breast_cancer: Splits) -> None:
    with pytest.raises(ValidationError, match=r"workers=2 trains on that many executor workers, and none was given"):
        train(breast_cancer, "mlp", params={"workers": 2, "epochs": 1, "progress": False})
    with pytest.raises(ValidationError, match=r"workers \(0\) must be a whole number >= 1"):
        TorchMLPClassifier(workers=0).fit(*breast_cancer.train)
