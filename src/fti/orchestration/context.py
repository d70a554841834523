"""What a pipeline run receives: the project, why it runs (event, scheduled time, params) and a logger."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from fti.core.events import Event

__all__ = ["PipelineContext"]


@dataclass(frozen=True, slots=True)
class PipelineContext:
    """The argument of a pipeline's steps.

    Everything the steps write through ``project`` (feature-group commits, runs, model versions, alias
    moves, deployments, alerts) is recorded as this pipeline run's lineage, and what they read (feature
    groups, model versions) as its inputs.
    """

    #: the open :class:`fti.Project` (typed loosely here so that the project may import this module)
    project: Any
    pipeline: str
    run_id: str
    attempt: int
    trigger: Literal["schedule", "event", "manual"]
    logger: logging.Logger
    params: Mapping[str, str] = field(default_factory=dict)
    #: the catalog event that started the run (trigger ``event``)
    event: Event | None = None
    #: the schedule slot the run is for (trigger ``schedule``)
    scheduled_time: datetime | None = None
