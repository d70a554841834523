"""Monitoring: drift, data quality, performance over time, A/B analysis, alerts and reports.

Pure functions and small classes over Arrow tables, pandas and numpy; the closed loop (the request log,
deployments, retraining) calls them. One module per concern:

- :mod:`~fti.monitoring.reference`: the reference profile built once from training data
- :mod:`~fti.monitoring.drift`: per-feature and dataset drift against the profile
- :mod:`~fti.monitoring.windows`: drift over time, window by window
- :mod:`~fti.monitoring.quality`: data quality of live inputs against the profile
- :mod:`~fti.monitoring.performance`: model metrics over time per model version
- :mod:`~fti.monitoring.ab`: A/B analysis with significance tests and sample sizes
- :mod:`~fti.monitoring.alerts`: alert rules and their actions
- :mod:`~fti.monitoring.html_report`: the self-contained HTML report
"""

from __future__ import annotations

from fti.monitoring.ab import ABDecision, analyze_ab, compare_variants
from fti.monitoring.alerts import (
    Alert,
    CallableAction,
    DriftShareRule,
    FeatureDriftRule,
    LogAction,
    MetricBelowRule,
    QualityRule,
    ShellAction,
    WebhookAction,
    evaluate_rules,
    notify,
)
from fti.monitoring.drift import DriftConfig, DriftReport, FeatureDrift, FeatureDriftConfig, detect_drift
from fti.monitoring.html_report import render_html, report_to_dict
from fti.monitoring.performance import PerformancePoint, performance_over_time
from fti.monitoring.quality import QualityConfig, QualityFinding, QualityReport, check_quality
from fti.monitoring.reference import ReferenceProfile, build_reference
from fti.monitoring.windows import detect_drift_and_windows, drift_over_time, split_windows

__all__ = [
    "ABDecision",
    "Alert",
    "CallableAction",
    "DriftConfig",
    "DriftReport",
    "DriftShareRule",
    "FeatureDrift",
    "FeatureDriftConfig",
    "FeatureDriftRule",
    "LogAction",
    "MetricBelowRule",
    "PerformancePoint",
    "QualityConfig",
    "QualityFinding",
    "QualityReport",
    "QualityRule",
    "ReferenceProfile",
    "ShellAction",
    "WebhookAction",
    "analyze_ab",
    "build_reference",
    "check_quality",
    "compare_variants",
    "detect_drift",
    "detect_drift_and_windows",
    "drift_over_time",
    "evaluate_rules",
    "notify",
    "performance_over_time",
    "render_html",
    "report_to_dict",
    "split_windows",
]
