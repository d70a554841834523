"""The declarative training spec: YAML validated with named fields, training and tuning run from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from fti.errors import NotFoundError, ValidationError
from fti.training.ports import Splits
from fti.training.space import Int, LogUniform
from fti.training.spec import load_spec, run_spec, tune_spec

from .conftest import RecordingRunLogger

_SPEC = """
feature_view: {name: cancer, version: 2}
split: {train: 0.6, validation: 0.2, test: 0.2}
preprocessing: {scaling: minmax, numeric_impute: mean}
model:
  type: logistic_regression
  params: {C: 0.5}
metrics: [test_f1, test_roc_auc]
tuning:
  sampler: random
  n_trials: 3
  metric: validation_roc_auc
  space:
    C: {loguniform: [0.01, 10]}
    max_iter: {int: [200, 400, 100]}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "train.yaml"
    path.write_text(text)
    return path


def test_load_train_and_tune_from_yaml(tmp_path: Path, breast_cancer: Splits, run: RecordingRunLogger) -> None:
    spec = load_spec(_write(tmp_path, _SPEC))

    result = run_spec(spec, breast_cancer, run)
    tuned = tune_spec(spec, breast_cancer)

    assert spec.feature_view.name == "cancer" and spec.preprocessing.scaling == "minmax"
    assert result.metrics["test_f1"] >= 0.93 and run.params["C"] == 0.5
    assert run.tags["feature_view"] == "cancer:2"
    assert spec.tuning is not None
    assert spec.tuning.space == {"C": LogUniform(0.01, 10.0), "max_iter": Int(200, 400, 100)}
    assert len(tuned.trials) == 3 and tuned.metric == "validation_roc_auc"


def test_invalid_fields_are_all_named(tmp_path: Path) -> None:
    text = _SPEC.replace("train: 0.6", "train: 0.7").replace("scaling: minmax", "scaling: robust")
    with pytest.raises(ValidationError) as caught:
        load_spec(_write(tmp_path, text))
    message = str(caught.value)
    assert "is invalid: " in message
    assert "split: Value error, train + validation + test must be 1, got 1.1" in message
    assert "preprocessing.scaling: Input should be 'standard', 'minmax' or 'none'" in message


def test_bad_space_entry_is_named(tmp_path: Path) -> None:
    text = _SPEC.replace("{loguniform: [0.01, 10]}", "{loguniform: [0, 10]}")
    with pytest.raises(ValidationError, match=r"tuning.space.C: loguniform\(0, 10\) needs low > 0"):
        load_spec(_write(tmp_path, text))


def test_unknown_metric_lists_the_known_ones(tmp_path: Path, breast_cancer: Splits) -> None:
    spec = load_spec(_write(tmp_path, _SPEC.replace("test_roc_auc]", "test_r2]")))
    with pytest.raises(ValidationError, match=r"Metric\(s\) \['test_r2'\] are not computed for a binary task"):
        run_spec(spec, breast_cancer)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="Training spec '.*nope.yaml' does not exist"):
        load_spec(tmp_path / "nope.yaml")
    with pytest.raises(ValidationError, match="is not valid YAML"):
        load_spec(_write(tmp_path, "model: [unclosed"))


def test_tuning_options_are_checked_like_project_tune(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"train.yaml. is invalid: tuning: n_workers must be >= 1, got 0\."):
        load_spec(_write(tmp_path, _SPEC.replace("n_trials: 3", "n_trials: 3\n  n_workers: 0")))
    with pytest.raises(ValidationError, match=r"tuning.samples: Unexpected keyword argument"):
        load_spec(_write(tmp_path, _SPEC.replace("n_trials: 3", "samples: 3")))
    with pytest.raises(ValidationError, match=r"tuning.sampler: Input should be 'tpe', 'random' or 'grid'"):
        load_spec(_write(tmp_path, _SPEC.replace("sampler: random", "sampler: cmaes")))
    with pytest.raises(
        ValidationError, match=r"tuning.space.C needs one of uniform, loguniform, int, choice with a list"
    ):
        load_spec(_write(tmp_path, _SPEC.replace("{loguniform: [0.01, 10]}", "{normal: [0, 1]}")))
