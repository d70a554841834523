"""Files of registrations that never finished: collected once their run ended and the grace has passed, never a
registered version's, never a running run's; `fti runs gc` does it after marking killed runs failed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import fti
from fti.cli.main import app
from fti.errors import ValidationError

pytestmark = pytest.mark.integration


class Constant:
    """A model that needs nothing to load."""

    def predict(self, rows: object) -> list[float]:
        return [1.0]


def test_only_ended_runs_unregistered_files_past_the_grace_are_collected(project: fti.Project) -> None:
    with project.start_run("training") as run:
        version = run.log_model(Constant(), "scorer")
        left = f"runs/{run.id}/models/scorer-0badf00d"  # what a registration killed during its upload leaves
        project.artifacts.put_bytes(f"{left}/model.pkl", b"half")
        project.artifacts.put_bytes(f"{left}/MLmodel", b"{}")
        assert project.collect_unregistered_files(timedelta(0)).folders == ()  # its run still runs
    assert project.collect_unregistered_files(timedelta(hours=1)).folders == ()  # too recent
    collected = project.collect_unregistered_files(timedelta(0))
    assert collected.folders == (f"{left}/",) and collected.files == 2
    assert project.artifacts.list(left) == []
    registered = project.get_model(f"scorer:{version.version}")
    assert registered.predict(pd.DataFrame({"x": [1.0]})) == [1.0]  # its files are whole
    [entry] = project.audit(action="model_files.collect")
    assert (entry.target, entry.detail) == (f"{left}/", {"files": 2})


def test_runs_gc_reports_what_it_did(project_dir: Path) -> None:
    with fti.connect(project_dir) as project, project.start_run("training") as run:
        project.artifacts.put_bytes(f"runs/{run.id}/models/scorer-0badf00d/model.pkl", b"half")
    runner = CliRunner()
    kept = runner.invoke(app, ["runs", "gc", "--project", str(project_dir)])
    assert kept.exit_code == 0, kept.output
    assert "No killed runs" in kept.output and "No files of unfinished registrations older than 10m" in kept.output
    removed = runner.invoke(app, ["runs", "gc", "--grace", "1us", "--project", str(project_dir)])
    assert removed.exit_code == 0, removed.output
    assert "Removed 1 file(s) of 1 registration(s) that never finished" in " ".join(removed.output.split())
    bad = runner.invoke(app, ["runs", "gc", "--grace", "soon", "--project", str(project_dir)])
    # run in-process, the CLI's errors surface as exceptions (`fti` turns them into one line and exit 2)
    assert isinstance(bad.exception, ValidationError) and "--grace 'soon' is not a duration" in str(bad.exception)


def test_a_negative_grace_is_refused(project: fti.Project) -> None:
    with pytest.raises(ValidationError, match="grace must be a timedelta of zero or more"):
        project.collect_unregistered_files(timedelta(minutes=-1))
