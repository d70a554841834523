"""``fti ingest``: a dry run, a first and a second run with a progress line, lineage in ``fti features show``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import RunCli

pytestmark = pytest.mark.e2e


def test_dry_run_then_ingest_then_nothing_new(run_cli: RunCli, project_dir: Path) -> None:
    assert run_cli("init", cwd=project_dir).returncode == 0
    data = project_dir / "data"
    data.mkdir()
    (data / "a.csv").write_text("id,ts,Monthly Spend\n1,2024-01-01T00:00:00Z,3.5\n2,2024-01-02T00:00:00Z,4\n")
    dry = run_cli("ingest", "./data/*.csv", "--into", "cards", "--dry-run", "--normalize-names", cwd=project_dir)
    assert dry.returncode == 0, dry.stderr
    assert "monthly_spend" in dry.stdout and "double" in dry.stdout and "3.5" in dry.stdout
    assert not (project_dir / ".fti" / "offline" / "feature_groups").exists(), "a dry run writes nothing"

    missing = run_cli("ingest", "./data/*.csv", "--into", "cards", cwd=project_dir)
    assert missing.returncode == 2
    assert "Feature group 'cards' does not exist" in missing.stderr and "--primary-key" in missing.stderr

    bad = run_cli(
        "ingest", "./data/*.csv", "--into", "cards", "--primary-key", "id", "--event-time", "ts", cwd=project_dir
    )
    assert bad.returncode == 2 and "normalize_names=True" in bad.stderr

    args = ("ingest", "./data/*.csv", "--into", "cards:1", "--primary-key", "id", "--event-time", "ts")
    first = run_cli(*args, "--rename", "Monthly Spend=spend", "--pipeline", "daily", cwd=project_dir)
    assert first.returncode == 0, first.stderr
    assert "Committed 2 new and 0 replaced rows" in first.stdout and "as commit 0" in first.stdout
    assert "2 rows" in first.stderr and "72 bytes" in first.stderr
    again = run_cli(*args, "--rename", "Monthly Spend=spend", cwd=project_dir)
    assert "Nothing new in csv:" in again.stdout

    shown = run_cli("features", "show", "cards", cwd=project_dir)
    assert shown.returncode == 0, shown.stderr
    assert "pipeline daily" in shown.stdout and "1 file(s):" in shown.stdout
    assert "1 file(s) read" in shown.stdout, "the Sources table shows the cursor"


def test_a_yaml_spec_with_ingest_options(run_cli: RunCli, project_dir: Path) -> None:
    assert run_cli("init", cwd=project_dir).returncode == 0
    (project_dir / "a.tsv").write_text("id\twhen\tamount\n1\t01/05/2024 12:00\t2.5\n")
    (project_dir / "events.yaml").write_text(
        'kind: csv\npath: a.tsv\ndelimiter: "\\t"\ncolumn_types: {when: string}\n'
        "ingest:\n  rename: {when: ts}\n  parse_dates: {ts: '%d/%m/%Y %H:%M'}\n"
    )
    result = run_cli(
        "ingest", "events.yaml", "--into", "events", "--primary-key", "id", "--event-time", "ts", cwd=project_dir
    )
    assert result.returncode == 0, result.stderr
    assert "Committed 1 new" in result.stdout
