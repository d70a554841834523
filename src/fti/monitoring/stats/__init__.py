"""The statistics of monitoring: pure functions and small classes over Arrow tables, pandas and numpy.

Nothing here reads or writes storage (an import contract keeps it so); the monitoring service
(:mod:`fti.monitoring`) reads the inference log and calls these. One module per concern:

- :mod:`~fti.monitoring.stats.reference`: the reference profile built once from training data
- :mod:`~fti.monitoring.stats.drift`: per-feature and dataset drift against the profile
- :mod:`~fti.monitoring.stats.feature_drift`: one column's drift: the methods, tests or distances, and scoring
- :mod:`~fti.monitoring.stats.windows`: drift over time, window by window
- :mod:`~fti.monitoring.stats.quality`: data quality of live inputs against the profile
- :mod:`~fti.monitoring.stats.metrics`: classification and regression metrics (training evaluates with them too)
- :mod:`~fti.monitoring.stats.performance`: model metrics over time per model version
- :mod:`~fti.monitoring.stats.ab`: A/B analysis with significance tests and sample sizes
- :mod:`~fti.monitoring.stats.columns`, :mod:`~fti.monitoring.stats.codes`,
  :mod:`~fti.monitoring.stats.divergence`, :mod:`~fti.monitoring.stats.distributions`: what those are built on
"""

from __future__ import annotations

from fti.monitoring.stats.ab import ABDecision, analyze_ab, compare_variants
from fti.monitoring.stats.drift import DriftConfig, DriftReport, FeatureDriftConfig, detect_drift
from fti.monitoring.stats.feature_drift import FeatureDrift
from fti.monitoring.stats.performance import PerformancePoint, performance_over_time
from fti.monitoring.stats.quality import QualityConfig, QualityFinding, QualityReport, check_quality
from fti.monitoring.stats.reference import ReferenceProfile, build_reference
from fti.monitoring.stats.windows import detect_drift_and_windows, drift_over_time, split_windows

__all__ = [
    "ABDecision",
    "DriftConfig",
    "DriftReport",
    "FeatureDrift",
    "FeatureDriftConfig",
    "PerformancePoint",
    "QualityConfig",
    "QualityFinding",
    "QualityReport",
    "ReferenceProfile",
    "analyze_ab",
    "build_reference",
    "check_quality",
    "compare_variants",
    "detect_drift",
    "detect_drift_and_windows",
    "drift_over_time",
    "performance_over_time",
    "split_windows",
]
