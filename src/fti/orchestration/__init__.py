"""Pipelines, schedules, event triggers, the scheduler and the run history.

Example:
    >>> @fti.pipeline(schedule="0 * * * *", triggers=[fti.on_commit("transactions")])  # doctest: +SKIP
    ... def features(ctx):
    ...     ctx.logger.info("started by %s", ctx.event)
"""

from __future__ import annotations

from fti.orchestration.context import PipelineContext
from fti.orchestration.definitions import Pipeline, pipeline
from fti.orchestration.scheduler import Scheduler, SchedulerSettings
from fti.orchestration.service import OrchestrationService, RunLineage
from fti.orchestration.triggers import on_alert, on_alias, on_commit, on_model_version, on_pipeline_run, parse_trigger

__all__ = [
    "OrchestrationService",
    "Pipeline",
    "PipelineContext",
    "RunLineage",
    "Scheduler",
    "SchedulerSettings",
    "on_alert",
    "on_alias",
    "on_commit",
    "on_model_version",
    "on_pipeline_run",
    "parse_trigger",
    "pipeline",
]
