"""The options of the monitoring service's workflows, as typed keyword arguments.

Each is defined once here and used by the service's method and by :class:`fti.Project`'s delegation to it
(``**options: Unpack[MonitorOptions]``), so the two cannot drift apart: an option added here is an option of
``project.monitor`` too, checked by mypy at every call.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from fti.inference_log.window import WindowSpec

if TYPE_CHECKING:
    from fti.monitoring.result import MonitorResult
    from fti.monitoring.stats.ab import ABTest
    from fti.monitoring.stats.drift import DriftConfig
    from fti.monitoring.stats.performance import Task
    from fti.monitoring.stats.quality import QualityConfig

__all__ = [
    "ABOptions",
    "AddToDeployment",
    "AlertOptions",
    "CheckOptions",
    "MonitorOptions",
    "PerformanceOptions",
    "RetrainOptions",
    "RetrainingOptions",
]

AddToDeployment = Callable[[str, str, float], Any]
"""``hook(deployment, challenger_reference, share)``: put ``name:version`` in the deployment's A/B split."""


class CheckOptions(TypedDict, total=False):
    """How a check decides (:meth:`fti.monitoring.MonitoringService.monitor_window`).

    Attributes:
        config: drift methods and thresholds.
        quality: data-quality tolerances.
        over_time: the slice width of drift over time: a duration or a row count (default: a tenth of the window).
    """

    config: DriftConfig | None
    quality: QualityConfig | None
    over_time: str | timedelta | int | None


class MonitorOptions(CheckOptions, total=False):
    """Options of a drift and data-quality check (:meth:`fti.monitoring.MonitoringService.monitor`): which window
    of the log it reads, and how it decides (:class:`CheckOptions`).

    Attributes:
        window: a duration ending at ``end`` (``"1h"``, ``"1d"``, a timedelta) or the last N rows.
        start: the window's start (with ``end``; instead of a duration).
        end: the window's end (default: now for a duration; unbounded otherwise).
    """

    window: WindowSpec
    start: datetime | None
    end: datetime | None


class AlertOptions(MonitorOptions, total=False):
    """Options of an alert check (:meth:`fti.monitoring.MonitoringService.check_alerts`): those of its check
    (:class:`MonitorOptions`), and

    Attributes:
        result: a check already made (default: a new check with the other options).
        bucket: the performance bucket for metric rules (default ``"1h"``).
    """

    result: MonitorResult | None
    bucket: str | timedelta


class PerformanceOptions(TypedDict, total=False):
    """Options of performance over time (:meth:`fti.monitoring.MonitoringService.performance`).

    Attributes:
        bucket: the bucket width (``"1h"``, ``"1d"`` or a timedelta; default ``"1h"``).
        task: ``classification`` or ``regression`` (default: classification when every label is a whole number
            and there are at most 20 classes).
        start: only predictions made at or after this time.
        end: only predictions made before this time.
    """

    bucket: str | timedelta
    task: Task | None
    start: datetime | None
    end: datetime | None


class ABOptions(TypedDict, total=False):
    """Options of an A/B analysis (:meth:`fti.monitoring.MonitoringService.ab_report`).

    Attributes:
        control: the control: an alias of the served model (default ``champion``) or ``name:version``.
        alpha: the significance level (default 0.05).
        mde: the minimum detectable effect (absolute); the needed sample size is computed from it.
        test: force ``proportion``, ``mean`` or ``bootstrap`` (default: by the metric).
        promote: move ``champion`` to a treatment that wins significantly (forced if protected).
        seed: the bootstrap's seed.
    """

    control: str
    alpha: float
    mde: float | None
    test: ABTest | None
    promote: bool
    seed: int


class RetrainingOptions(TypedDict, total=False):
    """Options of a retraining (:meth:`fti.monitoring.MonitoringService.retraining`).

    Attributes:
        share: the challenger's traffic share in the deployment's A/B split (default 0.1).
        add_to_deployment: puts the challenger in the deployment (default: adds it to the deployment's traffic
            split with that share, when the deployment exists).
    """

    share: float
    add_to_deployment: AddToDeployment | None


class RetrainOptions(RetrainingOptions, total=False):
    """Options of a retraining run now (:meth:`fti.monitoring.MonitoringService.retrain`): those of a retraining
    (:class:`RetrainingOptions`), and

    Attributes:
        reason: recorded in the alias history.
    """

    reason: str | None
