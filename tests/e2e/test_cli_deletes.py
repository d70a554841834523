"""Deleting runs and model versions, from the SDK and the CLI: refused while lineage or serving needs them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import fti
from fti.cli.main import app
from fti.errors import ConflictError, NotFoundError, ValidationError

pytestmark = pytest.mark.e2e


class Constant:
    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.ones(len(frame))


def _logged(project: fti.Project, name: str = "m") -> tuple[str, fti.ModelVersion]:
    with project.start_run("exp") as run:
        run.log_metric("f1", 0.5)
        run.log_dict({"a": 1}, "config.json")
        version = run.log_model(Constant(), name, input_example=pd.DataFrame({"x": [1.0]}))
    return run.id, version


def _files(project: fti.Project, prefix: str) -> list[str]:
    return project.artifact_store.list_keys(prefix)


def test_a_run_with_a_model_version_is_deleted_after_the_version(project: fti.Project) -> None:
    run_id, version = _logged(project)
    version.set_alias("champion")
    with pytest.raises(ConflictError, match=rf"Run '{run_id}' logged model version\(s\) m:1, whose files and lineage"):
        project.delete_run(run_id)
    with pytest.raises(ConflictError, match=r"Model 'm' v1 is the target of alias\(es\) champion: move them first"):
        project.delete_model_version("m:1")
    with pytest.raises(ValidationError, match=r"Name the version to delete: 'm:VERSION'"):
        project.delete_model_version("m")
    deleted = project.delete_model_version("m@champion", force=True)
    assert (deleted.version, deleted.aliases) == (1, ("champion",)) and deleted.files > 0
    assert _files(project, version.record.artifact_prefix + "/") == []
    assert [move.reason for move in project.registry.alias_history("m")][-1] == "version 1 deleted"
    with pytest.raises(NotFoundError):
        project.get_model("m:1")
    removed = project.delete_run(run_id[:8])
    assert removed.run_ids == (run_id,) and removed.files > 0
    assert _files(project, f"runs/{run_id}/") == [] and project.runs().empty
    _, again = _logged(project)
    assert again.version == 2  # a deleted number is not given again


def test_nested_runs_go_with_their_parent_only_when_forced(project: fti.Project) -> None:
    with project.start_run("exp", "parent") as parent, project.start_run("exp", "trial"):
        pass
    with pytest.raises(ConflictError, match=r"has 1 nested run\(s\) .*: pass force=True"):
        project.delete_run(parent.id)
    assert len(project.runs()) == 2
    assert len(project.delete_run(parent.id, force=True).run_ids) == 2
    assert project.runs().empty


def test_a_served_version_is_never_deleted(project: fti.Project) -> None:
    _, version = _logged(project, "served")
    version.set_alias("champion")
    project.deploy("svc", "served@champion")
    with pytest.raises(ConflictError, match=r"Model 'served' v1 is served by deployment\(s\) svc: undeploy them"):
        project.delete_model_version("served:1", force=True)
    assert project.get_model("served:1").version == 1


def test_fti_runs_delete_and_fti_models_delete(project_dir: Path) -> None:
    with fti.connect(project_dir) as project:
        run_id, _ = _logged(project)
    runner = CliRunner()
    refused = runner.invoke(app, ["runs", "delete", run_id[:8], "--yes", "-p", str(project_dir)])
    assert refused.exit_code != 0 and "delete them first (fti models delete NAME:VERSION)" in str(refused.exception)
    kept = runner.invoke(app, ["models", "delete", "m:1", "-p", str(project_dir)], input="n\n")
    assert kept.exit_code == 1 and "Delete model m v1 and its files?" in kept.output
    deleted = runner.invoke(app, ["models", "delete", "m:1", "--yes", "-p", str(project_dir)])
    assert deleted.exit_code == 0, deleted.output
    assert "Deleted model m v1 (" in deleted.output
    gone = runner.invoke(app, ["runs", "delete", run_id[:8], "-p", str(project_dir)], input="y\n")
    assert gone.exit_code == 0, gone.output
    assert f"Deleted run {run_id} (" in gone.output
    with fti.connect(project_dir) as project:
        assert project.runs().empty and project.object_counts()["model versions"] == 0


def _cards(project: fti.Project, version: int) -> fti.FeatureGroup:
    group = project.create_feature_group("cards", version, primary_key=["cc_num"], event_time="ts", online=True)
    ts = pd.to_datetime(["2026-01-01", "2026-01-02"], utc=True)
    group.insert(pd.DataFrame({"cc_num": [1, 2], "ts": ts, "amount": [1.0, 2.0]}))
    return group


def test_a_feature_group_version_is_deleted_with_its_data_unless_a_view_reads_it(project_dir: Path) -> None:
    with fti.connect(project_dir) as project:
        first, second = _cards(project, 1), _cards(project, 2)
        project.create_feature_view("fraud", query=first.select_all())
        with pytest.raises(ConflictError, match=r"Feature group 'cards' v1 is read by feature view\(s\) fraud v1"):
            project.delete_feature_group("cards", 1)
        assert project.offline_store.exists(second.record.table)
        assert project.online_store.count("cards_2") == 2
    runner = CliRunner()
    loose = runner.invoke(app, ["features", "delete", "cards", "--yes", "-p", str(project_dir)])
    assert loose.exit_code != 0 and "Name the version to delete: 'cards:VERSION'" in str(loose.exception)
    deleted = runner.invoke(app, ["features", "delete", "cards:2", "--yes", "-p", str(project_dir)])
    assert deleted.exit_code == 0, deleted.output
    assert "Deleted feature group cards v2: 1 commit(s) and its online rows." in deleted.output
    with fti.connect(project_dir) as project:
        assert not project.offline_store.exists(second.record.table)
        with pytest.raises(NotFoundError, match="Online table 'cards_2' does not exist"):
            project.online_store.count("cards_2")
        assert [group.version for group in project.feature_groups()] == [1]
        with pytest.raises(NotFoundError):
            project.get_feature_group("cards", 2)
        assert _cards(project, 2).read()["amount"].tolist() == [1.0, 2.0]  # created again, from nothing
