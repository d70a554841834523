"""A/B analysis of a deployment's model versions from the inference log and its labels, with promotion.

Each labelled, non-shadow prediction gives one outcome per row (``accuracy``: 1 when the prediction equals
the label; ``squared_error`` / ``absolute_error`` for regression); every model version is compared with the
control (by default the ``champion``) by the test suited to the outcome, and ``promote=True`` moves
``champion`` to a treatment that wins significantly, with the evidence as the reason in the alias history.

For a rare positive class (fraud), accuracy mostly counts false alarms: ``roc_auc`` and ``average_precision``
rank the requests by the positive-class score the request log keeps (``score``: logged when the deployment
answers class scores, ``output_kind="proba"`` or ``"both"``) and compare the variants by a bootstrap over
requests (:func:`fti.monitoring.stats.ranking.compare_ranking`).

Example:
    >>> report = project.ab_report("fraud", metric="accuracy", mde=0.05, promote=True)  # doctest: +SKIP
    >>> report.winner, report.promoted  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.errors import ConflictError, NotFoundError, ValidationError
from fti.monitoring.stats.ab import analyze_ab
from fti.monitoring.stats.ranking import RANKING_METRICS, compare_ranking, ranking_metric

if TYPE_CHECKING:
    from fti.monitoring.stats.ab import ABDecision, ABTest
    from fti.registry.service import ModelRegistry

__all__ = ["ABMetric", "ABReport", "VariantSummary", "ab_report", "outcomes"]

ABMetric = Literal["accuracy", "error_rate", "squared_error", "absolute_error", "roc_auc", "average_precision"]
_HIGHER_IS_BETTER: dict[str, bool] = {
    "roc_auc": True,
    "average_precision": True,
    "accuracy": True,
    "error_rate": False,
    "squared_error": False,
    "absolute_error": False,
}


@dataclass(frozen=True, slots=True)
class VariantSummary:
    """One model version's labelled traffic: its rows and its mean outcome."""

    model: str
    rows: int
    value: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"model": self.model, "rows": self.rows, "value": self.value}


@dataclass(frozen=True, slots=True)
class ABReport:
    """Per-variant metrics and the decision on each treatment against the control.

    ``promoted`` names the version ``champion`` was moved to (``name:version``), when it was.
    """

    deployment: str
    metric: str
    control: str
    variants: tuple[VariantSummary, ...]
    decisions: tuple[ABDecision, ...]
    promoted: str | None = None

    @property
    def winner(self) -> str | None:
        """The treatment that beats the control significantly (the best one when several do)."""
        winners = [decision for decision in self.decisions if decision.winner == decision.treatment]
        if not winners:
            return None
        sign = 1.0 if _HIGHER_IS_BETTER.get(self.metric, True) else -1.0
        return max(winners, key=lambda decision: sign * decision.effect).treatment

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "deployment": self.deployment,
            "metric": self.metric,
            "control": self.control,
            "variants": [variant.to_dict() for variant in self.variants],
            "decisions": [decision.to_dict() for decision in self.decisions],
            "winner": self.winner,
            "promoted": self.promoted,
        }


def outcomes(labelled: pa.Table, metric: str) -> pa.Array:
    """The per-row outcome of ``metric`` for labelled predictions."""
    prediction = pc.cast(labelled.column("prediction"), pa.float64())
    label = pc.cast(labelled.column("label"), pa.float64())
    if metric == "accuracy":
        return pc.cast(pc.equal(prediction, label), pa.float64())
    if metric == "error_rate":
        return pc.cast(pc.not_equal(prediction, label), pa.float64())
    if metric == "squared_error":
        return pc.power(pc.subtract(prediction, label), 2.0)
    if metric == "absolute_error":
        return pc.abs(pc.subtract(prediction, label))
    raise ValidationError(f"Unknown A/B metric {metric!r}: use one of {', '.join(_HIGHER_IS_BETTER)}.")


def ab_report(
    labelled: pa.Table,
    registry: ModelRegistry,
    *,
    deployment: str,
    metric: str = "accuracy",
    control: str = "champion",
    alpha: float = 0.05,
    mde: float | None = None,
    test: ABTest | None = None,
    promote: bool = False,
    seed: int = 0,
) -> ABReport:
    """Compare the model versions of a deployment on labelled traffic; optionally promote the winner.

    Args:
        labelled: the deployment's labelled, non-shadow predictions with a ``model`` column (``name:version``).
        registry: the model registry (to resolve the control alias and move ``champion``).
        deployment: the deployment's name, for messages and the alias history.
        metric: ``accuracy``, ``error_rate``, ``squared_error``, ``absolute_error``, or for a binary classifier
            that logs scores ``roc_auc`` or ``average_precision`` (bootstrap over requests).
        control: the control: an alias of the served model (``champion``) or ``name:version``.
        alpha: the significance level.
        mde: the minimum detectable effect (absolute); the needed sample size is computed from it.
        test: force ``proportion``, ``mean`` or ``bootstrap`` (default: by the metric; ranking metrics are always
            bootstrapped).
        promote: move ``champion`` to a treatment that wins significantly (forced if protected).
        seed: bootstrap seed.
    """
    if metric not in _HIGHER_IS_BETTER:
        raise ValidationError(f"Unknown A/B metric {metric!r}: use one of {', '.join(_HIGHER_IS_BETTER)}.")
    if labelled.num_rows == 0:
        raise NotFoundError(
            f"Deployment '{deployment}' has no labelled predictions: log labels with "
            f"project.log_labels('{deployment}', df)."
        )
    if metric in RANKING_METRICS:
        labelled = _scored(labelled, deployment, metric)
        table = labelled.append_column("outcome", labelled.column("score"))
    else:
        table = labelled.append_column("outcome", outcomes(labelled, metric))
    models = sorted(pc.unique(table.column("model")).to_pylist())
    control_model = _resolve_control(registry, control, table, deployment, models)
    variants = tuple(_summary(table, model, metric) for model in models)
    if len(models) < 2:
        raise ValidationError(
            f"Deployment '{deployment}' has labelled traffic for one model version only ({models[0]}): an A/B "
            "analysis needs a second variant (add a challenger to the deployment)."
        )
    if metric in RANKING_METRICS:
        control_rows = _scores_and_labels(table, control_model)
        decisions = [
            compare_ranking(
                control_rows,
                _scores_and_labels(table, model),
                metric=metric,
                names=(control_model, model),
                mde=mde,
                alpha=alpha,
                seed=seed,
            )
            for model in models
            if model != control_model
        ]
        report = ABReport(deployment, metric, control_model, variants, tuple(decisions))
        if promote and report.winner is not None:
            _promote(registry, report, report.winner)
            report = replace(report, promoted=report.winner)
        return report
    decisions = analyze_ab(
        table.select(["model", "outcome"]),
        variant="model",
        metric="outcome",
        control=control_model,
        alpha=alpha,
        mde=mde,
        test=test,
        is_higher_better=_HIGHER_IS_BETTER[metric],
        seed=seed,
    )
    decisions = [replace(decision, metric=metric) for decision in decisions]
    report = ABReport(deployment, metric, control_model, variants, tuple(decisions))
    if promote and report.winner is not None:
        _promote(registry, report, report.winner)
        report = replace(report, promoted=report.winner)
    return report


def _summary(table: pa.Table, model: str, metric: str) -> VariantSummary:
    if metric in RANKING_METRICS:
        scores, labels = _scores_and_labels(table, model)
        value = float(ranking_metric(metric, scores, labels)[0]) if labels.size else float("nan")
        return VariantSummary(model, int(labels.size), value)
    rows = table.filter(pc.equal(table.column("model"), model)).column("outcome")
    values = np.asarray(rows.to_numpy(zero_copy_only=False), dtype=np.float64)
    return VariantSummary(model, int(values.size), float(values.mean()) if values.size else float("nan"))


def _scores_and_labels(table: pa.Table, model: str) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rows = table.filter(pc.equal(table.column("model"), model))
    scores = np.asarray(rows.column("score").to_numpy(zero_copy_only=False), dtype=np.float64)
    labels = np.asarray(rows.column("label").to_numpy(zero_copy_only=False), dtype=np.float64)
    return scores, labels


def _scored(labelled: pa.Table, deployment: str, metric: str) -> pa.Table:
    """The labelled predictions that have a positive-class score, with 0/1 labels; an error saying how to log
    scores when none has one."""
    if "score" not in labelled.column_names or labelled.column("score").null_count == labelled.num_rows:
        raise ValidationError(
            f"{metric} needs the positive-class score of each request, and deployment '{deployment}' logged none: "
            "its requests logged class labels only. Deploy with output_kind='both' (or 'proba') so the request "
            "log keeps each request's score, or compare on metric='accuracy'."
        )
    scored = labelled.filter(pc.is_valid(labelled.column("score")))
    labels = pc.unique(scored.column("label")).to_pylist()
    if any(label not in (0.0, 1.0, None) for label in labels):
        raise ValidationError(
            f"{metric} needs 0/1 labels; deployment '{deployment}' has labels {sorted(map(str, labels))[:5]}."
        )
    return scored.filter(pc.is_valid(scored.column("label")))


def _resolve_control(registry: ModelRegistry, control: str, table: pa.Table, deployment: str, models: list[str]) -> str:
    if ":" in control:
        chosen = control
    else:
        names = sorted(pc.unique(table.column("model_name")).to_pylist())
        if len(names) != 1:
            raise ValidationError(
                f"Deployment '{deployment}' serves several models ({', '.join(names)}): name the control as "
                "control='name:version'."
            )
        version = registry.get_model(f"{names[0]}@{control}")
        chosen = f"{version.name}:{version.version}"
    if chosen not in models:
        raise ValidationError(
            f"Control {chosen} ({control}) has no labelled traffic on deployment '{deployment}' "
            f"(variants: {', '.join(models)}). Name a variant with traffic as control=."
        )
    return chosen


def _promote(registry: ModelRegistry, report: ABReport, winner: str) -> None:
    decision = next(item for item in report.decisions if item.treatment == winner)
    name, version = winner.rsplit(":", 1)
    reason = (
        f"A/B on deployment '{report.deployment}': {report.metric} {decision.treatment_value:.4g} ({winner}) vs "
        f"{decision.control_value:.4g} ({report.control}), {decision.test} test p={decision.p_value:.3g} < "
        f"alpha={decision.alpha}, n={decision.samples[1]} vs {decision.samples[0]}"
    )
    try:
        registry.set_alias(name, "champion", int(version), protected=False, force=False, reason=reason)
    except ConflictError:  # a protected champion: the significant win is the evidence to force it
        registry.set_alias(name, "champion", int(version), protected=False, force=True, reason=reason)
