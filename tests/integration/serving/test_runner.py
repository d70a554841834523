"""The uvicorn runner serves an app factory from several worker processes and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from fti.errors import ValidationError
from fti.inference.runner import serve
from fti.inference.server import ServingSettings
from fti.testing.services import free_port, wait_for_port
from tests.integration.serving.app_factory import build_app

pytestmark = [pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[3]


def test_two_workers_serve_the_factory_and_stop_gracefully() -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"}
    command = [sys.executable, "-m", "fti.inference.runner", "tests.integration.serving.app_factory:build_app"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=120)  # two workers import the stack: slow on a busy machine
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(10):
                response = client.post("/v1/deployments/fraud/predict", json={"instances": [{"a": 0.2, "b": 0.4}]})
                assert response.status_code == 200, response.text
                assert response.json()["model_versions"] == [1]
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output.decode()


def test_several_workers_need_a_factory_path() -> None:
    with pytest.raises(ValidationError) as caught:
        serve(build_app(), ServingSettings(workers=2))
    assert str(caught.value).startswith(
        "Serving with 2 workers needs the app as an import string 'module:factory' (each worker builds its own app)"
    )
