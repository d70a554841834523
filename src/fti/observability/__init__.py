"""Monitoring of deployments over the inference log: the project-level side of :mod:`fti.monitoring`.

:class:`MonitoringService` checks a deployment's logged traffic against its reference (by default the
champion's training dataset, profiled once), records delayed labels, reports performance per model version,
evaluates alert rules, and runs the A/B analysis that can promote a challenger. :func:`retrain` and
:class:`RetrainAction` close the loop from an alert to a new challenger.
"""

from __future__ import annotations

from fti.observability.ab_testing import ABReport, VariantSummary
from fti.observability.alert_config import AlertConfig, load_alerts, parse_alerts
from fti.observability.result import MonitorResult
from fti.observability.retraining import RetrainAction, retrain
from fti.observability.service import MonitoringService

__all__ = [
    "ABReport",
    "AlertConfig",
    "MonitorResult",
    "MonitoringService",
    "RetrainAction",
    "VariantSummary",
    "load_alerts",
    "parse_alerts",
    "retrain",
]
