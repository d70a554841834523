"""Tuning: samplers, grid coverage, pruning, and worker processes sharing one study."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from sklearn.linear_model import LogisticRegression

import fti
from fti.backends.kinds import create_backend
from fti.backends.ports import Executor
from fti.errors import ValidationError
from fti.training import space
from fti.training.ports import Splits
from fti.training.tracked import ModelRecipe
from fti.training.tuning import StudyStorage, TrainObjective, TrialHooks, TuningSpec, tune

from .conftest import FileTrialLoggers


@pytest.fixture(scope="module")
def executor() -> Iterator[Executor]:
    """Two local worker processes, as a project's default executor on two cores."""
    opened = create_backend("executor", "local", {"max_workers": 2})
    opened.open()
    yield opened
    opened.close()


def _quadratic(params: dict[str, Any], hooks: TrialHooks) -> float:
    """A cheap objective with its minimum at x = 2; reports a loss curve per step like an iterative trainer."""
    for step in range(5):
        hooks.on_iteration(step, (params["x"] - 2.0) ** 2 + 1.0 / (step + 1))
    return (params["x"] - 2.0) ** 2


def _divide_by_zero(params: dict[str, Any], hooks: TrialHooks) -> float:
    return params["x"] / 0


def test_tpe_finds_the_minimum_and_keeps_the_best_model(breast_cancer: Splits) -> None:
    objective = TrainObjective(breast_cancer, "logistic_regression")

    result = tune(objective, TuningSpec({"C": space.loguniform(1e-4, 10.0)}, n_trials=8))

    assert result.metric == "validation_f1" and result.direction == "maximize"
    assert result.n_complete + result.n_pruned == 8 and len(result.trials) == 8
    assert result.best_value == result.trials["value"].max()
    assert result.best_params["C"] == result.best_model.named_steps["model"].C
    assert result.best_value >= 0.93


def test_grid_search_visits_exactly_the_grid(breast_cancer: Splits, tmp_path: Path) -> None:
    grid = {"C": space.choice([0.01, 1.0, 100.0]), "max_iter": space.int(100, 300, step=100)}
    loggers = FileTrialLoggers(tmp_path)

    result = tune(
        TrainObjective(breast_cancer, "logistic_regression"),
        TuningSpec(grid, sampler="grid", n_trials=None, pruning=False),
        trial_logger=loggers,
    )

    visited = sorted((row.params_C, row.params_max_iter) for row in result.trials.itertuples())
    assert visited == sorted(itertools.product([0.01, 1.0, 100.0], [100, 200, 300]))
    assert len(loggers.records()) == 9


def test_two_workers_share_one_study_as_executor_tasks(tmp_path: Path, executor: Executor) -> None:
    loggers_folder = tmp_path / "runs"
    loggers_folder.mkdir()
    loggers = FileTrialLoggers(loggers_folder)
    spec = TuningSpec(
        {"x": space.uniform(-5.0, 5.0)},
        metric="loss",
        direction="minimize",
        n_trials=12,
        n_workers=2,
        sampler="random",
        pruning=False,
    )

    result = tune(
        _quadratic, spec, storage=StudyStorage(folder=tmp_path / "study"), trial_logger=loggers, executor=executor
    )

    assert sorted(result.trials["number"]) == list(range(12))
    assert set(result.trials["state"]) == {"COMPLETE"}
    records = loggers.records()
    assert sorted(record["number"] for record in records) == list(range(12))
    assert len({path.name.rsplit("-", 1)[1] for path in loggers_folder.iterdir()}) == 2  # two processes ran trials
    assert (tmp_path / "study" / "study.journal").is_file()


def test_two_workers_return_the_best_trained_model(breast_cancer: Splits, tmp_path: Path, executor: Executor) -> None:
    result = tune(
        TrainObjective(breast_cancer, "logistic_regression"),
        TuningSpec({"C": space.loguniform(1e-3, 10.0)}, n_trials=4, n_workers=2),
        storage=StudyStorage(folder=tmp_path),
        executor=executor,
    )

    assert len(result.trials) == 4
    assert result.best_params["C"] == result.best_model.named_steps["model"].C
    assert not list((tmp_path / "study.models").glob("*.pkl"))


def test_a_study_in_a_folder_is_resumed(tmp_path: Path) -> None:
    options: dict[str, Any] = {"metric": "loss", "direction": "minimize", "pruning": False}
    tune(
        _quadratic,
        TuningSpec({"x": space.uniform(-5.0, 5.0)}, n_trials=3, **options),
        storage=StudyStorage(folder=tmp_path),
    )

    result = tune(
        _quadratic,
        TuningSpec({"x": space.uniform(-5.0, 5.0)}, n_trials=2, **options),
        storage=StudyStorage(folder=tmp_path),
    )

    assert len(result.trials) == 5


def test_pruning_stops_unpromising_trials() -> None:
    result = tune(
        _quadratic,
        TuningSpec({"x": space.uniform(-5.0, 5.0)}, metric="loss", direction="minimize", n_trials=20, sampler="random"),
    )

    assert result.n_pruned > 0
    assert result.n_complete + result.n_pruned == 20
    assert abs(result.best_params["x"] - 2.0) < 1.5


def test_boosting_rounds_are_pruned(breast_cancer: Splits) -> None:
    objective = TrainObjective(breast_cancer, "xgboost", params={"n_estimators": 30, "n_jobs": 1})
    bad_or_good = {"learning_rate": space.choice([0.3, 1e-4]), "max_depth": space.int(2, 3)}

    result = tune(objective, TuningSpec(bad_or_good, metric="validation_log_loss", n_trials=10, sampler="random"))

    assert result.direction == "minimize"
    assert result.n_pruned > 0
    assert result.best_params["learning_rate"] == 0.3


def test_grid_refuses_a_continuous_range() -> None:
    with pytest.raises(ValidationError, match=r"Parameter 'x': uniform\(0.0, 1.0\) is continuous and cannot be grid"):
        TuningSpec({"x": space.uniform(0, 1)}, metric="loss", sampler="grid")


def test_workers_need_a_study_folder_and_an_executor(tmp_path: Path, executor: Executor) -> None:
    spec = TuningSpec({"x": space.uniform(0, 1)}, metric="loss", n_workers=2)
    with pytest.raises(ValidationError, match="2 workers share one study through a journal file: give the study a"):
        tune(_quadratic, spec, executor=executor)
    with pytest.raises(ValidationError, match="2 workers run their trials as tasks on an executor: pass executor="):
        tune(_quadratic, spec, storage=StudyStorage(folder=tmp_path))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sampler": "cmaes"}, "Unknown sampler 'cmaes'. Use 'tpe', 'random' or 'grid'."),
        ({"direction": "up"}, "Unknown direction 'up'. Use 'maximize' or 'minimize'."),
        ({"n_workers": 0}, "n_workers must be >= 1, got 0."),
        ({"n_trials": 0}, "n_trials must be >= 1 for the 'tpe' sampler, got 0."),
        ({"timeout": -1.0}, "timeout must be a positive number of seconds, got -1.0."),
    ],
)
def test_a_spec_refuses_options_out_of_range(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        TuningSpec({"x": space.uniform(0, 1)}, **options)
    with pytest.raises(ValidationError, match="The search space is empty"):
        TuningSpec({})


def test_a_task_that_fails_fails_the_study(tmp_path: Path, executor: Executor) -> None:
    spec = TuningSpec({"x": space.uniform(0, 1)}, metric="loss", n_trials=4, n_workers=2, sampler="random")
    with pytest.raises(ZeroDivisionError):
        tune(_divide_by_zero, spec, storage=StudyStorage(folder=tmp_path), executor=executor)


def test_a_missing_metric_lists_the_available_ones(breast_cancer: Splits) -> None:
    with pytest.raises(ValidationError, match="The trial's result has no metric 'validation_auc'; it has"):
        tune(
            TrainObjective(breast_cancer, "logistic_regression"),
            TuningSpec({"C": space.choice([1.0])}, metric="validation_auc", n_trials=1),
        )


def test_space_rejects_bad_ranges() -> None:
    with pytest.raises(ValidationError, match=r"loguniform\(0, 1\) needs low > 0"):
        space.loguniform(0, 1)
    with pytest.raises(ValidationError, match=r"uniform\(2, 1\) needs finite bounds with low <= high"):
        space.uniform(2, 1)
    with pytest.raises(ValidationError, match=r"choice\(\[\]\) needs a non-empty list"):
        space.choice([])


def test_optuna_trials_are_plain_optuna() -> None:
    # the study is an ordinary Optuna study: its trials table uses Optuna's state names
    result = tune(
        _quadratic,
        TuningSpec({"x": space.choice([1.0, 2.0])}, metric="loss", sampler="grid", n_trials=None, pruning=False),
    )
    assert set(result.trials["state"]) == {optuna.trial.TrialState.COMPLETE.name}
    assert result.best_params == {"x": 2.0}


def test_mlp_epochs_are_pruned(breast_cancer: Splits) -> None:
    objective = TrainObjective(breast_cancer, "mlp", params={"epochs": 8, "patience": None, "progress": False})

    result = tune(
        objective,
        TuningSpec({"lr": space.choice([1e-2, 1e-6])}, metric="validation_log_loss", n_trials=8, sampler="random"),
    )

    assert result.n_pruned > 0
    assert result.best_params == {"lr": 1e-2}


def test_tuning_takes_a_model_type(project: fti.Project, breast_cancer: Splits) -> None:
    with pytest.raises(ValidationError, match="Tuning takes a model type such as 'xgboost', got a LogisticRegression"):
        project.training.tune(
            breast_cancer, ModelRecipe(LogisticRegression()), TuningSpec({"C": space.choice([1.0])}, n_trials=1)
        )
    assert project.runs().empty  # refused before any run
