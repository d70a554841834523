"""``fti train`` and ``fti tune`` from a small YAML spec over a feature view of the project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import fti
from fti.cli.main import app
from fti.features.training import TrainingDataset

SRC = Path(__file__).resolve().parents[3] / "src"

TRAIN_SPEC = """
feature_view: {name: diabetes, version: 1}
split: {train: 0.7, validation: 0.15, test: 0.15, by: time}
model: {type: linear_regression}
metrics: [test_r2, test_rmse]
model_name: diabetes-cli
"""

TUNE_SPEC = """
feature_view: {name: diabetes, version: 1}
training_dataset: 1
model: {type: linear}
model_name: diabetes-cli-tuned
experiment: diabetes_cli_tuning
tuning:
  sampler: random
  n_trials: 3
  space:
    alpha: {loguniform: [0.01, 10.0]}
"""


def test_fti_train_registers_and_summarizes(
    shared_project: fti.Project, diabetes: TrainingDataset, tmp_path: Path
) -> None:
    spec = tmp_path / "train.yaml"
    spec.write_text(TRAIN_SPEC)

    result = CliRunner().invoke(app, ["train", str(spec), "--project", str(shared_project.root)])

    assert result.exit_code == 0, result.output
    version = shared_project.get_model("diabetes-cli")
    assert f"diabetes-cli v{version.version}" in result.output
    assert "test_r2" in result.output and version.run_id in result.output
    assert version.metrics["test_r2"] > 0.3
    lineage = version.lineage().training_data
    assert lineage is not None and lineage.training_dataset_version > diabetes.version  # a new dataset


def test_fti_tune_reuses_the_named_training_dataset(
    shared_project: fti.Project, diabetes: TrainingDataset, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "tune.yaml"
    spec.write_text(TUNE_SPEC)

    result = CliRunner().invoke(app, ["tune", str(spec), "--project", str(shared_project.root)])

    assert result.exit_code == 0, result.output
    assert "3 trials complete" in result.output
    assert "Trial 0 finished" not in capfd.readouterr().err  # each trial is a nested run, not an Optuna log line
    version = shared_project.get_model("diabetes-cli-tuned")
    lineage = version.lineage().training_data
    assert lineage is not None and lineage.training_dataset_version == diabetes.version
    runs = shared_project.runs("diabetes_cli_tuning")
    assert (runs["parent_run_id"] == version.run_id).sum() == 3


def test_train_and_tune_have_help() -> None:
    for command in ("train", "tune"):
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0
        assert "spec" in result.output


def test_a_bad_spec_is_one_line_naming_file_and_field(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("feature_view: {name: diabetes, version: 1}\nmodel: {params: {alpha: 1}}\n")
    (tmp_path / "fti.yaml").write_text("project: bad_spec\n")
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "400", "NO_COLOR": "1"}

    result = subprocess.run(
        [sys.executable, "-m", "fti", "train", str(spec)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"Training spec '{spec}' is invalid: model.type: Field required." in lines[0]
