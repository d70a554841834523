"""Monitoring of deployments: drift, data quality, performance, A/B analysis, alerts, retraining and reports.

:class:`MonitoringService` (``project.monitoring``) checks a deployment's logged traffic (read through the
inference log, :mod:`fti.inference_log`) against a reference (by default its champion's training dataset,
profiled once), records delayed labels, reports performance per model version, evaluates alert rules and
runs their actions, and closes the loop: a deployment's references are profiled when it is deployed, an alert
can retrain a challenger into the deployment, and an A/B analysis can promote it. The statistics it computes
are pure functions over Arrow and numpy in :mod:`fti.monitoring.stats` (no storage). One module per concern:

- :mod:`~fti.monitoring.service`: the service
- :mod:`~fti.monitoring.result`: the outcome of one check, savable as artifacts
- :mod:`~fti.monitoring.references`: the reference a deployment is checked against, profiled once
- :mod:`~fti.monitoring.alerts`: alert rules and the alerts they fire
- :mod:`~fti.monitoring.actions`: what a fired alert does (log, webhook, shell, a callable)
- :mod:`~fti.monitoring.rules_file`: rules and actions read from YAML
- :mod:`~fti.monitoring.retraining`: an alert retrains a challenger into the deployment
- :mod:`~fti.monitoring.promotion`: the A/B analysis of a deployment, which can promote the winner
- :mod:`~fti.monitoring.report`: the report's content, drawn by one template for the stored page and the dashboard

The names below are imported on first use, so that ``fti.monitoring.stats`` imports without the service.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fti.monitoring.actions import (
        AlertAction,
        CallableAction,
        LogAction,
        ShellAction,
        WebhookAction,
        notify,
    )
    from fti.monitoring.alerts import (
        Alert,
        AlertRule,
        DriftShareRule,
        FeatureDriftRule,
        MetricBelowRule,
        QualityRule,
        evaluate_rules,
    )
    from fti.monitoring.promotion import ABReport, VariantSummary
    from fti.monitoring.report import render_html, report_to_dict
    from fti.monitoring.result import MonitorResult
    from fti.monitoring.retraining import RetrainAction, retrain
    from fti.monitoring.rules_file import AlertConfig, load_alerts, parse_alerts
    from fti.monitoring.service import MonitoringService
    from fti.monitoring.stats.drift import DriftConfig, FeatureDriftConfig
    from fti.monitoring.stats.quality import QualityConfig

_EXPORTS = {
    "ABReport": "promotion",
    "Alert": "alerts",
    "AlertAction": "actions",
    "AlertConfig": "rules_file",
    "AlertRule": "alerts",
    "CallableAction": "actions",
    "DriftConfig": "stats.drift",
    "DriftShareRule": "alerts",
    "FeatureDriftConfig": "stats.drift",
    "FeatureDriftRule": "alerts",
    "LogAction": "actions",
    "MetricBelowRule": "alerts",
    "MonitorResult": "result",
    "MonitoringService": "service",
    "QualityConfig": "stats.quality",
    "QualityRule": "alerts",
    "RetrainAction": "retraining",
    "ShellAction": "actions",
    "VariantSummary": "promotion",
    "WebhookAction": "actions",
    "evaluate_rules": "alerts",
    "load_alerts": "rules_file",
    "notify": "actions",
    "parse_alerts": "rules_file",
    "render_html": "report",
    "report_to_dict": "report",
    "retrain": "retraining",
}

__all__ = [
    "ABReport",
    "Alert",
    "AlertAction",
    "AlertConfig",
    "AlertRule",
    "CallableAction",
    "DriftConfig",
    "DriftShareRule",
    "FeatureDriftConfig",
    "FeatureDriftRule",
    "LogAction",
    "MetricBelowRule",
    "MonitorResult",
    "MonitoringService",
    "QualityConfig",
    "QualityRule",
    "RetrainAction",
    "ShellAction",
    "VariantSummary",
    "WebhookAction",
    "evaluate_rules",
    "load_alerts",
    "notify",
    "parse_alerts",
    "render_html",
    "report_to_dict",
    "retrain",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"fti.monitoring.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'fti.monitoring' has no attribute '{name}'")
