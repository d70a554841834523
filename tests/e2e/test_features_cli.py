"""``fti features`` and ``fti views`` on a project with data."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import fti
from fti.cli.features import parse_ref
from fti.cli.main import app
from fti.errors import ValidationError
from tests.integration.feature_data import cards_frame

pytestmark = pytest.mark.e2e


@pytest.fixture
def filled(project_dir: Path) -> Path:
    with fti.connect(project_dir) as project:
        cards = project.create_feature_group(
            "cards", primary_key=["cc_num"], event_time="ts", description="card activity", tags={"team": "risk"}
        )
        cards.insert(cards_frame())
        labels = project.create_feature_group("labels", primary_key=["cc_num"], event_time="ts")
        labels.insert(cards_frame().rename(columns={"amount": "label"}))
        view = project.create_feature_view(
            "fraud", query=labels.select(["label"]).join(cards.select(["amount"])), labels=["label"]
        )
        view.create_training_data(split={"train": 0.5, "test": 0.5})
    return project_dir


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def test_features_list_and_search(filled: Path) -> None:
    output = _run("features", "list", "-p", str(filled))
    assert "cards" in output and "labels" in output
    searched = _run("features", "list", "-p", str(filled), "--search", "risk")
    assert "cards" in searched and "labels" not in searched


def test_features_show(filled: Path) -> None:
    output = _run("features", "show", "cards:1", "-p", str(filled))
    assert "Feature group cards v1" in output
    assert "timestamp[us, tz=UTC]" in output and "amount" in output
    assert "Statistics of the rows commit 0 wrote" in output
    assert "Statistics of the feature group at commit 0" in output
    assert "team=risk" in output


def test_views_list_and_show(filled: Path) -> None:
    assert "labels:1, cards:1" in _run("views", "list", "-p", str(filled))
    output = _run("views", "show", "fraud", "-p", str(filled))
    assert "Feature view fraud v1" in output and "labels: label" in output
    assert "train 0.5" in output and "labels:1@0" in output


def test_unknown_names_fail_with_one_line(filled: Path) -> None:
    result = CliRunner().invoke(app, ["features", "show", "nope", "-p", str(filled)])
    assert result.exit_code != 0
    assert "Feature group 'nope' does not exist" in str(result.exception)


def test_parse_ref() -> None:
    assert parse_ref("cards") == ("cards", None)
    assert parse_ref("cards:3") == ("cards", 3)
    with pytest.raises(ValidationError, match="Invalid reference 'cards:x': use NAME or NAME:VERSION"):
        parse_ref("cards:x")
