"""A run whose process is killed with SIGKILL mid-run is marked failed ("killed") the next time runs are listed or
looked up on its host, on SQLite and PostgreSQL; runs of live processes and of other hosts stay running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy
from typer.testing import CliRunner

import fti
from fti.cli.main import app
from fti.core.tracking import OWNER_TAG, RunStatus
from fti.errors import ConflictError
from fti.tracking.owner import ProcessOwner, current_owner
from tests.faults import ROOT, plain_environment, read_overrides

pytestmark = pytest.mark.integration


def train_forever(folder: str, settings: str) -> None:
    """A training process: starts a run, logs a metric that reaches the catalog, says so, then keeps working."""
    with fti.connect(folder, overrides=read_overrides(settings)) as project:
        run = project.start_run("fraud", name="killed")
        run.log_metric("loss", 0.5, step=1)
        project.tracking.buffer.flush()
        print(run.id, flush=True)
        sys.stdin.read()  # until the test kills it


def _start(folder: Path, overrides: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    code = "import sys\nfrom tests.integration.test_killed_runs import train_forever\ntrain_forever(*sys.argv[1:])"
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(folder), json.dumps(overrides)],
        env=plain_environment(),
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    run_id = process.stdout.readline().strip()
    assert run_id, f"the training process ended with {process.wait()} before starting its run"
    return process, run_id


def _kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL the process, reap it and close its pipes."""
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL


@pytest.fixture(params=["sqlite", "postgresql"])
def overrides(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {}
    return {"catalog.url": request.getfixturevalue("postgres_url")}


def test_a_run_killed_mid_run_is_marked_failed(project_dir: Path, overrides: dict[str, str]) -> None:
    process, run_id = _start(project_dir, overrides)
    try:
        with fti.connect(project_dir, overrides=overrides) as project:
            # its process lives: listing and looking it up leave it running, and it can be joined
            assert project.fail_killed_runs() == []
            assert project.runs("fraud")["status"].tolist() == ["running"]
            assert project.get_run(run_id).info.status is RunStatus.RUNNING
    finally:
        _kill(process)
    with fti.connect(project_dir, overrides=overrides) as project:
        frame = project.runs("fraud")
        assert frame["status"].tolist() == ["failed"]
        info = project.get_run(run_id).info
        assert info.status is RunStatus.FAILED and info.end_time is not None
        assert info.error is not None and info.error.startswith(f"killed: its process (pid {process.pid} ")
        # what it logged before the kill stays; the owner it recorded is no tag a user sees
        assert project.get_run(run_id).metrics == {"loss": 0.5}
        assert project.get_run(run_id).tags == {}
        assert not any(column.startswith("tags.") for column in frame.columns)
        with pytest.raises(ConflictError, match="it has failed"):
            project.join_run(run_id)
        # marked once: later calls find nothing more, and the run can be deleted
        assert project.fail_killed_runs() == []
        project.delete_run(run_id)


def test_runs_of_live_processes_and_other_hosts_stay_running(project_dir: Path) -> None:
    with fti.connect(project_dir) as project:
        mine = project.start_run("fraud", name="mine")
        elsewhere = project.start_run("fraud", name="elsewhere")
        reused = project.start_run("fraud", name="reused pid")
        here = current_owner()
        assert ProcessOwner.decode(here.encode()) == here and ProcessOwner.decode("not an owner") is None
        # a process of this host name in another pid namespace (a container with host networking) is not judged
        other_namespace = ProcessOwner(here.host.partition("/")[0] + "/1", 2**22 - 1, "x/1")
        assert not other_namespace.is_gone()
        with project.catalog.transaction() as tx:
            # another host's process cannot be seen from here; a live pid that started later is not the owner
            tx.tracking.set_tags(elsewhere.id, {OWNER_TAG: ProcessOwner("another-host", 1, "x/1").encode()})
            tx.tracking.set_tags(reused.id, {OWNER_TAG: ProcessOwner(here.host, os.getppid(), "x/1").encode()})
        # this process's own project never fails the runs it holds; another connection judges by the owner
        assert project.fail_killed_runs() == []
        with fti.connect(project_dir) as other:
            assert other.fail_killed_runs() == [reused.id]
            frame = other.runs("fraud")
        statuses = dict(zip(frame["name"], frame["status"], strict=True))
        assert statuses == {"mine": "running", "elsewhere": "running", "reused pid": "failed"}
        mine.end()
        assert mine.info.status is RunStatus.FINISHED


def test_fti_runs_gc_marks_a_killed_run_failed(project_dir: Path) -> None:
    process, run_id = _start(project_dir, {})
    _kill(process)
    runner = CliRunner()
    result = runner.invoke(app, ["runs", "gc", "--project", str(project_dir)])
    assert result.exit_code == 0, result.output
    assert f"Marked 1 killed run(s) failed: {run_id}." in " ".join(result.output.split())
    result = runner.invoke(app, ["runs", "gc", "--project", str(project_dir)])
    assert "No killed runs" in result.output
    with fti.connect(project_dir) as project:
        info = project.get_run(run_id).info
        assert info.status is RunStatus.FAILED
        assert info.end_time is not None and info.end_time <= datetime.now(UTC)


def test_a_reader_that_cannot_write_the_catalog_still_lists_runs(project_dir: Path, postgres_url: str) -> None:
    overrides = {"catalog.url": postgres_url}
    process, run_id = _start(project_dir, overrides)
    _kill(process)
    role = f"reader_{uuid.uuid4().hex[:8]}"  # roles belong to the whole server: one of its own
    engine = sqlalchemy.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f"CREATE ROLE {role} LOGIN PASSWORD 'reader'"))
        connection.execute(sqlalchemy.text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
    engine.dispose()
    url = sqlalchemy.make_url(postgres_url).set(username=role, password="reader")
    with fti.connect(project_dir, overrides={"catalog.url": url.render_as_string(hide_password=False)}) as reader:
        # it cannot mark the run failed: it lists it as the catalog has it
        assert reader.runs("fraud")["status"].tolist() == ["running"]
    with fti.connect(project_dir, overrides=overrides) as project:
        assert project.runs("fraud")["status"].tolist() == ["failed"]
        project.delete_run(run_id)
