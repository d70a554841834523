"""Tuning and AutoML on training datasets: a study run with nested trial runs, the best model registered."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import fti
from fti.features.training import TrainingDataset
from fti.project import _overrides
from fti.training import space
from fti.training.tracked import TrialRuns, in_memory


def _trials(project: fti.Project, parent_id: str) -> pd.DataFrame:
    runs = project.runs()
    trials: pd.DataFrame = runs[runs["parent_run_id"] == parent_id]
    return trials


def test_two_worker_processes_log_every_trial_once(shared_project: fti.Project, breast_cancer: TrainingDataset) -> None:
    tuned = shared_project.tune(
        breast_cancer,
        "logistic_regression",
        {"C": space.loguniform(1e-2, 10.0)},
        n_trials=4,
        n_workers=2,
        register="breast-cancer-tuned",
    )

    assert tuned.result.n_complete == 4
    assert sorted(tuned.result.trials["number"]) == [0, 1, 2, 3]
    trials = _trials(shared_project, tuned.run_id)
    assert sorted(trials["tags.trial"].astype(int)) == [0, 1, 2, 3]  # none lost, none twice
    assert set(trials["status"]) == {"finished"}
    assert set(trials["tags.trial_state"]) == {"complete"}
    assert trials["metrics.validation_f1"].notna().all()
    assert trials["params.C"].nunique() == 4
    assert list((shared_project.root / ".fti" / "studies").glob("*.journal"))

    study = shared_project.get_run(tuned.run_id)
    assert study.params["best.C"] == str(tuned.result.best_params["C"])
    assert study.metrics["best_validation_f1"] == max(trials["metrics.validation_f1"])
    assert "test_roc_curve.png" in study.artifacts
    version = tuned.version
    assert version is not None and version.run_id == tuned.run_id
    assert version.lineage().training_data is not None
    X_test, _ = breast_cancer.test
    assert (version.predict(X_test) == tuned.result.best_model.predict(X_test)).all()


def test_an_executor_of_one_worker_runs_every_share_in_turn(tmp_path: Path, breast_cancer: TrainingDataset) -> None:
    with fti.connect(tmp_path, overrides={"executor.max_workers": 1}) as project:
        tuned = project.tune(
            in_memory(breast_cancer),
            "logistic_regression",
            {"C": space.loguniform(1e-2, 10.0)},
            n_trials=4,
            n_workers=2,
        )
        assert tuned.result.n_complete == 4
        assert sorted(_trials(project, tuned.run_id)["tags.trial"].astype(int)) == [0, 1, 2, 3]


def test_grid_search_visits_exactly_the_grid(shared_project: fti.Project, wine: TrainingDataset) -> None:
    tuned = shared_project.tune(
        wine, "logistic_regression", {"C": space.choice([0.1, 1.0, 10.0])}, sampler="grid", n_trials=None
    )

    trials = _trials(shared_project, tuned.run_id)
    assert sorted(trials["params.C"].astype(float)) == [0.1, 1.0, 10.0]
    assert tuned.version is None


def test_automl_logs_every_trial_and_registers_the_best(shared_project: fti.Project, wine: TrainingDataset) -> None:
    found = shared_project.automl(
        wine, time_budget=60, families=["linear", "random_forest"], trials_per_family=2, register="wine-automl"
    )

    trials = _trials(shared_project, found.run_id)
    assert sorted(trials["tags.family"]) == ["linear", "linear", "random_forest", "random_forest"]
    automl_run = shared_project.get_run(found.run_id)
    assert automl_run.tags["best_family"] == found.result.best.family
    assert "leaderboard.json" in automl_run.artifacts
    assert found.version is not None and found.version.lineage().training_data is not None


def test_worker_processes_open_the_project_with_its_overrides(tmp_path: Path) -> None:
    catalog = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    with fti.connect(tmp_path, overrides={"catalog.url": catalog, "project": "tuned"}) as project:
        carried = _overrides(project.settings)

    assert carried == {"catalog.url": catalog, "project": "tuned"}
    with fti.connect(tmp_path, overrides=carried) as reopened:
        assert reopened.catalog.describe() == project.catalog.describe()


def test_a_pruned_trial_run_ends_finished_and_tagged(shared_project: fti.Project) -> None:
    import optuna

    with shared_project.start_run("pruning") as study:
        runs = TrialRuns(shared_project, "pruning", study.id)
        with pytest.raises(optuna.TrialPruned), runs(7) as trial:
            trial.log_metric("validation_loss", 0.5, step=0)
            raise optuna.TrialPruned("trial 7 pruned at step 0")
        with pytest.raises(ZeroDivisionError), runs(8):
            _ = 1 / 0

    pruned, failed = _trials(shared_project, study.id).sort_values("tags.trial").to_dict("records")
    assert (pruned["status"], pruned["tags.trial_state"], pruned["name"]) == ("finished", "pruned", "trial-7")
    assert failed["status"] == "failed"
