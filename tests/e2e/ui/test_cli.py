"""``fti ui`` serves the dashboard from the command line, with the token from the environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import SRC, RunCli

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_health(client: httpx.Client, process: subprocess.Popen[str]) -> httpx.Response:
    """The banner prints just before uvicorn binds: retry until it answers, or the process ends."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            return client.get("/api/health")
        except httpx.ConnectError:
            try:
                process.wait(timeout=0.1)  # waits a little, and notices a server that died
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(f"fti ui exited with {process.returncode}") from None
    raise AssertionError("fti ui did not answer within 30 s")


def test_help_names_the_options(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("ui", "--help", cwd=tmp_path)
    assert result.returncode == 0
    for option in ("--host", "--port", "--project", "--token", "--alerts"):
        assert option in result.stdout


def test_a_bad_port_is_refused(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "fti.yaml").write_text("project: ui_port\n")
    result = run_cli("ui", "--port", "0", "--project", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert "--port must be between 1 and 65535, got 0." in result.stderr


def test_serves_the_project_with_the_token_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "fti.yaml").write_text("project: ui_token\n")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(SRC), "FTI_UI_TOKEN": "from-env", "NO_COLOR": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "fti", "ui", "--port", str(port), "--project", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert f"on http://localhost:{port} (token required)" in banner
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            health = _wait_for_health(client, process)
            assert health.status_code == 200
            assert client.get("/api/runs").status_code == 401
            runs = client.get("/api/runs", headers={"Authorization": "Bearer from-env"})
            assert runs.status_code == 200 and runs.json()["total"] == 0
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def test_serves_with_the_token_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "fti.yaml").write_text("project: ui_token_file\n")
    port = _free_port()
    (tmp_path / "token").write_text("from-file\n")
    env = {key: value for key, value in os.environ.items() if key != "FTI_UI_TOKEN"}
    env |= {"PYTHONPATH": str(SRC), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "fti", "ui", "--port", str(port), "--project", str(tmp_path)]
    process = subprocess.Popen(
        [*command, "--token-file", str(tmp_path / "token")], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            assert _wait_for_health(client, process).status_code == 200
            assert client.get("/api/runs", headers={"Authorization": "Bearer from-file"}).status_code == 200
            assert client.get("/api/runs", headers={"Authorization": "Bearer from"}).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads the process list from /proc")
def test_a_token_given_with_token_leaves_the_process_list(tmp_path: Path) -> None:
    (tmp_path / "fti.yaml").write_text("project: ui_token_argument\n")
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key != "FTI_UI_TOKEN"}
    env |= {"PYTHONPATH": str(SRC), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "fti", "ui", "--port", str(port), "--project", str(tmp_path)]
    process = subprocess.Popen(
        [*command, "--token", "on-the-command-line"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            assert _wait_for_health(client, process).status_code == 200
            bearer = {"Authorization": "Bearer on-the-command-line"}
            assert client.get("/api/runs", headers=bearer).status_code == 200
            assert client.get("/api/runs").status_code == 401
        # the serving process (the same pid) shows its arguments without the token
        arguments = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert b"ui" in arguments and b"--port" in arguments
        assert not any(b"on-the-command-line" in argument for argument in arguments)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def test_a_token_file_must_hold_a_token_and_comes_alone(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "fti.yaml").write_text("project: ui_token_file\n")
    (tmp_path / "empty").write_text("\n")
    empty = run_cli("ui", "--token-file", str(tmp_path / "empty"), "--project", str(tmp_path), cwd=tmp_path)
    assert empty.returncode == 2 and "is empty: write the token on its first line." in empty.stderr
    both = run_cli("ui", "--token", "t", "--token-file", str(tmp_path / "empty"), cwd=tmp_path)
    assert both.returncode == 2 and "Give the token once" in both.stderr


def test_require_tokens_serves_the_projects_api_tokens_with_their_roles(tmp_path: Path) -> None:
    import fti

    (tmp_path / "fti.yaml").write_text("project: ui_named_tokens\n")
    with fti.connect(tmp_path) as project:
        reader = project.create_token("reader", "read")
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key != "FTI_UI_TOKEN"}
    env |= {"PYTHONPATH": str(SRC), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "fti", "ui", "--port", str(port), "--project", str(tmp_path)]
    process = subprocess.Popen([*command, "--require-tokens"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert "(token required)" in process.stdout.readline()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            assert _wait_for_health(client, process).status_code == 200
            assert client.get("/api/runs").status_code == 401
            bearer = {"Authorization": f"Bearer {reader}"}
            assert client.get("/api/runs", headers=bearer).status_code == 200
            assert client.post("/api/runs", headers=bearer).status_code == 403
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
