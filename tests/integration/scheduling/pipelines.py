"""Pipelines the scheduler tests run: each writes a line per run to marks/<pipeline>.jsonl in its project."""

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


@fti.pipeline(schedule="0 * * * *", catchup="none")
def hourly_none(ctx: fti.PipelineContext) -> None:
    mark(ctx)


@fti.pipeline(schedule="0 * * * *", catchup="latest")
def hourly_latest(ctx: fti.PipelineContext) -> None:
    mark(ctx)


@fti.pipeline(schedule="0 * * * *", catchup="all")
def hourly_all(ctx: fti.PipelineContext) -> None:
    mark(ctx)


@fti.pipeline(schedule="30 9 * * *", timezone="Europe/Paris", catchup="all")
def paris_morning(ctx: fti.PipelineContext) -> None:
    mark(ctx)


@fti.pipeline(triggers=[fti.on_commit("raw")])
def on_raw(ctx: fti.PipelineContext) -> None:
    ctx.project.get_feature_group("raw").read()
    mark(ctx)


@fti.pipeline(triggers=[fti.on_model_version("model")])
def on_version(ctx: fti.PipelineContext) -> None:
    mark(ctx)


@fti.pipeline(triggers=["alias:model/champion"])
def on_champion(ctx: fti.PipelineContext) -> None:
    mark(ctx)


@fti.pipeline(triggers=[fti.on_alert("fraud", "drift")])
def on_drift(ctx: fti.PipelineContext) -> None:
    mark(ctx)


@fti.pipeline(triggers=[fti.on_pipeline_run("on_raw")])
def after_raw(ctx: fti.PipelineContext) -> None:
    mark(ctx)


@fti.pipeline(triggers=[fti.on_pipeline_run("always_fails", "failed")])
def after_failure(ctx: fti.PipelineContext) -> None:
    mark(ctx)


@fti.pipeline(retries=2, retry_delay="10s", params={"fail_until": "2"})
def flaky(ctx: fti.PipelineContext) -> None:
    mark(ctx)
    print(f"attempt {ctx.attempt}")
    if ctx.attempt < int(ctx.params["fail_until"]):
        raise RuntimeError(f"flaky failed on attempt {ctx.attempt}")


@fti.pipeline
def always_fails(ctx: fti.PipelineContext) -> None:
    mark(ctx)
    raise ValueError("always_fails is broken")


@fti.pipeline(timeout="5s")
def sleeper(ctx: fti.PipelineContext) -> None:
    mark(ctx)
    time.sleep(600)
