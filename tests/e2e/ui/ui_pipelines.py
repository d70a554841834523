"""Pipelines of the dashboard's pipeline pages test."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

import fti


@fti.pipeline(schedule="0 6 * * *", timezone="Europe/Paris", triggers=[fti.on_commit("raw")], retries=1)
def daily_features(ctx: fti.PipelineContext) -> None:
    """Doubles the raw values every morning and on each new raw commit."""
    raw = ctx.project.get_feature_group("raw").read()
    names = {group.name for group in ctx.project.feature_groups()}
    doubled = (
        ctx.project.get_feature_group("doubled")
        if "doubled" in names
        else ctx.project.create_feature_group("doubled", primary_key=["id"], event_time="ts")
    )
    doubled.insert(raw.assign(x=raw["x"] * 2, ts=datetime(2026, 1, 2, tzinfo=UTC)))
    ctx.logger.info("doubled %d rows", len(raw))


@fti.pipeline(params={"reason": "testing"})
def broken(ctx: fti.PipelineContext) -> None:
    """Always fails."""
    print("about to fail:", ctx.params["reason"])
    raise RuntimeError(f"broken on purpose ({ctx.params['reason']})")


def populate(project: fti.Project) -> None:
    """A raw commit, a run of each pipeline."""
    raw = project.create_feature_group("raw", primary_key=["id"], event_time="ts")
    raw.insert(pd.DataFrame({"id": [1, 2, 3], "ts": [datetime(2026, 1, 1, tzinfo=UTC)] * 3, "x": [1.0, 2.0, 3.0]}))
    project.run_pipeline("daily_features")
    project.run_pipeline("broken", {"reason": "a demo"})
