"""``fti features`` and ``fti views`` on a project with data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
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
    assert "Statistics of the rows commit 0 wrote" not in output  # one commit: its rows are the whole group
    assert output.count("Statistics of") == 1 and "Statistics of the feature group at commit 0" in output
    assert "First 5 rows (by event time)" in output
    assert "team=risk" in output


def test_features_show_prints_commit_and_group_statistics_once_each(filled: Path) -> None:
    with fti.connect(filled) as project:
        frame = cards_frame()
        project.get_feature_group("cards").insert(frame.assign(ts=frame["ts"] + pd.Timedelta(days=1)))
    output = _run("features", "show", "cards", "-p", str(filled))
    assert output.count("Statistics of the rows commit 1 wrote") == 1
    assert output.count("Statistics of the feature group at commit 1") == 1


def test_head_reads_the_first_rows_by_event_time(filled: Path) -> None:
    with fti.connect(filled) as project:
        cards = project.get_feature_group("cards")
        everything = cards.read()
        assert cards.head(3).equals(everything.head(3))
        assert cards.head(0).empty and list(cards.head(0).columns) == list(everything.columns)
        with pytest.raises(ValidationError, match=r"head\(n\): n must be a whole number from 0 up, got -1"):
            cards.head(-1)


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
