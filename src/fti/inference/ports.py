"""The small interfaces the model server is built on.

The server never talks to the model registry, the feature store or the offline store directly; it
talks to these Protocols, so it can be connected to the real services or to in-process
implementations (``fti.testing.serving``) alike. Every method is required. The request log is written to the
inference log's port, :class:`fti.inference_log.writer.RequestLogSink`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from fti.core.access import Identity
    from fti.core.deployments import Deployment

__all__ = [
    "AuditSink",
    "DeploymentSource",
    "FeatureLookup",
    "FeedbackSink",
    "ModelResolver",
    "ServedClassifier",
    "ServedModel",
    "TokenStore",
]


@runtime_checkable
class ServedModel(Protocol):
    """A loaded model version, ready to predict.

    ``input_schema`` lists ``(column, dtype name)`` pairs in the order the model reads them; dtype names
    are numpy/Arrow names such as ``"float64"``, ``"int64"``, ``"bool"``, ``"string"``.
    """

    @property
    def name(self) -> str:
        """The registered model's name."""

    @property
    def version(self) -> int:
        """The model version number."""

    @property
    def input_schema(self) -> Sequence[tuple[str, str]]:
        """``(column, dtype name)`` pairs the model expects."""

    @property
    def output_name(self) -> str:
        """Name of the prediction column (the output tensor's name on ``/v2``)."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """One prediction per row of ``frame``.

        Raises:
            ValidationError: naming the missing, extra or mistyped column.
        """


@runtime_checkable
class ServedClassifier(ServedModel, Protocol):
    """A loaded classifier: a served model that also gives one score per class."""

    @property
    def classes(self) -> Sequence[Any]:
        """The classes, the column order of :meth:`predict_proba`."""

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class scores for ``frame``: ``[rows, classes]``.

        Raises:
            ValidationError: naming the missing, extra or mistyped column.
        """


class ModelResolver(Protocol):
    """Turns model references (``"fraud"``, ``"fraud:3"``, ``"fraud@champion"``) into loaded models."""

    def resolve(self, reference: str) -> ServedModel:
        """Load the model version ``reference`` names. Raises NotFoundError when there is none."""

    def current_version(self, reference: str) -> int:
        """The version ``reference`` names right now, without loading it (cheap; polled for hot swap).

        A pinned ``name:3`` is 3 without a lookup; a missing model or alias raises NotFoundError.
        """


class DeploymentSource(Protocol):
    """Where deployments are defined (the catalog, or a fixed set)."""

    def list_deployments(self) -> Sequence[Deployment]:
        """Every deployment, each with its current etag."""

    def get_deployment(self, name: str) -> Deployment:
        """The deployment ``name``. Raises NotFoundError when there is none."""


class FeatureLookup(Protocol):
    """Reads feature vectors from the online store for ``entities`` requests."""

    def get_feature_vectors(
        self, deployment_or_view: str, entities: pd.DataFrame, passed_features: pd.DataFrame | None
    ) -> pd.DataFrame:
        """One row of model inputs per row of ``entities``, with ``passed_features`` taking precedence."""


class FeedbackSink(Protocol):
    """Records feedback on logged requests (the feedback log, :class:`fti.monitoring.feedback.FeedbackLog`)."""

    def write(self, deployment: str, data: Any) -> Any:
        """Check one feedback row (a dict of its fields) against the request log and commit it; the result has
        ``commit`` and ``feedback_ids``."""


class AuditSink(Protocol):
    """Records changes in the audit log (:class:`fti.inference.deployments.AuditLog`)."""

    def record(self, action: str, target: str, **detail: Any) -> None:
        """Append one entry for ``action`` on ``target`` by the current actor (:func:`fti.core.audit.acting_as`)."""


class TokenStore(Protocol):
    """Checks API tokens."""

    def identify(self, token: str) -> Identity | None:
        """Who ``token`` is (its name and role) when it is a valid token: not revoked, not expired; else None.
        Compares in constant time."""

    def verify(self, token: str) -> bool:
        """Whether ``token`` is a valid, unrevoked, unexpired API token."""
