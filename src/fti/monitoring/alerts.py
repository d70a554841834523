"""Alert rules (plain data) evaluated against monitoring reports, and the alerts they fire.

Rules: the share of drifted features, one feature's drift score, a metric below a bound, and the number of
data-quality findings. What a fired alert does is an action (:mod:`fti.monitoring.actions`); rules and actions
are read from YAML by :mod:`fti.monitoring.rules_file`.

Example:
    >>> rules = [DriftShareRule(0.5), MetricBelowRule("f1", 0.8)]  # doctest: +SKIP
    >>> fired = evaluate_rules(rules, drift=report, performance=points)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from fti.errors import ValidationError

if TYPE_CHECKING:
    from fti.monitoring.stats.drift import DriftReport
    from fti.monitoring.stats.performance import PerformancePoint
    from fti.monitoring.stats.quality import FindingKind, QualityReport

__all__ = [
    "Alert",
    "AlertRule",
    "DriftShareRule",
    "FeatureDriftRule",
    "MetricBelowRule",
    "QualityRule",
    "evaluate_rules",
    "rule_from_dict",
    "rule_to_dict",
]

Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True, slots=True)
class Alert:
    """A fired rule: what crossed which threshold, with the value seen and a readable message."""

    rule: str
    subject: str
    value: float
    threshold: float
    severity: Severity
    message: str
    fired_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the payload of webhooks and shell commands)."""
        return {
            "rule": self.rule,
            "subject": self.subject,
            "value": self.value,
            "threshold": self.threshold,
            "severity": self.severity,
            "message": self.message,
            "fired_at": self.fired_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class DriftShareRule:
    """Fires when the share of drifted features is at least ``threshold``."""

    threshold: float
    severity: Severity = "warning"
    type: Literal["drift_share"] = field(default="drift_share", init=False)


@dataclass(frozen=True, slots=True)
class FeatureDriftRule:
    """Fires on one feature's drift (``feature`` may be the prediction column).

    With a ``threshold``, it fires when the feature's distance score is at least the threshold, or (for the
    KS and chi-square tests, whose score is a p-value) when the p-value is at most it. Without one, it
    fires when the feature drifted by its own configured threshold.
    """

    feature: str
    threshold: float | None = None
    severity: Severity = "warning"
    type: Literal["feature_drift"] = field(default="feature_drift", init=False)


@dataclass(frozen=True, slots=True)
class MetricBelowRule:
    """Fires when a model metric is below ``bound``: for each version, its latest time bucket is checked."""

    metric: str
    bound: float
    version: str | None = None
    severity: Severity = "critical"
    type: Literal["metric_below"] = field(default="metric_below", init=False)


@dataclass(frozen=True, slots=True)
class QualityRule:
    """Fires when the data-quality findings (of one ``kind``, or all) number at least ``min_count``."""

    min_count: int = 1
    kind: FindingKind | None = None
    severity: Severity = "warning"
    type: Literal["quality"] = field(default="quality", init=False)


AlertRule = DriftShareRule | FeatureDriftRule | MetricBelowRule | QualityRule

_RULES: Mapping[str, type[AlertRule]] = {
    "drift_share": DriftShareRule,
    "feature_drift": FeatureDriftRule,
    "metric_below": MetricBelowRule,
    "quality": QualityRule,
}


def rule_to_dict(rule: AlertRule) -> dict[str, Any]:
    """A rule as plain data (``type`` names its kind); :func:`rule_from_dict` reads it back."""
    return asdict(rule)


def rule_from_dict(data: Mapping[str, Any]) -> AlertRule:
    """Read a rule written as plain data, e.g. ``{"type": "drift_share", "threshold": 0.5}`` from YAML."""
    options = dict(data)
    kind = options.pop("type", None)
    if kind not in _RULES:
        raise ValidationError(f"Alert rule type {kind!r} is unknown. Use one of: {', '.join(_RULES)}.")
    try:
        return _RULES[kind](**options)
    except TypeError as exc:
        raise ValidationError(f"Alert rule {dict(data)!r} has bad fields: {exc}. See {_RULES[kind].__name__}.") from exc


def evaluate_rules(
    rules: Iterable[AlertRule],
    *,
    drift: DriftReport | None = None,
    quality: QualityReport | None = None,
    performance: Sequence[PerformancePoint] | Mapping[str, float] | None = None,
    now: datetime | None = None,
) -> list[Alert]:
    """Evaluate the rules against the reports at hand; a rule whose report is not given does not fire.

    Args:
        rules: the rules.
        drift: a drift report, for drift rules.
        quality: a data-quality report, for quality rules.
        performance: performance points over time, or the latest metrics as a mapping, for metric rules.
        now: the time stamped on the alerts (default: now, UTC).

    Returns:
        The fired alerts, in rule order.
    """
    moment = now or datetime.now(UTC)
    fired: list[Alert] = []
    for rule in rules:
        if isinstance(rule, DriftShareRule):
            fired.extend(_drift_share(rule, drift, moment))
        elif isinstance(rule, FeatureDriftRule):
            fired.extend(_feature_drift(rule, drift, moment))
        elif isinstance(rule, MetricBelowRule):
            fired.extend(_metric_below(rule, performance, moment))
        else:
            fired.extend(_quality(rule, quality, moment))
    return fired


def _drift_share(rule: DriftShareRule, drift: DriftReport | None, moment: datetime) -> list[Alert]:
    if drift is None or drift.share_drifted < rule.threshold:
        return []
    names = ", ".join(drift.drifted_features)
    message = f"{drift.share_drifted:.0%} of features drifted (alert at {rule.threshold:.0%}): {names}."
    return [Alert("drift_share", "dataset", drift.share_drifted, rule.threshold, rule.severity, message, moment)]


def _feature_drift(rule: FeatureDriftRule, drift: DriftReport | None, moment: datetime) -> list[Alert]:
    if drift is None:
        return []
    result = drift.features.get(rule.feature)
    if result is None and drift.prediction is not None and drift.prediction.column == rule.feature:
        result = drift.prediction
    if result is None:
        return []
    threshold = result.threshold if rule.threshold is None else rule.threshold
    if rule.threshold is None:
        fires = result.drifted
    else:
        fires = result.score <= threshold if result.is_test else result.score >= threshold
    if not fires:
        return []
    measure = "p-value" if result.is_test else "score"
    message = (
        f"Feature '{rule.feature}' drifted: {result.method} {measure} {result.score:.4g} (alert at {threshold:.4g})."
    )
    return [Alert("feature_drift", rule.feature, result.score, threshold, rule.severity, message, moment)]


def _metric_below(
    rule: MetricBelowRule, performance: Sequence[PerformancePoint] | Mapping[str, float] | None, moment: datetime
) -> list[Alert]:
    if performance is None:
        return []
    if isinstance(performance, Mapping):
        latest = {rule.version or "": performance}
    else:
        latest = {}
        for point in sorted(performance, key=lambda item: item.start):
            if rule.version is None or point.version == rule.version:
                latest[point.version] = point.metrics
    alerts = []
    for version, metrics in latest.items():
        value = metrics.get(rule.metric)
        if value is None or not value < rule.bound:  # NaN never fires
            continue
        of = f" of model version {version}" if version else ""
        message = f"Metric '{rule.metric}'{of} is {value:.4g}, below {rule.bound:.4g}."
        subject = f"{rule.metric}@{version}" if version else rule.metric
        alerts.append(Alert("metric_below", subject, value, rule.bound, rule.severity, message, moment))
    return alerts


def _quality(rule: QualityRule, quality: QualityReport | None, moment: datetime) -> list[Alert]:
    if quality is None:
        return []
    count = quality.count(rule.kind)
    if count < rule.min_count:
        return []
    what = f"'{rule.kind}' findings" if rule.kind else "data-quality findings"
    details = "; ".join(f.message for f in quality.findings if rule.kind is None or f.kind == rule.kind)
    message = f"{count} {what} (alert at {rule.min_count}): {details}"
    return [
        Alert(
            "quality", rule.kind or "data_quality", float(count), float(rule.min_count), rule.severity, message, moment
        )
    ]
