"""What the dashboard shows of monitoring: per deployment, a drift report over a bounded window of its logged
traffic, data-quality findings, alert rules and the stored reports with their alerts.

A check reads at most :data:`MAX_CHECK_ROWS` logged rows (the latest of the window) and is kept for
:data:`CHECK_TTL_SECONDS`, so a page over a big inference log costs one bounded check every few minutes, not
one per view (an older check is shown while a new one runs in the background). Alert rules are evaluated
against that check; their actions are never run from the dashboard.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from fti.errors import NotFoundError, ValidationError
from fti.monitoring.alerts import MetricBelowRule, evaluate_rules, rule_to_dict
from fti.monitoring.report import restore
from fti.monitoring.rules_file import parse_alerts, read_alerts_file
from fti.monitoring.stats.drift import DriftConfig, FeatureDriftConfig
from fti.monitoring.stats.feature_drift import DriftMethod
from fti.ui.deployments import AB_METRICS, DEFAULT_WINDOW, REFRESH_SECONDS, finite, time_window

if TYPE_CHECKING:
    from fti.monitoring import MonitorResult
    from fti.monitoring.alerts import AlertRule
    from fti.project import Project
    from fti.ui.deployments import TimeWindow

__all__ = [
    "CHECK_TTL_SECONDS",
    "MAX_CHECK_ROWS",
    "CheckCache",
    "StoredCheck",
    "deployment_rules",
    "drift_report",
    "latest_drift",
    "load_rules",
    "monitoring_overview",
    "report_kind",
    "stamp_label",
    "stored_report",
]

_logger = logging.getLogger(__name__)

MAX_CHECK_ROWS = 5_000
CHECK_TTL_SECONDS = 300.0
_REPORTS = "monitoring/reports"
_RECENT_REPORTS = 20


def load_rules(path: str | Path) -> tuple[AlertRule, ...]:
    """The alert rules of a rules file (the ``rules`` list of ``fti monitor check --rules``); actions are ignored."""
    file = Path(path)
    data = read_alerts_file(file, hint="Check the path given to --alerts.")
    if not isinstance(data, dict):
        raise ValidationError(f"Alert rules file '{file}' must be a mapping with a 'rules' list.")
    return parse_alerts({"rules": data.get("rules")}, source=f"Alert rules file '{file}'").rules


@dataclass(frozen=True, slots=True)
class StoredCheck:
    """A check as the dashboard keeps it: the result, the window it covered, and when it was made."""

    result: MonitorResult
    #: the stored report whose drift rules the check used (None: the methods' defaults)
    rules_from: str | None
    window: TimeWindow
    is_row_bounded: bool
    checked_at: datetime
    taken_at: float
    alerts: list[dict[str, Any]]


class CheckCache:
    """Monitoring checks per (deployment, window), each kept ``ttl_seconds``; one check at a time per key.

    A check reads the latest ``max_rows`` non-shadow rows of the window at most.
    """

    def __init__(
        self, rules: Sequence[AlertRule] = (), ttl_seconds: float = CHECK_TTL_SECONDS, max_rows: int = MAX_CHECK_ROWS
    ) -> None:
        self.rules = tuple(rules)
        self.ttl_seconds = ttl_seconds
        self.max_rows = max_rows
        self._checks: dict[tuple[str, str], StoredCheck] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, project: Project, deployment: str, window: str, *, refresh: bool = False) -> tuple[StoredCheck, bool]:
        """The check of ``deployment`` over ``window``, and whether it came from the cache.

        A check older than ``ttl_seconds`` is still returned while a new one runs in the background, so only the
        first view of a (deployment, window) and ``refresh`` wait for a check.
        """
        key = (deployment, window)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
            found = self._checks.get(key)
        if found is not None and not refresh:
            if time.monotonic() - found.taken_at >= self.ttl_seconds and lock.acquire(blocking=False):
                threading.Thread(
                    target=self._renew, args=(project, deployment, window, lock), name="fti-ui-check", daemon=True
                ).start()
            return found, True
        with lock:
            if refresh:
                project.inference_log.recheck()
            made = self._check(project, deployment, window)
            with self._guard:
                self._checks[key] = made
            return made, False

    def _renew(self, project: Project, deployment: str, window: str, lock: threading.Lock) -> None:
        try:
            made = self._check(project, deployment, window)
            with self._guard:
                self._checks[(deployment, window)] = made
        except Exception:  # the page keeps showing the previous check, which says when it was made
            _logger.exception("Re-checking deployment '%s' over %s for the dashboard failed.", deployment, window)
        finally:
            lock.release()

    def _check(self, project: Project, deployment: str, window: str) -> StoredCheck:
        project.get_deployment(deployment)
        log = project.inference_log
        chosen = time_window(window, log.spans(max_age=REFRESH_SECONDS).get(deployment))
        # the latest rows of the window, from the files the log keeps in memory (only the features are read again)
        current = log.read_window(
            deployment, self.max_rows, start=chosen.start, end=chosen.end, max_age=REFRESH_SECONDS
        )
        config, rules_from = deployment_rules(project, deployment)
        result = project.monitoring.monitor_window(current, config=config)
        start = current.start or chosen.start
        return StoredCheck(
            result=result,
            rules_from=rules_from,
            window=chosen,
            is_row_bounded=current.rows >= self.max_rows,
            checked_at=datetime.now(UTC),
            taken_at=time.monotonic(),
            alerts=self._alerts(project, result, start, chosen),
        )

    def _alerts(
        self, project: Project, result: MonitorResult, start: datetime, window: TimeWindow
    ) -> list[dict[str, Any]]:
        needs_metrics = any(isinstance(rule, MetricBelowRule) for rule in self.rules)
        points = (
            project.monitoring.performance(result.deployment, bucket=window.bucket, start=start, end=window.end)
            if needs_metrics
            else None
        )
        states = []
        for rule in self.rules:
            fired = evaluate_rules([rule], drift=result.drift, quality=result.quality, performance=points)
            states.append({"rule": rule_to_dict(rule), "fired": [alert.to_dict() for alert in fired]})
        return states


def monitoring_overview(project: Project) -> dict[str, Any]:
    """Every deployment with what it logged and its stored monitoring reports (no check is run)."""
    spans = project.inference_log.spans(max_age=REFRESH_SECONDS)
    reports = _stored_reports(project, None)
    items = []
    for deployment in project.deployments():
        span = spans.get(deployment.name)
        own = [report for report in reports if report["deployment"] == deployment.name]
        items.append(
            {
                "name": deployment.name,
                "logged_rows": 0 if span is None else span.rows,
                "last_request": None if span is None else span.last.isoformat(timespec="seconds"),
                "stored_reports": len(own),
                "last_report": own[0]["stamp"] if own else None,
            }
        )
    return {"total": len(items), "items": items}


def drift_report(
    project: Project, cache: CheckCache, deployment: str, window: str = DEFAULT_WINDOW, *, refresh: bool = False
) -> dict[str, Any]:
    """The drift report of a deployment: drift per feature (score, method, reference vs current distribution),
    drift over time, data-quality findings, alert rules, and the stored reports with their alerts."""
    check, is_cached = cache.get(project, deployment, window, refresh=refresh)
    content = check.result.to_dict()
    return finite(
        {
            "deployment": deployment,
            "model": content["model"],
            "reference": content["reference"],
            "window": check.window.to_dict()
            | {
                "checked": content["window"],
                "max_rows": cache.max_rows,
                "is_row_bounded": check.is_row_bounded,
            },
            "checked_at": check.checked_at.isoformat(timespec="seconds"),
            "rules_from": check.rules_from,
            "is_cached": is_cached,
            "cache_seconds": cache.ttl_seconds,
            "drift": content["drift"],
            "over_time": content["over_time"],
            "quality": content["quality"],
            "alert_rules": check.alerts,
            "stored_reports": _stored_reports(project, deployment),
        }
    )


def _stored_reports(project: Project, deployment: str | None) -> list[dict[str, Any]]:
    """Reports saved by ``result.save()`` / ``fti monitor report --save``, newest first."""
    found = _stored_reports_all(project, deployment)
    return found[:_RECENT_REPORTS] if deployment is not None else found


def _stored_reports_all(project: Project, deployment: str | None) -> list[dict[str, Any]]:
    records = project.artifacts.list(f"{_REPORTS}/")
    found = []
    for record in records:
        parts = record.key.split("/")
        if len(parts) != 5 or parts[-1] != "report.json":
            continue
        if deployment is not None and parts[2] != deployment:
            continue
        found.append({"deployment": parts[2], "stamp": parts[3], "created_at": record.created_at.isoformat()})
    found.sort(key=lambda item: item["stamp"], reverse=True)
    return found


def stored_report(project: Project, deployment: str, stamp: str) -> dict[str, Any]:
    """A stored report (its JSON as saved), with the alerts it recorded."""
    if "/" in stamp or "/" in deployment:
        raise ValidationError(f"Report {stamp!r} of deployment {deployment!r}: names hold no '/'.")
    key = f"{_REPORTS}/{deployment}/{stamp}/report.json"
    if not project.artifacts.exists(key):
        raise NotFoundError(
            f"Deployment '{deployment}' has no stored report {stamp!r}: see /monitoring/{deployment} for its reports."
        )
    content = restore(project.artifacts.get_json(key))
    return finite(content | {"stamp": stamp, "kind": report_kind(content)})


def report_kind(content: dict[str, Any]) -> str:
    """``ab`` for a stored A/B report (``ABReport.to_dict()``: variants and decisions), else ``drift`` (a
    monitoring result): the two are stored side by side and drawn with different templates."""
    return "ab" if "decisions" in content and "drift" not in content else "drift"


def stamp_label(stamp: str) -> str:
    """A stored report's stamp as a person reads it: the time it was checked (``2026-01-06 00:00:00 UTC``) for a
    stamp a check gave (``20260106T000000000000Z``), else the name it was saved under."""
    try:
        checked = datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ")
    except ValueError:
        return stamp
    return f"{checked:%Y-%m-%d %H:%M:%S} UTC"


def latest_drift(project: Project, deployment: str) -> dict[str, Any] | None:
    """The newest stored drift report of ``deployment`` (by when it was stored; A/B reports skipped) in short:
    its stamp, whether the data drifted, the drifted features and the alerts it fired; None if there is none."""
    found = _latest_drift_report(project, deployment)
    if found is None:
        return None
    stamp, content = found
    drift = content.get("drift") or {}
    return {
        "stamp": stamp,
        "generated_at": content.get("generated_at"),
        "dataset_drift": bool(drift.get("dataset_drift")),
        "share_drifted": drift.get("share_drifted"),
        "drifted_features": list(drift.get("drifted_features") or []),
        "alerts": [alert.get("message", alert.get("rule")) for alert in content.get("alerts") or []],
    }


def deployment_rules(project: Project, deployment: str) -> tuple[DriftConfig | None, str | None]:
    """The drift rules ``deployment`` is checked with: each feature's method and threshold and the drift share of
    its newest stored drift report (what ``fti monitor report --save`` or a monitoring pipeline was configured
    with), and that report's stamp; ``(None, None)`` (the methods' defaults) when it has none. The live page
    then decides drift as the stored reports do."""
    found = _latest_drift_report(project, deployment)
    if found is None:
        return None, None
    stamp, content = found
    drift = content.get("drift") or {}
    decided = dict(drift.get("features") or {})
    if isinstance(drift.get("prediction"), dict):
        decided["prediction"] = drift["prediction"]
    features = {
        name: FeatureDriftConfig(method=item.get("method"), threshold=item.get("threshold"))
        for name, item in decided.items()
        if isinstance(item, dict) and item.get("method") in _METHODS
    }
    share = drift.get("drift_share")
    config = DriftConfig(features=features, drift_share=float(share) if isinstance(share, int | float) else 0.5)
    return config, stamp


_METHODS = set(get_args(DriftMethod))


def ab_metric(project: Project, deployment: str) -> str:
    """The metric the newest stored A/B report of ``deployment`` decided on (what its A/B pipeline compares, such as
    the demo's average precision), else ``accuracy``: the dashboard's A/B analysis starts from it."""
    stored = sorted(_stored_reports_all(project, deployment), key=lambda item: item["created_at"], reverse=True)
    for item in stored:
        content = stored_report(project, deployment, item["stamp"])
        if content["kind"] == "ab":
            metric = content.get("metric")
            return metric if isinstance(metric, str) and metric in AB_METRICS else "accuracy"
    return "accuracy"


def _latest_drift_report(project: Project, deployment: str) -> tuple[str, dict[str, Any]] | None:
    stored = sorted(_stored_reports_all(project, deployment), key=lambda item: item["created_at"], reverse=True)
    for item in stored:
        content = stored_report(project, deployment, item["stamp"])
        if content["kind"] == "drift":
            return item["stamp"], content
    return None
