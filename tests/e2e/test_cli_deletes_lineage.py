"""Deleting training datasets, feature views and experiments, from the SDK and the CLI: refused while lineage
needs them unless forced (and, for what models and deployments need, even then), their data removed with them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import fti
from fti.cli.main import app
from fti.errors import ConflictError, NotFoundError
from fti.features.training import TrainingDataset
from fti.features.views import FeatureView

pytestmark = pytest.mark.e2e


class Constant:
    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.ones(len(frame))


def _view(project: fti.Project) -> FeatureView:
    cards = project.create_feature_group("cards", 1, primary_key=["cc_num"], event_time="ts", online=True)
    ts = pd.date_range("2026-01-01", periods=20, freq="h", tz="UTC")
    cards.insert(pd.DataFrame({"cc_num": np.arange(20) % 4, "ts": ts, "amount": np.arange(20.0)}))
    labels = project.create_feature_group("labels", 1, primary_key=["cc_num"], event_time="ts")
    labels.insert(pd.DataFrame({"cc_num": np.arange(20) % 4, "ts": ts, "is_fraud": np.arange(20) % 2 == 0}))
    return project.create_feature_view(
        "fraud", query=labels.select(["is_fraud"]).join(cards.select_all()), labels=["is_fraud"]
    )


def _table(dataset: TrainingDataset) -> str:
    return f"training_datasets/fraud_v1_{dataset.version}"


def test_a_training_dataset_goes_unless_a_model_was_trained_on_it(project: fti.Project) -> None:
    view = _view(project)
    trained, read, unused = (view.create_training_data() for _ in range(3))
    with project.start_run("exp", training_data=trained) as run:
        run.log_model(Constant(), "m", input_example=pd.DataFrame({"amount": [1.0]}))
    with project.start_run("exp", training_data=read) as reader:
        pass
    with pytest.raises(ConflictError, match=r"training dataset\(s\) 1: model version\(s\) m:1 were trained on them"):
        project.delete_training_dataset("fraud", 1, 1, force=True)
    with pytest.raises(ConflictError, match=rf"were read by run\(s\) {reader.id}: pass force=True"):
        project.delete_training_dataset("fraud", 1, 2)
    assert project.offline_store.exists(_table(read))
    assert project.delete_training_dataset("fraud", 1, 3).training_datasets == (3,)
    assert not project.offline_store.exists(_table(unused))
    forced = project.delete_training_dataset("fraud", 1, 2, force=True)
    assert forced.run_ids == (reader.id,) and not project.offline_store.exists(_table(read))
    assert [item.version for item in view.training_datasets()] == [1]
    lineage = project.get_run(reader.id).training_data
    assert lineage is not None and lineage.training_dataset_version == 2  # the run keeps its record
    assert view.create_training_data().version == 3  # 2 is named by a run: not given again
    with pytest.raises(NotFoundError, match=r"Feature view 'fraud' v1 has no training dataset version 9"):
        project.delete_training_dataset("fraud", 1, 9)


def test_a_feature_view_goes_with_its_training_datasets_only_when_forced(project: fti.Project) -> None:
    view = _view(project)
    dataset = view.create_training_data()
    with project.start_run("exp", training_data=dataset) as run:
        version = run.log_model(Constant(), "m", input_example=pd.DataFrame({"amount": [1.0]}))
    project.deploy("svc", "m:1", feature_view="fraud", entity_key="cc_num")
    with pytest.raises(
        ConflictError, match=r"Feature view 'fraud' v1 serves the feature lookups of deployment\(s\) svc"
    ):
        project.delete_feature_view("fraud", 1, force=True)
    project.undeploy("svc")
    with pytest.raises(
        ConflictError, match=r"has training dataset\(s\) v1: pass force=True \(fti views delete --force\)"
    ):
        project.delete_feature_view("fraud", 1)
    with pytest.raises(ConflictError, match=r"model version\(s\) m:1 were trained on them"):
        project.delete_feature_view("fraud", 1, force=True)
    project.delete_model_version(f"m:{version.version}")
    deleted = project.delete_feature_view("fraud", 1, force=True)
    assert deleted.training_datasets.training_datasets == (1,) and deleted.training_datasets.run_ids == (run.id,)
    assert not project.offline_store.exists(_table(dataset)) and project.feature_views() == []
    with pytest.raises(NotFoundError, match=r"Feature view 'fraud' has no version 1: see `fti views list`"):
        project.delete_feature_view("fraud", 1)
    assert [group.name for group in project.feature_groups()] == ["cards", "labels"]  # the groups stay


def test_an_experiment_goes_with_its_runs_only_when_forced(project: fti.Project) -> None:
    with project.start_run("scratch", "parent") as parent, project.start_run("scratch", "trial") as trial:
        trial.log_dict({"a": 1}, "config.json")
    with project.start_run("kept") as kept:
        kept.log_model(Constant(), "m", input_example=pd.DataFrame({"x": [1.0]}))
    with pytest.raises(ConflictError, match=r"Experiment 'scratch' has 2 run\(s\) .*: pass force=True"):
        project.delete_experiment("scratch")
    with pytest.raises(ConflictError, match=r"Experiment 'kept' logged model version\(s\) m:1, .* then the experiment"):
        project.delete_experiment("kept", force=True)
    deleted = project.delete_experiment("scratch", force=True)
    assert set(deleted.runs.run_ids) == {parent.id, trial.id} and deleted.runs.files == 1
    assert project.artifact_store.list_keys(f"runs/{trial.id}/") == []
    assert project.tracking.experiments() == ["kept"] and len(project.runs()) == 1
    with pytest.raises(NotFoundError, match=r"Experiment 'scratch' does not exist; experiments: kept"):
        project.delete_experiment("scratch")


def test_fti_views_delete_and_fti_runs_delete_experiment(project_dir: Path) -> None:
    with fti.connect(project_dir) as project:
        view = _view(project)
        view.create_training_data()
        view.create_training_data()
        with project.start_run("scratch"):
            pass
    runner = CliRunner()
    args = ["-p", str(project_dir)]
    one = runner.invoke(app, ["views", "delete", "fraud:1", "--training-dataset", "2", "--yes", *args])
    assert one.exit_code == 0, one.output
    assert "Deleted training dataset 2 of feature view fraud v1." in one.output
    refused = runner.invoke(app, ["views", "delete", "fraud:1", "--yes", *args])
    assert refused.exit_code != 0 and "pass force=True (fti views delete --force)" in str(refused.exception)
    kept = runner.invoke(app, ["views", "delete", "fraud:1", "--force", *args], input="n\n")
    assert kept.exit_code == 1 and "Delete feature view fraud v1?" in kept.output
    view_gone = runner.invoke(app, ["views", "delete", "fraud:1", "--force", "--yes", *args])
    assert view_gone.exit_code == 0, view_gone.output
    assert "Deleted feature view fraud v1 and 1 training dataset(s)." in view_gone.output
    experiment_gone = runner.invoke(app, ["runs", "delete-experiment", "scratch", "--force", "--yes", *args])
    assert experiment_gone.exit_code == 0, experiment_gone.output
    assert "Deleted experiment scratch and 1 run(s) (0 file(s))." in experiment_gone.output
    with fti.connect(project_dir) as project:
        assert project.feature_views() == [] and project.tracking.experiments() == []
