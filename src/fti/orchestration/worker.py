"""What runs in a pipeline run's own process: output captured to the run's log, the project opened, the steps
run inside :func:`fti.core.events.producing`, so that everything they write and read is the run's lineage.

The task never raises: a failure is returned as an outcome with its traceback (a pipeline's exceptions need
not be picklable), and the traceback is in the log too.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fti.core.events import Event, producing
from fti.core.pipelines import PipelineRunRecord, PipelineSpec
from fti.orchestration.context import PipelineContext
from fti.orchestration.loading import resolve_step

__all__ = ["PipelineTask", "TaskOutcome", "run_pipeline_task", "warm_up"]

_FORMAT = "%(asctime)s %(levelname)s %(message)s"


@dataclass(frozen=True, slots=True)
class PipelineTask:
    """Everything a worker process needs to run one pipeline run (picklable)."""

    run: PipelineRunRecord
    spec: PipelineSpec
    #: opens the project (``functools.partial(fti.connect, root, overrides=...)``)
    opener: Callable[[], AbstractContextManager[Any]]
    log_path: str
    root: str
    event: Event | None = None


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """How a pipeline run ended in its process."""

    is_success: bool
    error: str | None
    reads: tuple[str, ...]
    #: when the first step started (``time.time()``), for the start-latency benchmark
    started_at: float | None = None


def run_pipeline_task(task: PipelineTask) -> TaskOutcome:
    """Run ``task``'s steps with the output of the process going to its log file; never raises."""
    _capture_output(task.log_path)
    logger = _logger(task.spec.name)
    run = task.run
    reads: list[str] = []
    started: float | None = None
    why = {"schedule": f"for {run.scheduled_for}", "event": f"on {task.event.describe() if task.event else ''}"}
    logger.info(
        "pipeline %s, run %s, attempt %d, %s %s",
        task.spec.name,
        run.id,
        run.attempt,
        run.trigger,
        why.get(run.trigger, ""),
    )
    try:
        steps = [resolve_step(reference, Path(task.root)) for reference in task.spec.steps]
        with task.opener() as project, producing(run.id) as scope:
            reads = scope.reads
            context = PipelineContext(
                project=project,
                pipeline=task.spec.name,
                run_id=run.id,
                attempt=run.attempt,
                trigger=run.trigger,
                logger=logger,
                params={**task.spec.params, **run.params},
                event=task.event,
                scheduled_time=run.scheduled_for,
            )
            started = time.time()
            for step in steps:
                if len(steps) > 1:
                    logger.info("step %s", getattr(step, "__qualname__", step))
                step(context)
    except BaseException:
        text = traceback.format_exc()
        logger.error("failed:\n%s", text.rstrip())
        return TaskOutcome(False, text, tuple(reads), started)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    logger.info("succeeded")
    return TaskOutcome(True, None, tuple(reads), started)


def warm_up(_: object) -> None:
    """A task that does nothing: submitted when a scheduler starts, so that its executor's processes are ready
    (the modules pipelines need imported) before the first run is due."""


def _capture_output(path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    # the descriptors themselves: output of C code and of child processes is captured too
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115


def _logger(name: str) -> logging.Logger:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)  # libraries' warnings reach the log, their chatter does not
    logger = logging.getLogger(f"fti.pipelines.{name}")
    logger.setLevel(logging.INFO)
    return logger
