"""The CLI as a new user meets it: readable tables in a narrow terminal, run ids by prefix, no project made by
accident, errors that name what is wrong, servers that check their port, and help text made for a terminal."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from typer.core import TyperGroup

import fti
from fti.cli.main import command
from fti.errors import NotFoundError, ValidationError
from fti.testing.services import free_port
from tests.e2e.conftest import SRC, RunCli

pytestmark = pytest.mark.e2e


@pytest.fixture
def with_runs(project_dir: Path) -> Path:
    """Three long-named runs of 'fraud' with 40 params and 20 metrics each, and one run of 'other'."""
    with fti.connect(project_dir) as project:
        for index in range(3):
            with project.start_run("fraud", name=f"a-very-long-run-name-number-{index}-of-the-sweep") as run:
                run.log_params({f"param_{key}": key * index for key in range(40)})
                run.log_metrics({f"metric_{key}": key / 10 + index for key in range(20)})
                run.log_metric("test_roc_auc", 0.9 + index / 100)
        with project.start_run("other") as run:
            run.log_metric("loss", 1.0)
    return project_dir


def _table_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "│" in line or "┃" in line]


def test_runs_list_fits_80_columns_with_whole_headers_and_the_key_metric(with_runs: Path, run_cli: RunCli) -> None:
    result = run_cli("runs", "list", "-p", str(with_runs), cwd=with_runs, env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if line.startswith("┃"))
    assert [cell.strip() for cell in header.strip("┃").split("┃")] == [
        "run_id", "experiment", "name", "status", "started", "test_roc_auc",
    ]  # fmt: skip
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    assert "0.92" in result.stdout and "finished" in result.stdout and "a-very…" in result.stdout
    with fti.connect(with_runs) as project:
        full = project.runs("fraud", order_by="-metrics.test_roc_auc")["run_id"].iloc[0]
    assert full[:8] in result.stdout and full not in result.stdout
    shown = run_cli("runs", "show", full[:8], "-p", str(with_runs), cwd=with_runs)
    assert shown.returncode == 0 and f"Run {full}" in shown.stdout


def test_runs_list_columns_are_chosen_by_name(with_runs: Path, run_cli: RunCli) -> None:
    chosen = run_cli(
        "runs", "list", "-e", "fraud", "-c", "name,metric_3,param_2,tags.nothing", "-p", str(with_runs), cwd=with_runs
    )
    assert chosen.returncode == 2
    assert "--columns: no column 'tags.nothing' in the listed runs. Choose from: run_id, experiment" in chosen.stderr
    chosen = run_cli("runs", "list", "-e", "fraud", "-c", "name,metric_3,param_2", "-p", str(with_runs), cwd=with_runs)
    assert chosen.returncode == 0, chosen.stderr
    header = next(line for line in chosen.stdout.splitlines() if line.startswith("┃"))
    assert [cell.strip() for cell in header.strip("┃").split("┃")] == ["name", "metric_3", "param_2"]
    assert "a-very-long-run-name-number-2-of-the-sweep" in chosen.stdout and "2.3" in chosen.stdout


def test_an_ordering_error_names_the_ordering(with_runs: Path, run_cli: RunCli) -> None:
    result = run_cli("runs", "list", "-o", "nonsense", "-p", str(with_runs), cwd=with_runs)
    assert result.returncode == 2
    assert "Invalid run ordering (order_by, --order-by/-o) at position 0, near 'nonsense'" in result.stderr
    assert "run filter" not in result.stderr


def test_run_ids_resolve_from_any_unique_prefix(project: fti.Project) -> None:
    ids = []
    for _ in range(17):  # 17 ids over 16 hex digits: two share their first character
        with project.start_run("prefixes") as run:
            ids.append(run.id)
    assert project.get_run(ids[0][:6]).id == ids[0]
    shared = next(first for first in "0123456789abcdef" if sum(item.startswith(first) for item in ids) > 1)
    with pytest.raises(ValidationError, match=rf"Run id prefix '{shared}' matches several runs \({shared}"):
        project.get_run(shared)
    with pytest.raises(NotFoundError, match=r"Run 'zz' does not exist: list runs with `fti runs list`"):
        project.get_run("zz")
    compared = project.compare_runs([ids[0][:7], ids[1][:7]])
    assert list(compared.columns) == ids[:2]


def test_a_folder_without_a_project_is_not_made_one(tmp_path: Path, run_cli: RunCli) -> None:
    missing = run_cli("runs", "list", "-p", "doesnotexist", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "Error: No FTI project in doesnotexist: no fti.yaml there or above, and no .fti folder. Run `fti init "
        "doesnotexist` to create one, or point --project/-p at an existing project's folder."
    )
    here = run_cli("status", cwd=tmp_path)
    assert here.returncode == 2 and "No FTI project here" in here.stderr and "Run `fti init` to create" in here.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == []
    assert run_cli("init", cwd=tmp_path).returncode == 0
    assert run_cli("runs", "list", cwd=tmp_path).returncode == 0


def test_status_counts_the_user_s_objects_not_tables(with_runs: Path, run_cli: RunCli) -> None:
    result = run_cli("status", "-p", str(with_runs), cwd=with_runs)
    assert result.returncode == 0, result.stderr
    counts = {
        cells[0]: cells[1]
        for cells in ([cell.strip() for cell in line.strip("│").split("│")] for line in _table_lines(result.stdout))
        if len(cells) == 2
    }
    assert counts["runs"] == "4" and counts["experiments"] == "2" and counts["feature groups"] == "0"
    assert {"models", "model versions", "deployments", "pipelines"} <= set(counts)
    assert "run_latest_metrics" not in result.stdout and "alembic" not in result.stdout


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.mark.parametrize("server", ["serve", "ui"])
def test_a_busy_port_exits_2_before_serving(server: str, busy_port: int, project_dir: Path, run_cli: RunCli) -> None:
    fti.connect(project_dir).close()
    result = run_cli(server, "--port", str(busy_port), "-p", str(project_dir), cwd=project_dir, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == f"Error: port {busy_port} is in use (try --port)."
    assert "Serving" not in result.stdout + result.stderr and "dashboard" not in result.stdout


def test_serve_without_deployments_says_how_to_make_one(project_dir: Path) -> None:
    fti.connect(project_dir).close()
    with subprocess.Popen(
        [sys.executable, "-m", "fti", "serve", "--port", str(free_port()), "-p", str(project_dir)],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "COLUMNS": "300", "NO_COLOR": "1"},
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stderr is not None
            first = process.stderr.readline()
        finally:
            process.terminate()
            process.wait(timeout=60)
    assert first.startswith("No deployments yet: prediction routes answer 404 until one exists. Create one with ")
    assert "`fti deployments create NAME --variant MODEL@ALIAS`" in first


def _commands() -> Iterator[list[str]]:
    def walk(node: object, path: list[str]) -> Iterator[list[str]]:
        yield path
        if isinstance(node, TyperGroup):
            for name, child in node.commands.items():
                yield from walk(child, [*path, name])

    yield from walk(command(), [])


def test_help_is_made_for_a_terminal() -> None:
    root, runner, pages = command(), CliRunner(), {}
    for path in _commands():
        result = runner.invoke(root, [*path, "--help"], prog_name="fti", env={"COLUMNS": "200"})
        assert result.exit_code == 0, (path, result.output)
        pages[" ".join(path)] = result.output
    assert len(pages) > 40
    for path, page in pages.items():
        assert "``" not in page, path  # reST code marks
        assert "<bool>" not in page, path  # a flag takes no value
    listing = [line for line in pages[""].splitlines() if " ui " in line]
    assert len(listing) == 1 and listing[0].rstrip(" │").endswith("with a JSON API under /api.")
    assert "The tuning section holds the search space (max_depth: {int: [2, 8]})" in pages["tune"]
