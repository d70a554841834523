"""Real ``fti scheduler`` processes on SQLite and on PostgreSQL: two of them on one catalog never run a slot or an
event twice, and the runs of a scheduler killed with SIGKILL are marked lost and retried by the next one."""

from __future__ import annotations

import os
import signal
from collections import Counter
from datetime import UTC, datetime

import pandas as pd
import pytest

import fti
from fti.core.pipelines import RunState
from tests.integration.scheduling.conftest import SchedulerProcesses, marks, wait_for

pytestmark = pytest.mark.integration


def test_two_schedulers_never_run_a_slot_or_an_event_twice(scheduler_processes: SchedulerProcesses) -> None:
    folder = scheduler_processes.folder
    with fti.connect(folder) as project:
        ticks = project.create_feature_group("ticks", primary_key=["id"], event_time="ts")
        scheduler_processes.start("--max-runs", "6")
        scheduler_processes.start("--max-runs", "6")

        def owners() -> set[str]:
            return {run.owner or "" for run in project.pipeline_runs("every_second", limit=500)} - {""}

        wait_for(lambda: len(owners()) == 2, 120, "both schedulers running slots")
        for index in range(12):
            ticks.insert(pd.DataFrame({"id": [index], "ts": [datetime.now(UTC)]}))
        commits = 12
        wait_for(lambda: len(marks(folder, "on_tick")) == commits, 120, "every commit handled")
        wait_for(lambda: len(marks(folder, "every_second")) >= 10, 60, "ten slots run")
        scheduler_processes.stop_all()
        runs = project.pipeline_runs(limit=1000)
    ran = Counter((mark["scheduled"], mark["attempt"]) for mark in marks(folder, "every_second"))
    assert max(ran.values()) == 1, [slot for slot, count in ran.items() if count > 1]
    handled = Counter(mark["event"] for mark in marks(folder, "on_tick"))
    assert len(handled) == commits and max(handled.values()) == 1
    assert {run.owner for run in runs if run.pipeline == "on_tick"} <= owners_of(runs)
    assert Counter((run.pipeline, run.slot, run.attempt) for run in runs).most_common(1)[0][1] == 1


def owners_of(runs: list[object]) -> set[str | None]:
    return {getattr(run, "owner", None) for run in runs}


def test_a_killed_schedulers_runs_are_lost_and_retried_by_the_next(scheduler_processes: SchedulerProcesses) -> None:
    folder = scheduler_processes.folder
    with fti.connect(folder) as project:
        first = scheduler_processes.start("--lease", "2")
        project.run_pipeline("slow_once", {"seconds": "120"}, wait=False)
        [started] = wait_for(lambda: marks(folder, "slow_once"), 120, "the first attempt starting")
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        # the run's process dies with its scheduler: it never runs beside its retry
        wait_for(lambda: not _alive(started["pid"]), 30, "the orphaned run's process ending")
        scheduler_processes.start("--lease", "2")

        def retried() -> list[object]:
            runs = project.pipeline_runs("slow_once")
            return runs if runs and runs[0].state is RunState.SUCCEEDED else []

        runs = wait_for(retried, 120, "the next scheduler retrying the lost run")
    assert [(run.attempt, run.state) for run in runs] == [(2, RunState.SUCCEEDED), (1, RunState.LOST)]
    assert "stopped renewing the lease" in (runs[1].error or "")
    assert runs[0].owner != runs[1].owner
    assert [mark["attempt"] for mark in marks(folder, "slow_once")] == [1, 2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False
