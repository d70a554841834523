"""Every write of the SDK and the CLI goes to the audit log, in the transaction that makes it, under its actor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import fti
from fti.cli.main import app
from fti.core.audit import acting_as
from fti.errors import ValidationError

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Constant:
    """A model that needs nothing to load."""

    def predict(self, rows: object) -> list[float]:
        return [1.0]


def _rows(count: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cc_num": range(count),
            "ts": [T0 + timedelta(minutes=minute) for minute in range(count)],
            "amount": [float(value) for value in range(count)],
            "is_fraud": [value % 2 for value in range(count)],
        }
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_every_write_is_audited_under_its_actor(
    backend: str, project_dir: Path, request: pytest.FixtureRequest
) -> None:
    overrides = {} if backend == "sqlite" else {"catalog.url": request.getfixturevalue("postgres_url")}
    with fti.connect(project_dir, overrides=overrides) as project, acting_as("pipeline-bot"):
        group = project.create_feature_group("tx", primary_key=["cc_num"], event_time="ts")
        group.insert(_rows(10))
        with pytest.raises(ValidationError):
            group.insert(_rows(3).drop(columns=["amount"]))  # refused: no commit, no entry
        view = project.create_feature_view("fraud", query=group.select_all(), labels=["is_fraud"])
        view.create_training_data()
        with project.start_run("training") as run:
            run.log_metric("auc", 0.9)
            version = run.log_model(Constant(), "scorer")
        project.delete_model_version(f"scorer:{version.version}")
        project.delete_training_dataset("fraud", 1, 1, force=True)
        project.delete_feature_view("fraud", 1)
        project.delete_feature_group("tx", 1)
        project.delete_run(run.id)
        project.delete_experiment("training")
        entries = list(reversed(project.audit(limit=1000)))
    assert [(entry.action, entry.target) for entry in entries] == [
        ("feature_group.create", "tx v1"),
        ("feature_group.insert", "tx v1"),
        ("feature_view.create", "fraud v1"),
        ("training_dataset.create", "fraud v1/1"),
        ("run.create", run.id),
        ("model_version.register", f"scorer:{version.version}"),
        ("run.end", run.id),
        ("model_version.delete", f"scorer:{version.version}"),
        ("training_dataset.delete", "fraud v1/1"),
        ("feature_view.delete", "fraud v1"),
        ("feature_group.delete", "tx v1"),
        ("run.delete", run.id),
        ("experiment.delete", "training"),
    ]
    assert {entry.actor for entry in entries} == {"pipeline-bot"}
    assert entries[1].detail == {"commit": 0, "rows": 10}
    assert entries[6].detail == {"status": "finished"}


def test_cli_writes_are_audited_as_the_local_user(project_dir: Path) -> None:
    with fti.connect(project_dir) as project:
        project.create_feature_group("tx", primary_key=["cc_num"], event_time="ts").insert(_rows(4))
    csv = project_dir / "more.csv"
    _rows(6).iloc[4:].to_csv(csv, index=False)
    runner = CliRunner()
    inserted = runner.invoke(app, ["ingest", str(csv), "--into", "tx", "--project", str(project_dir)])
    assert inserted.exit_code == 0, inserted.output
    listed = runner.invoke(app, ["audit", "--action", "feature_group.", "--project", str(project_dir)])
    assert listed.exit_code == 0, listed.output
    with fti.connect(project_dir) as project:
        [insert, first, create] = project.audit(action="feature_group.")
    assert (insert.action, insert.detail["rows"], insert.actor) == ("feature_group.insert", 2, first.actor)
    assert insert.actor.startswith("local") and create.action == "feature_group.create"
    shown = [line.split("│")[3].strip() for line in listed.output.splitlines() if line.startswith("│")]
    assert (
        "".join(shown) == "feature_group.insert" * 2 + "feature_group.create"
    )  # folded in a narrow terminal, never cut


def nightly() -> None:
    """A pipeline step that does nothing (queued, never run, by the test below)."""


def test_maintenance_metadata_and_manual_runs_are_audited(project: fti.Project) -> None:
    group = project.create_feature_group("tx", primary_key=["cc_num"], event_time="ts", online=True)
    for first in (0, 10, 20):
        group.insert(_rows(30).iloc[first : first + 10])
    compacted = group.compact()
    vacuumed = group.vacuum(retain=timedelta(0))
    written = group.materialize(show_progress=False)
    with project.start_run("training") as run:
        version = run.log_model(Constant(), "scorer")
    version.set_tag("owner", "risk")
    version.set_description("the first scorer")
    project.register_pipeline(nightly, name="nightly")
    queued = project.run_pipeline("nightly", params=None, wait=False)
    found = {entry.action: entry for entry in project.audit(limit=1000)}
    assert found["feature_group.compact"].detail == {
        "files_removed": compacted.files_removed,
        "files_added": compacted.files_added,
    }
    assert compacted.files_removed >= 3 and vacuumed >= 3
    assert found["feature_group.vacuum"].detail == {"files": vacuumed, "retain_seconds": 0.0}
    assert found["feature_group.materialize"].detail == {"keys": written}
    assert (found["model_version.tag"].target, found["model_version.tag"].detail) == (
        f"scorer:{version.version}",
        {"tags": {"owner": "risk"}},
    )
    assert found["model_version.describe"].target == f"scorer:{version.version}"
    assert (found["pipeline.run"].target, found["pipeline.run"].detail) == (
        "nightly",
        {"run_id": queued.id, "params": {}},
    )
