"""The model validation gate: the checks a CI/CD pipeline runs before a model version is promoted.

``validate_model`` checks a model version against a :class:`GateSpec` and returns a report of every check;
``promote_model`` moves an alias to it only when all of them pass. The checks:

* **metrics**: a recorded metric (``test_roc_auc``) at least (or, for losses, at most) a value, and at
  least ``min_delta`` better than the current champion's **on the same test set**: the recorded values
  when both versions were trained on the same training dataset, else both versions evaluated on the
  candidate's test split (so the metric must carry its split, ``test_`` or ``validation_``);
* **signature**: the version's inputs are columns of the deployment's feature view with compatible types
  (or, for a deployment without one, the inputs of the version it serves now);
* **latency**: the 95th percentile of single-row predictions on a sample of the candidate's test split;
* **size**: the version's files in the artifact store;
* **lineage**: a run, a training dataset and the feature-group commits it read.

Bad input (an unknown metric, a champion without it, an unknown deployment, a latency budget without data
to measure it on) raises before any check runs; a failed check is reported, and ``GateFailedError``
(exit code 2) names every failed check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fti.errors import NotFoundError, ValidationError
from fti.training.evaluation import evaluate
from fti.training.tasks import is_loss

if TYPE_CHECKING:
    from fti.project import Project
    from fti.registry.version import ModelVersion

__all__ = [
    "GateCheck",
    "GateFailedError",
    "GateReport",
    "GateSpec",
    "MetricThreshold",
    "promote_model",
    "validate_model",
]

_SPLITS = ("test", "validation")
_WIDENING = {("int64", "double"), ("int32", "double"), ("int32", "int64"), ("float", "double")}


class GateFailedError(ValidationError):
    """A model version failed the validation gate (exit code 2)."""


@dataclass(frozen=True, slots=True)
class MetricThreshold:
    """Bounds on one recorded metric.

    Attributes:
        name: the metric, with its split (``test_roc_auc``).
        minimum: the least acceptable value (for a metric where higher is better).
        maximum: the largest acceptable value (for a loss).
        min_delta: how much better than the champion's on the same test set it must be (0: not worse).
    """

    name: str
    minimum: float | None = None
    maximum: float | None = None
    min_delta: float | None = None


@dataclass(frozen=True, slots=True)
class GateSpec:
    """What a model version must meet.

    Attributes:
        metrics: thresholds on metrics.
        champion: the alias of the version to compare with.
        deployment: the deployment whose feature view the signature must fit.
        max_latency_ms: the 95th percentile of single-row predictions, at most.
        latency_rows: rows of the test split to time, one prediction each.
        max_size_mb: the version's files, at most.
        require_lineage: a run, a training dataset and feature-group commits are required.
    """

    metrics: tuple[MetricThreshold, ...] = ()
    champion: str = "champion"
    deployment: str | None = None
    max_latency_ms: float | None = None
    latency_rows: int = 50
    max_size_mb: float | None = None
    require_lineage: bool = False


@dataclass(frozen=True, slots=True)
class GateCheck:
    """One check: what was measured, against what, and whether it passed."""

    name: str
    value: str
    threshold: str
    passed: bool


@dataclass(frozen=True, slots=True)
class GateReport:
    """Every check of one model version."""

    model: str
    version: int
    checks: tuple[GateCheck, ...]

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(check.passed for check in self.checks)

    @property
    def failed(self) -> tuple[GateCheck, ...]:
        """The checks that failed."""
        return tuple(check for check in self.checks if not check.passed)

    def raise_if_failed(self) -> None:
        """Raise GateFailedError naming every failed check."""
        if self.passed:
            return
        named = "; ".join(f"{check.name} ({check.value}, needs {check.threshold})" for check in self.failed)
        raise GateFailedError(f"Model '{self.model}' v{self.version} failed the gate: {named}.")


def validate_model(project: Project, reference: str, spec: GateSpec) -> GateReport:
    """Run the gate on the version ``reference`` names (``"fraud:3"``; ``"fraud"`` is its latest).

    Raises:
        ValidationError: an unknown metric, a champion without it, or a latency budget without test data.
        NotFoundError: no such model version or deployment.

    Example:
        >>> spec = GateSpec(metrics=(MetricThreshold("test_roc_auc", minimum=0.8, min_delta=0.0),))  # doctest: +SKIP
        >>> validate_model(project, "fraud:3", spec).passed  # doctest: +SKIP
    """
    candidate = project.get_model(reference)
    champion = _champion(project, candidate, spec)
    _check_inputs(project, candidate, champion, spec)
    checks: list[GateCheck] = []
    for threshold in spec.metrics:
        checks.extend(_metric_checks(project, candidate, champion, threshold))
    if spec.deployment is not None:
        checks.append(_signature_check(project, candidate, spec.deployment))
    if spec.max_latency_ms is not None:
        checks.append(_latency_check(project, candidate, spec.max_latency_ms, spec.latency_rows))
    if spec.max_size_mb is not None:
        size = sum(item.size for item in project.artifacts.list(candidate.record.artifact_prefix + "/")) / 1e6
        checks.append(GateCheck("size", f"{size:.3g} MB", f"<= {spec.max_size_mb:g} MB", size <= spec.max_size_mb))
    if spec.require_lineage:
        checks.append(_lineage_check(candidate))
    return GateReport(candidate.name, candidate.version, tuple(checks))


def promote_model(project: Project, reference: str, spec: GateSpec, alias: str = "champion") -> GateReport:
    """Move ``alias`` to the version ``reference`` names only if it passes the gate; the report either way.

    The alias history keeps the checks passed as the reason. Call ``report.raise_if_failed()`` to turn a
    failed gate into an error.

    Example:
        >>> promote_model(project, "fraud:3", spec).raise_if_failed()  # doctest: +SKIP
    """
    report = validate_model(project, reference, spec)
    if report.passed:
        reason = f"passed the gate: {', '.join(check.name for check in report.checks) or 'no checks'}"
        project.get_model(f"{report.model}:{report.version}").set_alias(alias, reason=reason)
    return report


def _champion(project: Project, candidate: ModelVersion, spec: GateSpec) -> ModelVersion | None:
    try:
        return project.get_model(f"{candidate.name}@{spec.champion}")
    except NotFoundError:
        return None  # the first version of a model has nothing to beat


def _check_inputs(project: Project, candidate: ModelVersion, champion: ModelVersion | None, spec: GateSpec) -> None:
    for threshold in spec.metrics:
        if threshold.name not in candidate.metrics:
            raise ValidationError(
                f"Model '{candidate.name}' v{candidate.version} has no metric '{threshold.name}' (its metrics: "
                f"{', '.join(sorted(candidate.metrics)) or 'none'}): gate on one of them."
            )
        if threshold.min_delta is not None and champion is not None and threshold.name not in champion.metrics:
            raise ValidationError(
                f"The {spec.champion} of model '{candidate.name}' (v{champion.version}) has no metric "
                f"'{threshold.name}' to compare with (its metrics: {', '.join(sorted(champion.metrics)) or 'none'}): "
                "gate on a metric both versions have, or drop --min-delta."
            )
    if spec.deployment is not None:
        project.get_deployment(spec.deployment)
    if spec.max_latency_ms is not None and candidate.lineage().training_data is None:
        raise ValidationError(
            f"Model '{candidate.name}' v{candidate.version} has no training dataset in its lineage to time "
            "predictions on: drop the latency budget or log the version from a run with training data."
        )


def _metric_checks(
    project: Project, candidate: ModelVersion, champion: ModelVersion | None, threshold: MetricThreshold
) -> list[GateCheck]:
    name, value = threshold.name, candidate.metrics[threshold.name]
    checks = []
    if threshold.minimum is not None:
        checks.append(GateCheck(name, f"{value:.4g}", f">= {threshold.minimum:g}", value >= threshold.minimum))
    if threshold.maximum is not None:
        checks.append(GateCheck(name, f"{value:.4g}", f"<= {threshold.maximum:g}", value <= threshold.maximum))
    if threshold.min_delta is None:
        return checks
    label = f"{name} vs champion"
    if champion is None:
        return [*checks, GateCheck(label, "no champion yet", f"+{threshold.min_delta:g}", True)]
    ours, theirs, where = _same_test_set(project, candidate, champion, name)
    gain = (theirs - ours) if is_loss(name) else (ours - theirs)
    shown = f"{ours:.4g} vs v{champion.version} {theirs:.4g} ({where})"
    return [
        *checks,
        GateCheck(label, shown, f"{'-' if is_loss(name) else '+'}{threshold.min_delta:g}", gain >= threshold.min_delta),
    ]


def _same_test_set(
    project: Project, candidate: ModelVersion, champion: ModelVersion, metric: str
) -> tuple[float, float, str]:
    """Both versions' ``metric`` on one test set: as recorded when they share their training dataset, else
    evaluated on the candidate's."""
    ours, theirs = candidate.lineage().training_data, champion.lineage().training_data
    if ours is not None and theirs is not None and _dataset(ours) == _dataset(theirs):
        return candidate.metrics[metric], champion.metrics[metric], "recorded"
    split = metric.split("_", 1)[0]
    if ours is None or split not in _SPLITS:
        raise ValidationError(
            f"Model '{candidate.name}' v{candidate.version} and its champion v{champion.version} were evaluated on "
            f"different data, and '{metric}' cannot be measured again on one test set (it needs a training dataset "
            "in the candidate's lineage and a metric named after its split, such as test_roc_auc)."
        )
    features, target = _split_of(project, candidate, split)
    scored = [
        evaluate(_Scorer(version), (features, target), prefix=f"{split}_", figures=False)
        for version in (candidate, champion)
    ]
    for result, version in zip(scored, (candidate, champion), strict=True):
        if metric not in result.metrics:
            raise ValidationError(
                f"Evaluating model '{version.name}' v{version.version} gives no '{metric}' (it gives "
                f"{', '.join(sorted(result.metrics))}): gate on one of those."
            )
    return scored[0].metrics[metric], scored[1].metrics[metric], f"both on v{candidate.version}'s {split} split"


def _dataset(lineage: Any) -> tuple[str, int, int]:
    return lineage.feature_view_name, lineage.feature_view_version, lineage.training_dataset_version


def _split_of(project: Project, version: ModelVersion, split: str) -> tuple[pd.DataFrame, Any]:
    lineage = version.lineage().training_data
    assert lineage is not None
    view = project.get_feature_view(lineage.feature_view_name, lineage.feature_view_version)
    dataset = view.get_training_dataset(lineage.training_dataset_version)
    features, target = dataset.test if split == "test" else dataset.validation
    if version.signature is not None:
        features = features[[column.name for column in version.signature.inputs]]
    return features, target


class _Scorer:
    """A model version as ``fti.evaluate`` sees an estimator."""

    def __init__(self, version: ModelVersion) -> None:
        self._version = version
        if version.classes is not None:
            self.classes_ = np.asarray(version.classes)
            self.predict_proba = version.predict_proba

    def predict(self, features: pd.DataFrame) -> Any:
        return self._version.predict(features)


def _signature_check(project: Project, candidate: ModelVersion, deployment: str) -> GateCheck:
    served = project.get_deployment(deployment)
    if candidate.signature is None:
        return GateCheck(f"signature vs {deployment}", "no signature", "the deployment's columns", False)
    inputs = {column.name: column.type for column in candidate.signature.inputs}
    if served.feature_lookup is not None:
        view_name, _, view_version = served.feature_lookup.partition(":")
        view = project.get_feature_view(view_name, int(view_version))
        available = _view_columns(view)
        where = f"feature view {view_name} v{view_version}"
    else:
        current = project.get_model(served.references[0])
        available = {column.name: column.type for column in (current.signature.inputs if current.signature else ())}
        where = f"{current.name} v{current.version}'s inputs"
    problems = []
    for name, kind in inputs.items():
        found = available.get(name)
        if found is None:
            problems.append(f"{name} (missing)")
        elif found != kind and (found, kind) not in _WIDENING:
            problems.append(f"{name} ({found}, the model reads {kind})")
    value = "compatible" if not problems else f"incompatible: {', '.join(problems)}"
    return GateCheck(f"signature vs {deployment}", value, f"columns of {where}", not problems)


def _view_columns(view: Any) -> dict[str, str]:
    columns: dict[str, str] = {}
    for part in view.query.parts:
        types = dict(part.group.schema or ())
        for feature, output in zip(part.features, part.output_names(), strict=True):
            columns[output] = types.get(feature, "")
    return columns


def _latency_check(project: Project, candidate: ModelVersion, budget_ms: float, rows: int) -> GateCheck:
    features, _ = _split_of(project, candidate, "test")
    sample = features.head(max(1, rows))
    candidate.predict(sample.head(1))  # load the model and warm it up first
    timings = []
    for index in range(len(sample)):
        started = time.perf_counter()
        candidate.predict(sample.iloc[index : index + 1])
        timings.append((time.perf_counter() - started) * 1000)
    p95 = float(np.percentile(timings, 95))
    return GateCheck("latency p95", f"{p95:.3g} ms over {len(timings)} rows", f"<= {budget_ms:g} ms", p95 <= budget_ms)


def _lineage_check(candidate: ModelVersion) -> GateCheck:
    lineage = candidate.lineage()
    missing = [
        part
        for part, present in (
            ("run", lineage.run is not None),
            ("training dataset", lineage.training_data is not None),
            ("feature-group commits", bool(lineage.feature_group_commits)),
        )
        if not present
    ]
    value = "complete" if not missing else f"missing {', '.join(missing)}"
    return GateCheck("lineage", value, "run, training dataset, commits", not missing)
