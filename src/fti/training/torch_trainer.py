"""A PyTorch MLP trainer, wrapped as scikit-learn estimators so it registers like any other model.

The dataset is turned into one tensor once; each epoch draws a random permutation and gathers its
mini-batches from that tensor (no copy of the dataset per epoch). The loss follows the task (BCE with
logits, cross-entropy, MSE on a standardized target) unless given; Adam with lr 1e-3 by default, SGD
available; early stopping on the validation loss with ``patience``; per-epoch ``train_loss`` and
``validation_loss`` logged as step metrics. For a rare positive class (fraud, churn), ``pos_weight``
weighs the positives in the binary loss (``"balanced"``: negatives per positive of the training target).
Training uses ``threads`` intra-op threads (one by default: small networks gain nothing from more, and
spinning threads slow a busy machine down many times over). With ``workers`` > 1 the network trains
data-parallel on that many executor workers (:mod:`fti.training.distributed_torch`).
PyTorch is the ``torch`` extra, imported when first used.

Example:
    >>> from fti.training import train
    >>> result = train(td, "mlp", params={"hidden_layers": (64, 32), "epochs": 50})  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from fti.errors import MissingExtraError, ValidationError
from fti.training.ports import IterationCallback, NullRunLogger, RunLogger

if TYPE_CHECKING:
    import torch

__all__ = ["TorchMLPClassifier", "TorchMLPRegressor", "import_torch", "iterate_batches"]

Loss = Literal["bce", "cross_entropy", "mse"]
_EVAL_CHUNK = 65_536


def import_torch() -> Any:
    """The ``torch`` module, or a clear error naming the extra to install."""
    try:
        import torch
    except ImportError as exc:
        raise MissingExtraError("The PyTorch MLP trainer needs the 'torch' extra: pip install 'fti[torch]'") from exc
    return torch


def iterate_batches(n_rows: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Row indices of one epoch's shuffled mini-batches (views into one permutation, no data copied)."""
    torch = import_torch()
    permutation = torch.randperm(n_rows, generator=generator)
    yield from permutation.split(batch_size)


class _TorchMLP(BaseEstimator):  # type: ignore[misc]
    """Shared training loop of the MLP classifier and regressor."""

    def __init__(
        self,
        hidden_layers: Sequence[int] = (64, 64),
        *,
        dropout: float = 0.0,
        loss: Loss | None = None,
        optimizer: Literal["adam", "sgd"] = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        epochs: int = 100,
        batch_size: int = 128,
        patience: int | None = 10,
        seed: int = 0,
        progress: bool = True,
        pos_weight: float | Literal["balanced"] | None = None,
        threads: int | None = 1,
        workers: int = 1,
    ) -> None:
        self.hidden_layers = hidden_layers
        self.dropout = dropout
        self.loss = loss
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.epochs = epochs
        self.batch_size = batch_size
        self.patience = patience
        self.seed = seed
        self.progress = progress
        self.pos_weight = pos_weight
        self.threads = threads
        self.workers = workers

    # the subclasses say how targets become tensors and outputs become predictions
    def _prepare_target(self, y: Any) -> np.ndarray[Any, Any]:
        raise NotImplementedError

    def _default_loss(self) -> Loss:
        raise NotImplementedError

    def _n_outputs(self) -> int:
        raise NotImplementedError

    def fit(self, X: Any, y: Any) -> _TorchMLP:
        """Train on ``X`` (numeric, already preprocessed) and ``y``, without a validation split."""
        self.fit_network(X, y)
        return self

    def fit_network(
        self,
        X: Any,
        y: Any,
        *,
        validation: tuple[Any, Any] | None = None,
        logger: RunLogger | None = None,
        on_iteration: IterationCallback | None = None,
    ) -> list[dict[str, float]]:
        """Train, stopping early on ``validation``'s loss; return the per-epoch losses."""
        torch = import_torch()
        self._check_params()
        previous_threads = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            return self._fit_network(torch, X, y, validation, logger, on_iteration)
        finally:
            torch.set_num_threads(previous_threads)

    def prepare_target(self, y: Any) -> None:
        """Set the classes (or the target's scale) from the whole target ``y``, before data-parallel replicas
        (:mod:`fti.training.distributed_torch`) each train on a shard of it."""
        self._fitting_target = True
        self._prepare_target(y)

    def fit_replica(
        self, X: Any, y: Any, *, validation: tuple[Any, Any] | None, wrap: Callable[[Any], Any]
    ) -> list[dict[str, float]]:
        """Train one data-parallel replica on a shard (``X``, ``y``) with the network wrapped by ``wrap``; the
        classes or target scale are those :meth:`prepare_target` set."""
        torch = import_torch()
        self._check_params()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        self._fitting_target = False
        return self._fit_network(torch, X, y, validation, None, None, wrap)

    def load_network(self, state: dict[str, Any], n_features: int, epochs: int) -> None:
        """Become the fitted model whose network has the weights ``state`` (trained by replicas)."""
        self.n_features_in_ = n_features
        self.network_ = self._build_network(n_features)
        self.network_.load_state_dict(state)
        self.network_.eval()
        self.n_epochs_ = epochs

    def _fit_network(
        self,
        torch: Any,
        X: Any,
        y: Any,
        validation: tuple[Any, Any] | None,
        logger: RunLogger | None,
        on_iteration: IterationCallback | None,
        wrap: Callable[[Any], Any] | None = None,
    ) -> list[dict[str, float]]:
        """The training loop; ``wrap`` (DistributedDataParallel) wraps the network for the training steps."""
        torch.manual_seed(self.seed)
        features = _as_tensor(X, torch.float32)
        target = self._target_tensor(y)
        self.n_features_in_ = int(features.shape[1])
        self.network_ = self._build_network(self.n_features_in_)
        trained = self.network_ if wrap is None else wrap(self.network_)
        loss_fn = self._loss_function(target)
        optimizer = self._build_optimizer()
        held_out = (
            None
            if validation is None
            else (_as_tensor(validation[0], torch.float32), self._target_tensor(validation[1]))
        )
        run = logger or NullRunLogger()
        generator = torch.Generator().manual_seed(self.seed)
        history: list[dict[str, float]] = []
        best_loss, best_state, stale = float("inf"), None, 0
        with _EpochProgress(self.progress, self.epochs) as advance:
            for epoch in range(self.epochs):
                # a data-parallel replica whose shard runs out of batches first shadows the others' steps
                with trained.join() if wrap is not None else contextlib.nullcontext():
                    train_loss = self._train_epoch(trained, features, target, loss_fn, optimizer, generator)
                record = {"train_loss": train_loss}
                if held_out is not None:
                    record["validation_loss"] = self._loss_on(held_out, loss_fn)
                run.log_metrics(record, step=epoch)
                history.append(record)
                advance(record)
                if held_out is None:
                    continue
                if on_iteration is not None:
                    on_iteration(epoch, record["validation_loss"])
                if record["validation_loss"] < best_loss:
                    best_loss, best_state, stale = (
                        record["validation_loss"],
                        copy.deepcopy(self.network_.state_dict()),
                        0,
                    )
                else:
                    stale += 1
                    if self.patience is not None and stale >= self.patience:
                        break
        if best_state is not None:
            self.network_.load_state_dict(best_state)
        self.network_.eval()
        self.n_epochs_ = len(history)
        return history

    def _train_epoch(
        self, trained: Any, features: Any, target: Any, loss_fn: Any, optimizer: Any, generator: Any
    ) -> float:
        torch = import_torch()
        trained.train()
        losses = []
        for rows in iterate_batches(len(features), self.batch_size, generator):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(trained(features[rows]), target[rows])
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())  # summed once per epoch: no host sync per batch
        sizes = torch.full((len(losses),), float(self.batch_size))
        sizes[-1] = len(features) - self.batch_size * (len(losses) - 1)
        return float(torch.stack(losses).double() @ sizes.double()) / len(features)

    def _loss_on(self, held_out: tuple[Any, Any], loss_fn: Any) -> float:
        torch = import_torch()
        features, target = held_out
        self.network_.eval()
        total = 0.0
        with torch.no_grad():
            for start in range(0, len(features), _EVAL_CHUNK):
                outputs = self.network_(features[start : start + _EVAL_CHUNK])
                total += float(loss_fn(outputs, target[start : start + _EVAL_CHUNK])) * len(outputs)
        return total / len(features)

    def _outputs(self, X: Any) -> np.ndarray[Any, Any]:
        torch = import_torch()
        features = _as_tensor(X, torch.float32)
        self.network_.eval()
        with torch.no_grad():
            chunks = [
                self.network_(features[start : start + _EVAL_CHUNK]) for start in range(0, len(features), _EVAL_CHUNK)
            ]
        return np.asarray(torch.cat(chunks).numpy(), dtype=np.float64)

    def _target_tensor(self, y: Any) -> Any:
        torch = import_torch()
        values = self._prepare_target(y)
        dtype = torch.int64 if self._resolved_loss() == "cross_entropy" else torch.float32
        return _as_tensor(values, dtype)

    def _resolved_loss(self) -> Loss:
        return self.loss or self._default_loss()

    def _loss_function(self, target: Any) -> Any:
        torch = import_torch()
        loss = self._resolved_loss()
        if loss == "bce" and self.pos_weight is not None:
            return torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([self._positive_weight(target)]))
        return {"bce": torch.nn.BCEWithLogitsLoss, "cross_entropy": torch.nn.CrossEntropyLoss, "mse": torch.nn.MSELoss}[
            loss
        ]()

    def _positive_weight(self, target: Any) -> float:
        if self.pos_weight != "balanced":
            return float(self.pos_weight or 1.0)
        positives = float(target.sum())
        return (len(target) - positives) / positives if positives else 1.0

    def _build_network(self, n_inputs: int) -> Any:
        torch = import_torch()
        layers: list[Any] = []
        width = n_inputs
        for hidden in self.hidden_layers:
            layers += [torch.nn.Linear(width, hidden), torch.nn.ReLU()]
            if self.dropout > 0:
                layers.append(torch.nn.Dropout(self.dropout))
            width = hidden
        layers.append(torch.nn.Linear(width, self._n_outputs()))
        return torch.nn.Sequential(*layers)

    def _build_optimizer(self) -> Any:
        torch = import_torch()
        parameters = self.network_.parameters()
        if self.optimizer == "sgd":
            return torch.optim.SGD(parameters, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)
        return torch.optim.Adam(parameters, lr=self.lr, weight_decay=self.weight_decay)

    def _check_params(self) -> None:
        problems = []
        if self.optimizer not in ("adam", "sgd"):
            problems.append(f"optimizer '{self.optimizer}' is not 'adam' or 'sgd'")
        if self.loss not in (None, "bce", "cross_entropy", "mse"):
            problems.append(f"loss '{self.loss}' is not 'bce', 'cross_entropy' or 'mse'")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            problems.append(f"workers ({self.workers!r}) must be a whole number >= 1")
        if self.threads is not None and self.threads < 1:
            problems.append(f"threads ({self.threads}) must be >= 1 (or None for torch's setting)")
        if self.epochs < 1 or self.batch_size < 1:
            problems.append(f"epochs ({self.epochs}) and batch_size ({self.batch_size}) must be >= 1")
        weight = self.pos_weight
        if weight not in (None, "balanced") and (isinstance(weight, str) or not float(weight) > 0):
            problems.append(f"pos_weight {self.pos_weight!r} is not a positive number or 'balanced'")
        if not self.hidden_layers or any(width < 1 for width in self.hidden_layers):
            problems.append(f"hidden_layers {tuple(self.hidden_layers)} needs at least one layer, each >= 1 wide")
        if problems:
            raise ValidationError(f"MLP params are invalid: {'; '.join(problems)}. Fix them in the model params.")


class TorchMLPClassifier(ClassifierMixin, _TorchMLP):  # type: ignore[misc]
    """A PyTorch MLP classifier: BCE with logits for two classes, cross-entropy for more."""

    def _prepare_target(self, y: Any) -> np.ndarray[Any, Any]:
        values = np.asarray(y)
        if getattr(self, "_fitting_target", True):
            self.classes_ = np.unique(values)
            self._fitting_target = False
        codes = np.searchsorted(self.classes_, values)
        if len(self.classes_) == 2 and self._resolved_loss() == "bce":
            return codes.astype(np.float32).reshape(-1, 1)
        return codes.astype(np.int64)

    def fit_network(self, X: Any, y: Any, **kwargs: Any) -> list[dict[str, float]]:
        """Train, stopping early on the validation loss; the classes are those of ``y``."""
        self._fitting_target = True
        return super().fit_network(X, y, **kwargs)

    def _default_loss(self) -> Loss:
        return "bce" if len(self.classes_) == 2 else "cross_entropy"

    def _n_outputs(self) -> int:
        return 1 if self._resolved_loss() == "bce" else len(self.classes_)

    def predict_proba(self, X: Any) -> np.ndarray[Any, Any]:
        """Class probabilities, columns in the order of ``classes_``."""
        outputs = self._outputs(X)
        if outputs.shape[1] == 1:
            positive = 1.0 / (1.0 + np.exp(-outputs[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
        return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        """The most probable class of each row."""
        return np.asarray(self.classes_[np.argmax(self.predict_proba(X), axis=1)])


class TorchMLPRegressor(RegressorMixin, _TorchMLP):  # type: ignore[misc]
    """A PyTorch MLP regressor trained with MSE on a standardized target."""

    def _prepare_target(self, y: Any) -> np.ndarray[Any, Any]:
        values = np.asarray(y, dtype=np.float64)
        if getattr(self, "_fitting_target", True):
            self.target_mean_, self.target_scale_ = float(values.mean()), float(values.std() or 1.0)
            self._fitting_target = False
        return ((values - self.target_mean_) / self.target_scale_).astype(np.float32).reshape(-1, 1)

    def fit_network(self, X: Any, y: Any, **kwargs: Any) -> list[dict[str, float]]:
        """Train, stopping early on the validation loss (in units of the standardized target)."""
        self._fitting_target = True
        return super().fit_network(X, y, **kwargs)

    def _default_loss(self) -> Loss:
        return "mse"

    def _n_outputs(self) -> int:
        return 1

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        """Predicted values in the target's units."""
        return np.asarray(self._outputs(X)[:, 0] * self.target_scale_ + self.target_mean_)


def _as_tensor(values: Any, dtype: Any) -> Any:
    """A tensor sharing memory with ``values`` when it already has the right dtype and layout."""
    torch = import_torch()
    array = np.ascontiguousarray(np.asarray(values), dtype=torch.empty((), dtype=dtype).numpy().dtype)
    return torch.from_numpy(array)


class _EpochProgress:
    """A rich progress bar over epochs, or nothing when ``enabled`` is false."""

    def __init__(self, enabled: bool, epochs: int) -> None:
        self.enabled, self.epochs = enabled, epochs
        self._progress: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return lambda record: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("MLP"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            refresh_per_second=2,  # redraws compete with the training loop for the GIL
        )
        self._progress.start()
        task_id = self._progress.add_task("", total=self.epochs)

        def advance(record: dict[str, float]) -> None:
            text = "  ".join(f"{key} {value:.4f}" for key, value in record.items())
            self._progress.update(task_id, advance=1, description=text)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
