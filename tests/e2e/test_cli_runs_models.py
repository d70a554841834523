"""``fti runs`` and ``fti models`` through the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import fti
from fti.cli.main import app

pytestmark = pytest.mark.e2e

SRC = Path(__file__).resolve().parents[2] / "src"


class Constant:
    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.ones(len(frame))


@pytest.fixture
def seeded(project_dir: Path) -> dict[str, str]:
    ids = {}
    with fti.connect(project_dir) as project:
        for name, f1, model in [("alpha", 0.9, "xgb"), ("beta", 0.7, "rf")]:
            with project.start_run("fraud", name=name) as run:
                run.log_params({"model": model})
                run.log_metric("f1", f1)
                run.log_dict({"a": 1}, "config.json")
                for _ in range(2):
                    run.log_model(Constant(), "fraud-detector", input_example=pd.DataFrame({"x": [1.0]}))
            ids[name] = run.id
    return ids


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_runs_list_filters(project_dir: Path, seeded: dict[str, str]) -> None:
    output = _invoke("runs", "list", "-p", str(project_dir), "--filter", "metrics.f1 > 0.8", "-o", "-metrics.f1")
    assert seeded["alpha"][:8] in output and seeded["beta"][:8] not in output  # a short id, any prefix works
    assert "Runs (1)" in output
    assert "No runs match." in _invoke("runs", "list", "-p", str(project_dir), "-e", "nothing")


def test_runs_show_and_compare(project_dir: Path, seeded: dict[str, str]) -> None:
    shown = _invoke("runs", "show", seeded["alpha"], "-p", str(project_dir))
    for text in ("fraud", "alpha", "finished", "model", "xgb", "f1", "config.json", "fraud-detector:1"):
        assert text in shown
    compared = _invoke("runs", "compare", seeded["alpha"], seeded["beta"], "-p", str(project_dir))
    assert "params.model" in compared and "xgb" in compared and "rf" in compared


def test_models_list_show_and_alias(project_dir: Path, seeded: dict[str, str]) -> None:
    listed = _invoke("models", "list", "-p", str(project_dir))
    assert "fraud-detector" in listed and "4" in listed
    moved = _invoke(
        "models", "alias", "fraud-detector:3", "champion", "--protected", "--reason", "best", "-p", str(project_dir)
    )
    assert "Alias 'champion' of model fraud-detector now points at v3." in moved
    _invoke("models", "alias", "fraud-detector:4", "champion", "--force", "--reason", "newer", "-p", str(project_dir))
    history = _invoke("models", "show", "fraud-detector", "-p", str(project_dir))
    assert "Alias history" in history and "best" in history and "newer" in history
    detail = _invoke("models", "show", "fraud-detector@champion", "-p", str(project_dir))
    assert "Model fraud-detector v4" in detail and "x: double" in detail and seeded["beta"] in detail


def _cli(project_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fti", *args, "-p", str(project_dir)],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_errors_are_one_clear_line(project_dir: Path, seeded: dict[str, str]) -> None:
    protected = _cli(project_dir, "models", "alias", "fraud-detector:1", "prod", "--protected")
    assert protected.returncode == 0, protected.stderr
    refused = _cli(project_dir, "models", "alias", "fraud-detector:2", "prod")
    assert refused.returncode == 2
    assert "Alias 'prod' of model 'fraud-detector' is protected and points at v1" in refused.stderr
    bad_filter = _cli(project_dir, "runs", "list", "--filter", "metrics.f1 >> 1")
    assert bad_filter.returncode == 2
    assert "Invalid run filter at position 12, near '>'" in bad_filter.stderr
    missing = _cli(project_dir, "models", "alias", "fraud-detector", "prod")
    assert missing.returncode == 2
    assert "Give the version the alias should point at, like 'fraud-detector:3'." in missing.stderr


def test_every_command_has_help() -> None:
    for group, commands in {"runs": ["list", "show", "compare"], "models": ["list", "show", "alias"]}.items():
        for command in commands:
            output = _invoke(group, command, "--help")
            assert "Usage" in output
