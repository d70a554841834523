"""`fti deployments create`: variants with shares, ensembles, scores and hooks from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import fti
from fti.cli.deployment_commands import parse_variants
from fti.cli.main import app
from fti.errors import ValidationError
from tests.integration.serving_project.conftest import build_project

runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("create")
    build_project(path)
    return path


def test_create_splits_traffic_and_builds_ensembles(folder: Path) -> None:
    split = runner.invoke(
        app,
        ["deployments", "create", "fraud", "--variant", "fraud@champion=0.9", "--variant", "fraud@challenger=0.1",
         "--entity-key", "cc_num", "--feature-view", "fraud", "--output-kind", "both", "--project", str(folder)],
    )  # fmt: skip
    assert split.exit_code == 0, split.stdout
    assert "Deployment 'fraud' serves traffic split between fraud@champion 90%, fraud@challenger 10%" in split.stdout
    ensemble = runner.invoke(
        app,
        ["deployments", "create", "blend", "-v", "fraud:1", "-v", "fraud:2", "--combine", "mean",
         "--project", str(folder)],
    )  # fmt: skip
    assert ensemble.exit_code == 0, ensemble.stdout
    assert "an ensemble (mean) of fraud:1 50%, fraud:2 50%; it answers predict." in ensemble.stdout
    with fti.connect(folder) as project:
        stored = project.get_deployment("fraud")
        assert stored.output_kind == "both" and stored.entity_keys == ("cc_num",)
        assert project.get_deployment("blend").combine == "mean"
    listed = runner.invoke(app, ["deployments", "list", "--project", str(folder)])
    assert listed.exit_code == 0 and "blend" in listed.stdout


def test_variant_shares_are_all_or_nothing() -> None:
    assert parse_variants(["a@champion=0.9", "a@challenger=0.1"]) == {"a@champion": 0.9, "a@challenger": 0.1}
    assert parse_variants(["a:1", "a:2"]) == ["a:1", "a:2"]
    with pytest.raises(ValidationError) as caught:
        parse_variants(["a@champion=0.9", "a:2"])
    assert str(caught.value) == (
        "--variant gives shares for ['a@champion'] but not for ['a:2']: give every variant a share, or none (equal "
        "shares)."
    )
    with pytest.raises(ValidationError, match="has the share 'most', which is not a number"):
        parse_variants(["a=most"])
