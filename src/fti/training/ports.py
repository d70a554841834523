"""What the training pipeline needs from the rest of the platform, as small Protocols.

The training library works against these two seams only: a :class:`SplitData` (a training dataset's
splits, as the feature store hands them out) and a :class:`RunLogger` (what a tracking run offers).
:class:`Splits` is the plain in-memory :class:`SplitData`; :class:`NullRunLogger` records nothing.
An :data:`IterationCallback` is how a trainer reports progress to whoever drives it (tuning, a study).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pandas as pd

if TYPE_CHECKING:
    from types import TracebackType

    from matplotlib.figure import Figure

    from fti.core.lineage import TrainingDataRef

__all__ = [
    "Dataset",
    "IterationCallback",
    "ModelRun",
    "NullRunLogger",
    "ProjectOpener",
    "RunLogger",
    "RunStarter",
    "SplitData",
    "Splits",
]

#: Features and target of one split.
Dataset = tuple[pd.DataFrame, pd.Series]

#: Called after each iteration (epoch, boosting round) with its number and the validation loss.
IterationCallback = Callable[[int, float], None]


@runtime_checkable
class SplitData(Protocol):
    """A training dataset's splits; validation and test may be missing."""

    @property
    def train(self) -> Dataset:
        """Features and target the model is fitted on."""
        ...

    @property
    def validation(self) -> Dataset | None:
        """Features and target for early stopping and tuning, if any."""
        ...

    @property
    def test(self) -> Dataset | None:
        """Held-out features and target for the final evaluation, if any."""
        ...


@dataclass(frozen=True, slots=True)
class Splits:
    """The plain in-memory :class:`SplitData`.

    Example:
        >>> import pandas as pd
        >>> X, y = pd.DataFrame({"a": [1.0, 2.0]}), pd.Series([0, 1])
        >>> Splits(train=(X, y)).validation is None
        True
    """

    train: Dataset
    validation: Dataset | None = None
    test: Dataset | None = None


class RunLogger(Protocol):
    """What a tracking run offers to the training pipeline (a tracking ``Run`` is one)."""

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record the run's parameters."""
        ...

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Record one metric value, optionally at a step (an epoch, a boosting round)."""
        ...

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record several metric values at once."""
        ...

    # Positional-only and returning ``object``: a tracking run names these arguments ``artifact_file``
    # and returns the stored path, and it satisfies this Protocol as it is.
    def log_figure(self, figure: Figure, name: str, /) -> object:
        """Store a matplotlib figure as an artifact named ``name`` (e.g. ``roc_curve.png``)."""
        ...

    def log_dict(self, data: Mapping[str, Any], name: str, /) -> object:
        """Store a JSON-serializable mapping as an artifact named ``name`` (e.g. ``importance.json``)."""
        ...

    def set_tag(self, key: str, value: str) -> None:
        """Attach a tag to the run."""
        ...


class NullRunLogger:
    """A :class:`RunLogger` that records nothing, used when no run is given."""

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Ignore the parameters."""

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Ignore the metric."""

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Ignore the metrics."""

    def log_figure(self, figure: Figure, name: str) -> None:
        """Ignore the figure."""

    def log_dict(self, data: Mapping[str, Any], name: str) -> None:
        """Ignore the mapping."""

    def set_tag(self, key: str, value: str) -> None:
        """Ignore the tag."""


class ModelRun(RunLogger, Protocol):
    """A tracking run that can also register models (a tracking ``Run`` is one)."""

    @property
    def id(self) -> str:
        """The run's id."""
        ...

    def log_model(self, model: Any, name: str, /) -> Any:
        """Register ``model`` as the next version of ``name`` with the run's lineage; returns the version."""
        ...

    def end(self, status: str = "finished", error: str | None = None) -> None:
        """Mark the run ended (``"finished"`` or ``"failed"``)."""
        ...

    def __enter__(self) -> ModelRun: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class RunStarter(Protocol):
    """Starts tracking runs (a project is one)."""

    def start_run(
        self,
        experiment: str,
        name: str | None = None,
        *,
        training_data: TrainingDataRef | None = None,
        tags: Mapping[str, Any] | None = None,
        parent: str | None = None,
    ) -> ModelRun:
        """Start a run in ``experiment``, nested in ``parent`` when given."""
        ...


#: Opens the project again (in a worker process) as a context manager; must be picklable.
ProjectOpener = Callable[[], AbstractContextManager[RunStarter]]
