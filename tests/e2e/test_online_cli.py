"""``fti features materialize`` and ``fti features get`` through the real command."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import fti
from tests.e2e.conftest import RunCli

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(project_dir: Path) -> Path:
    frame = pd.DataFrame(
        {
            "cc_num": pd.Series([42, 42, 7], dtype="int64"),
            "ts": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-03"], utc=True),
            "amount": [1.5, 2.5, 9.0],
            "country": ["DE", "FR", "NL"],
        }
    )
    with fti.connect(project_dir) as project:
        cards = project.create_feature_group("cards", primary_key=["cc_num"], event_time="ts", online=True)
        cards.insert(frame)
        project.create_feature_view("fraud", query=cards.select(["amount", "country"]))
        project.online_store.delete_table("cards_1")  # the CLI has to load it again
    return project_dir


def test_materialize_then_get_a_feature_vector(run_cli: RunCli, served: Path) -> None:
    loaded = run_cli("features", "materialize", "cards:1", "--end", "2024-01-04", cwd=served)
    assert loaded.returncode == 0, loaded.stderr
    assert "Materialized 2 keys of feature group cards v1." in loaded.stdout
    early = run_cli("features", "get", "fraud", "--key", "cc_num=42", cwd=served)
    assert early.returncode == 0, early.stderr
    assert "1.5" in early.stdout and "DE" in early.stdout

    assert run_cli("features", "materialize", "cards", cwd=served).returncode == 0
    latest = run_cli("features", "get", "fraud:1", "-k", "cc_num=42", cwd=served)
    assert "amount" in latest.stdout and "2.5" in latest.stdout and "FR" in latest.stdout
    missing = run_cli("features", "get", "fraud", "-k", "cc_num=5", cwd=served)
    assert missing.returncode == 0 and "null" in missing.stdout


def test_online_commands_fail_with_one_line(run_cli: RunCli, served: Path) -> None:
    cases = {
        ("features", "get", "fraud", "--key", "cc_num=abc"): (
            "--key cc_num='abc' of feature view 'fraud' v1: expected a value of type int64."
        ),
        ("features", "get", "fraud", "--key", "card=1"): (
            "--key 'card' is not a key of feature view 'fraud' v1; its keys are: cc_num."
        ),
        ("features", "get", "fraud", "--key", "42"): "Invalid --key '42': use COLUMN=VALUE, e.g. cc_num=42.",
        ("features", "materialize", "nope"): "Feature group 'nope' does not exist; known: cards.",
    }
    for args, message in cases.items():
        result = run_cli(*args, cwd=served)
        assert result.returncode == 2, args
        assert result.stderr.strip().splitlines() == [f"Error: {message}"]


def test_help_texts(run_cli: RunCli, tmp_path: Path) -> None:
    get = run_cli("features", "get", "--help", cwd=tmp_path)
    assert "feature vector" in get.stdout and "COLUMN=VALUE" in get.stdout
    materialize = run_cli("features", "materialize", "--help", cwd=tmp_path)
    assert "online store" in materialize.stdout and "--start" in materialize.stdout
