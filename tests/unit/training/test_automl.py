"""AutoML tries every family within the budget and ranks them on the validation metric."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from fti.errors import ValidationError
from fti.training.automl import AutoMLSpec, automl
from fti.training.ports import Splits

from .conftest import RecordingRunLogger


def test_automl_ranks_all_families(breast_cancer: Splits) -> None:
    opened: list[tuple[str, int]] = []

    @contextmanager
    def trial_logger(family: str, number: int) -> Iterator[RecordingRunLogger]:
        opened.append((family, number))
        yield RecordingRunLogger()

    spec = AutoMLSpec(time_budget=60, trials_per_family=1, n_jobs=1)
    result = automl(breast_cancer, spec, trial_logger=trial_logger)

    families = [candidate.family for candidate in result.candidates]
    assert sorted(families) == sorted(["linear", "random_forest", "xgboost", "lightgbm", "mlp"])
    values = [candidate.value for candidate in result.candidates]
    assert values == sorted(values, reverse=True)
    assert result.metric == "validation_f1" and result.best.value == values[0]
    assert result.best.metrics["test_f1"] >= 0.93
    assert list(result.leaderboard["family"]) == families
    assert {family for family, _ in opened} == set(families)


def test_automl_regression_within_a_tiny_budget(diabetes: Splits) -> None:
    result = automl(diabetes, AutoMLSpec(time_budget=5, families=("linear", "lightgbm"), trials_per_family=3, n_jobs=1))

    assert result.metric == "validation_rmse" and result.direction == "minimize"
    assert [c.value for c in result.candidates] == sorted(c.value for c in result.candidates)
    assert result.best.model.predict(diabetes.test[0]).shape == diabetes.test[1].shape


def test_unknown_family_is_named(breast_cancer: Splits) -> None:
    with pytest.raises(ValidationError, match=r"Unknown AutoML families \['svm'\]"):
        AutoMLSpec(families=("svm",))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"time_budget": 0.0}, "time_budget must be a positive number of seconds, got 0.0."),
        ({"trials_per_family": 0}, "trials_per_family must be >= 1, got 0."),
        ({"families": ()}, "Unknown AutoML families []. Use some of: linear, random_forest, xgboost, lightgbm, mlp."),
    ],
)
def test_a_spec_refuses_options_out_of_range(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        AutoMLSpec(**options)  # type: ignore[arg-type]
