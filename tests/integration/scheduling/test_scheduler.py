"""The scheduler on SQLite and on a real PostgreSQL catalog, with a clock the tests move: schedules and their
catch-up policies, every event type starting its pipeline once, retries with backoff, timeouts that stop the
process, manual runs, logs and lineage."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from fti.core.events import alert_event
from fti.core.pipelines import RunState
from fti.errors import ValidationError
from tests.integration.scheduling.conftest import Scheduled, marks, wait_for

pytestmark = pytest.mark.integration


def _slots(scheduled: Scheduled, pipeline: str) -> list[str]:
    return sorted(str(mark["scheduled"]) for mark in marks(scheduled.folder, pipeline))


def test_a_schedule_fires_once_at_its_slot(scheduled: Scheduled) -> None:
    start = scheduled.clock()
    scheduled.clock.advance(minutes=59)
    scheduled.drain()
    assert marks(scheduled.folder, "hourly_latest") == []
    scheduled.clock.advance(seconds=40)  # one slot passed, found 10 s late
    scheduled.drain()
    scheduled.drain()
    slot = start.replace(minute=0, second=0) + pd.Timedelta(hours=1)
    for name in ("hourly_none", "hourly_latest", "hourly_all"):
        assert _slots(scheduled, name) == [slot.isoformat()], name
        [run] = scheduled.runs(name)
        assert (run.state, run.trigger, run.scheduled_for) == (RunState.SUCCEEDED, "schedule", slot)


def test_catch_up_policies_after_missed_slots(scheduled: Scheduled) -> None:
    start = scheduled.clock()
    scheduled.clock.advance(hours=3, minutes=30)  # the slots of +1 h, +2 h and +3 h were missed
    scheduled.drain()
    hour = start.replace(minute=0, second=0)
    missed = [(hour + pd.Timedelta(hours=offset)).isoformat() for offset in (1, 2, 3)]
    assert _slots(scheduled, "hourly_none") == []
    assert _slots(scheduled, "hourly_latest") == missed[-1:]
    assert _slots(scheduled, "hourly_all") == missed
    # the skipped slots are not run later either
    scheduled.clock.advance(minutes=10)
    scheduled.drain()
    assert _slots(scheduled, "hourly_none") == []


def test_a_schedule_in_a_time_zone(scheduled: Scheduled) -> None:
    scheduled.clock.advance(days=2)
    scheduled.drain()
    slots = _slots(scheduled, "paris_morning")
    assert len(slots) == 2  # catch-up all: one per day
    for slot in slots:
        local = datetime.fromisoformat(slot).astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
        assert (local.hour, local.minute) == (9, 30)


def test_each_event_type_starts_its_pipeline_once(scheduled: Scheduled) -> None:
    project = scheduled.project
    raw = project.create_feature_group("raw", primary_key=["id"], event_time="ts")
    raw.insert(pd.DataFrame({"id": [1, 2], "ts": [datetime(2026, 1, 1, tzinfo=UTC)] * 2, "x": [1.0, 2.0]}))
    with project.start_run("events") as run:
        model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1]))
        version = run.log_model(model, "model")
    version.set_alias("champion")
    version.set_alias("challenger")  # another alias: no run
    fired = {"rule": "drift_share", "subject": "dataset", "value": 0.6, "threshold": 0.5, "message": "drift"}
    quality = {**fired, "rule": "quality", "message": "nulls"}
    project.orchestration.record([alert_event("fraud", fired), alert_event("fraud", quality)])
    project.run_pipeline("always_fails", wait=False)
    for _ in range(3):
        scheduled.drain()
    for name in ("on_raw", "on_version", "on_champion", "on_drift", "after_raw", "after_failure"):
        seen = marks(scheduled.folder, name)
        assert len(seen) == 1, f"{name} ran {len(seen)} times"
        assert seen[0]["trigger"] == "event" and seen[0]["event"] is not None
    [on_raw] = scheduled.runs("on_raw")
    lineage = project.orchestration.lineage(on_raw.id)
    assert lineage.trigger_event is not None and lineage.trigger_event.describe() == "commit raw v1 #0"
    assert lineage.reads == ("commit:raw:v1#0",)
    [failed] = scheduled.runs("always_fails")
    assert failed.state is RunState.FAILED and "always_fails is broken" in (failed.error or "")


def test_a_pipeline_run_produces_its_lineage(scheduled: Scheduled) -> None:
    project = scheduled.project
    raw = project.create_feature_group("raw", primary_key=["id"], event_time="ts")
    raw.insert(pd.DataFrame({"id": [1], "ts": [datetime(2026, 1, 1, tzinfo=UTC)], "x": [1.0]}))
    scheduled.drain()
    [on_raw] = scheduled.runs("on_raw")
    [after_raw] = scheduled.runs("after_raw")
    # after_raw was started by the event on_raw's end produced
    assert project.orchestration.lineage(after_raw.id).trigger_event.detail["run_id"] == on_raw.id  # type: ignore[union-attr]


def test_retries_back_off_and_a_failing_run_never_stops_the_scheduler(scheduled: Scheduled) -> None:
    scheduled.project.run_pipeline("flaky", {"fail_until": "3"}, wait=False)
    scheduled.drain()
    assert [run.state for run in scheduled.runs("flaky")] == [RunState.QUEUED, RunState.FAILED]
    scheduled.clock.advance(seconds=11)  # the first retry waits 10 s
    scheduled.drain()
    assert [run.state for run in scheduled.runs("flaky")] == [RunState.QUEUED, RunState.FAILED, RunState.FAILED]
    scheduled.clock.advance(seconds=11)  # the second waits 20 s
    scheduled.drain()
    assert len(scheduled.runs("flaky")) == 3
    scheduled.clock.advance(seconds=10)
    scheduled.drain()
    runs = scheduled.runs("flaky")
    assert [(run.attempt, run.state) for run in runs] == [
        (3, RunState.SUCCEEDED),
        (2, RunState.FAILED),
        (1, RunState.FAILED),
    ]
    first = runs[-1]
    assert "RuntimeError: flaky failed on attempt 1" in (first.error or "") and "Traceback" in (first.error or "")
    assert "attempt 1" in scheduled.project.orchestration.logs(first.id)
    assert len({run.slot for run in runs}) == 1


def test_a_run_past_its_timeout_is_stopped(scheduled: Scheduled) -> None:
    scheduled.project.run_pipeline("sleeper", wait=False)
    scheduled.scheduler.tick()
    [started] = wait_for(lambda: marks(scheduled.folder, "sleeper"), what="the sleeper starting")
    scheduled.clock.advance(seconds=6)
    scheduled.scheduler.tick()
    [run] = scheduled.runs("sleeper")
    assert run.state is RunState.TIMED_OUT and "timeout of 0:00:05" in (run.error or "")
    wait_for(lambda: not _alive(started["pid"]), 10, "the sleeper's process ending")
    assert "pipeline sleeper" in scheduled.project.orchestration.logs(run.id)


def test_manual_runs_wait_and_take_params(scheduled: Scheduled) -> None:
    ended = scheduled.project.run_pipeline("flaky", {"fail_until": "1"})
    assert (ended.state, ended.trigger, ended.attempt) == (RunState.SUCCEEDED, "manual", 1)
    assert marks(scheduled.folder, "flaky")[0]["params"] == {"fail_until": "1"}
    with pytest.raises(ValidationError, match=r"Pipeline 'flaky' has no param 'days' \(its params: fail_until\)"):
        scheduled.project.run_pipeline("flaky", {"days": "1"})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"
