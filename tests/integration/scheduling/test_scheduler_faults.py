"""A scheduler killed with SIGKILL right after it claimed a queued run, or right after it started it, on SQLite
and PostgreSQL: the run is marked lost once its lease lapses and the next scheduler runs it again as its next
attempt, which succeeds; no run is left claimed by a dead scheduler."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

import fti
from fti.core.pipelines import RunState
from tests.faults import start_killed
from tests.integration.scheduling.conftest import SchedulerProcesses, marks, wait_for, write_project

pytestmark = pytest.mark.integration


# each stage on one catalog, the pair covering both (a case costs two scheduler processes and a lapsed lease)
@pytest.mark.parametrize(
    ("stage", "catalog_url"),
    [("scheduler.after_claim", "sqlite"), ("scheduler.after_launch", "postgresql")],
    indirect=["catalog_url"],
)
def test_a_scheduler_killed_after_claiming_or_starting_a_run(
    stage: str, tmp_path: Path, catalog_url: str | None
) -> None:
    folder = write_project(tmp_path / "project", catalog_url, "fault_pipelines.py")
    following = SchedulerProcesses(folder)
    try:
        with fti.connect(folder) as project:
            project.run_pipeline("once", wait=False)
            command = [sys.executable, "-m", "fti", "scheduler", "-p", str(folder), "--poll", "0.1", "--lease", "2"]
            killed = start_killed(stage, command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            output, _ = killed.communicate(timeout=120)
            assert killed.returncode == -signal.SIGKILL, output
            [claimed] = project.pipeline_runs("once")
            assert (claimed.attempt, claimed.state) == (1, RunState.RUNNING)
            following.start("--lease", "2")

            def retried() -> list[object]:
                runs = project.pipeline_runs("once")
                return runs if runs and runs[0].state is RunState.SUCCEEDED else []

            runs = wait_for(retried, 120, "the next scheduler retrying the lost run")
    finally:
        following.stop_all()
    assert [(run.attempt, run.state) for run in runs] == [(2, RunState.SUCCEEDED), (1, RunState.LOST)]
    assert "stopped renewing the lease" in (runs[1].error or "")
    attempts = [mark["attempt"] for mark in marks(folder, "once")]
    # a run killed before it started never ran; one started may have begun before its scheduler died with it
    assert (attempts == [2]) if stage == "scheduler.after_claim" else (attempts in ([2], [1, 2]))
