"""Pipelines the tests with real scheduler processes run: each writes a line per run to marks/<pipeline>.jsonl."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import fti


def mark(ctx: fti.PipelineContext, **extra: Any) -> None:
    """Append what this run saw to marks/<pipeline>.jsonl (one write: lines of concurrent runs never mix)."""
    folder = Path(ctx.project.root) / "marks"
    folder.mkdir(exist_ok=True)
    record = {
        "pipeline": ctx.pipeline,
        "run_id": ctx.run_id,
        "attempt": ctx.attempt,
        "trigger": ctx.trigger,
        "event": None if ctx.event is None else ctx.event.id,
        "scheduled": None if ctx.scheduled_time is None else ctx.scheduled_time.isoformat(),
        "params": dict(ctx.params),
        "pid": os.getpid(),
        **extra,
    }
    descriptor = os.open(folder / f"{ctx.pipeline}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.write(descriptor, (json.dumps(record) + "\n").encode())
    os.close(descriptor)


@fti.pipeline(params={"seconds": "30"})
def slow_once(ctx: fti.PipelineContext) -> None:
    """Sleeps on its first attempt only (the SIGKILL test kills its scheduler meanwhile)."""
    mark(ctx)
    if ctx.attempt == 1:
        time.sleep(float(ctx.params["seconds"]))


@fti.pipeline(schedule="* * * * * *", catchup="all", concurrency=4)
def every_second(ctx: fti.PipelineContext) -> None:
    mark(ctx)


@fti.pipeline(triggers=[fti.on_commit("ticks")], concurrency=4)
def on_tick(ctx: fti.PipelineContext) -> None:
    mark(ctx)
