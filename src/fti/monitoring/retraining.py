"""Automated retraining: run a deployment's training pipeline, register the result as ``challenger`` and
(optionally) hand it to the deployment as an A/B variant.

The training pipeline is a callable returning the new model version (it reads fresh training data and
logs the model in a run); adding the challenger to the deployment goes through a hook (by default
:func:`add_to_split` over the deployments' :class:`TrafficSplits`), so this module needs neither the server nor
the deployment store.

Example:
    >>> action = project.retraining("fraud", train_fraud_model, share=0.2, add_to_deployment=hook)  # doctest: +SKIP
    >>> project.check_alerts("fraud", [DriftShareRule(0.5)], [action])  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from fti.errors import ValidationError
from fti.monitoring.options import AddToDeployment

if TYPE_CHECKING:
    from fti.core.deployments import Deployment
    from fti.monitoring.alerts import Alert
    from fti.registry.version import ModelVersion

__all__ = [
    "CHALLENGER",
    "RetrainAction",
    "TrafficSplits",
    "TrainingPipeline",
    "add_to_split",
    "import_callable",
    "retrain",
]

CHALLENGER = "challenger"

TrainingPipeline = Callable[[Any], "ModelVersion"]
"""A deployment's training pipeline: called with the project, returns the model version it registered."""


class TrafficSplits(Protocol):
    """The deployments whose traffic split a challenger joins (the project's deployment service)."""

    def list_deployments(self) -> Sequence[Deployment]:
        """Every deployment."""

    def add_variant(self, name: str, reference: str, share: float) -> Deployment:
        """Give ``reference`` ``share`` of deployment ``name``'s traffic."""


def add_to_split(splits: TrafficSplits) -> AddToDeployment:
    """The default hook: put a retrained challenger into a deployment's traffic split, if that deployment exists."""

    def add(deployment: str, reference: str, share: float) -> None:
        if deployment in {existing.name for existing in splits.list_deployments()}:
            splits.add_variant(deployment, reference, share)

    return add


def retrain(
    deployment: str,
    train: Callable[[], Any],
    *,
    share: float = 0.1,
    add_to_deployment: AddToDeployment | None = None,
    reason: str | None = None,
) -> ModelVersion:
    """Run the training pipeline, set ``challenger`` on its model version, and add it to the deployment.

    Args:
        deployment: the deployment the challenger is for.
        train: the pipeline: returns the registered :class:`~fti.registry.version.ModelVersion`.
        share: the challenger's traffic share in the deployment's A/B split.
        add_to_deployment: the hook that adds ``name:version`` to the deployment with ``share``.
        reason: recorded in the alias history.

    Raises:
        ValidationError: the share is not in (0, 1) or the pipeline returned no model version.
    """
    if not 0.0 < share < 1.0:
        raise ValidationError(f"The challenger's traffic share must be in (0, 1), got {share}. Use e.g. 0.1.")
    version = train()
    if not (hasattr(version, "set_alias") and hasattr(version, "version") and hasattr(version, "name")):
        raise ValidationError(
            f"The training pipeline of deployment '{deployment}' returned {type(version).__name__}, not a model "
            "version: return run.log_model(model, name) from it."
        )
    version.set_alias(CHALLENGER, reason=reason or f"retrained for deployment '{deployment}'")
    if add_to_deployment is not None:
        add_to_deployment(deployment, f"{version.name}:{version.version}", share)
    chosen: ModelVersion = version
    return chosen


@dataclass(frozen=True, slots=True)
class RetrainAction:
    """An alert action that retrains (see :func:`retrain`); ``versions`` collects what each run registered."""

    deployment: str
    train: Callable[[], Any]
    share: float = 0.1
    add_to_deployment: AddToDeployment | None = None

    def __call__(self, alert: Alert) -> None:
        """Retrain because of ``alert`` (its message is the reason in the alias history)."""
        retrain(
            self.deployment,
            self.train,
            share=self.share,
            add_to_deployment=self.add_to_deployment,
            reason=f"retrained after alert: {alert.message}",
        )


def import_callable(reference: str, *, what: str = "training pipeline") -> Callable[..., Any]:
    """The callable named ``"package.module:function"``."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ValidationError(f"The {what} {reference!r} must be written as 'package.module:function'.")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValidationError(f"The {what} {reference!r} cannot be imported: {exc}. Check PYTHONPATH.") from exc
    found = getattr(module, attribute, None)
    if not callable(found):
        raise ValidationError(f"The {what} {reference!r}: module '{module_name}' has no callable '{attribute}'.")
    chosen: Callable[..., Any] = found
    return chosen
