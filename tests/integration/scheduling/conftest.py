"""Projects whose pipelines the scheduler tests run, on SQLite and on a real PostgreSQL catalog."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import fti
from fti.core.pipelines import RunState
from fti.orchestration import Scheduler, SchedulerSettings

HERE = Path(__file__).parent
SRC = HERE.parents[2] / "src"


class FakeClock:
    """A clock the test moves by hand: schedules, leases and timeouts follow it, nothing sleeps."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def write_project(folder: Path, catalog_url: str | None, module: str) -> Path:
    """A project folder whose fti.yaml lists one of this folder's pipelines modules."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["project: scheduling", f"pipelines: [{HERE / module}]"]
    if catalog_url is not None:
        lines += ["catalog:", f"  url: {catalog_url}"]
    (folder / "fti.yaml").write_text("\n".join(lines) + "\n")
    return folder


def marks(folder: Path, pipeline: str) -> list[dict[str, Any]]:
    """What the runs of ``pipeline`` wrote, in order."""
    path = folder / "marks" / f"{pipeline}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, what: str = "the condition") -> Any:
    """Poll ``condition()`` until it is truthy (and return it) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


@dataclass
class Scheduled:
    """A project, its fake clock and a scheduler driven by it."""

    folder: Path
    project: fti.Project
    clock: FakeClock
    scheduler: Scheduler

    def drain(self, timeout: float = 90.0) -> None:
        """Tick until no run is running and none is due (runs due later, like retries, stay queued)."""

        def settled() -> bool:
            self.scheduler.tick()
            if self.scheduler.running:
                return False
            now = self.clock()
            return not any(
                run.state is RunState.QUEUED and run.due_at <= now for run in self.project.pipeline_runs(limit=500)
            )

        wait_for(settled, timeout, "the scheduler settling")

    def runs(self, pipeline: str) -> list[Any]:
        return self.project.pipeline_runs(pipeline, limit=500)


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest) -> str | None:
    """None (the embedded SQLite catalog) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def scheduled(tmp_path: Path, catalog_url: str | None) -> Iterator[Scheduled]:
    folder = write_project(tmp_path / "project", catalog_url, "pipelines.py")
    # a day ahead of the real time: manual runs (queued at the real time) are due on this clock too
    start = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=30, microsecond=0)
    clock = FakeClock(start)
    with fti.connect(folder) as project:
        settings = SchedulerSettings(poll_interval=0.05, lease=timedelta(seconds=30), max_runs=8)
        scheduler = project.orchestration.scheduler(clock=clock, settings=settings)
        scheduler.tick()  # registers the pipelines: their cursors start now
        yield Scheduled(folder, project, clock, scheduler)
        scheduler.close()


@dataclass
class SchedulerProcesses:
    """Real ``fti scheduler`` processes on one project."""

    folder: Path
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    logs: list[Any] = field(default_factory=list)

    def start(self, *options: str) -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": str(SRC), "NO_COLOR": "1"}
        log = (self.folder / f"scheduler-{len(self.processes)}.log").open("w")
        self.logs.append(log)
        process = subprocess.Popen(
            [sys.executable, "-m", "fti", "scheduler", "-p", str(self.folder), "--poll", "0.1", *options],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.logs:
            log.close()


@pytest.fixture
def scheduler_processes(tmp_path: Path, catalog_url: str | None) -> Iterator[SchedulerProcesses]:
    running = SchedulerProcesses(write_project(tmp_path / "project", catalog_url, "busy_pipelines.py"))
    yield running
    running.stop_all()
