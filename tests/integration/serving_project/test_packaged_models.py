"""`fti serve` started elsewhere: packaged model code, readiness of models that cannot load, metrics of several
workers, and graceful shutdown with a request in flight."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import fti
from fti.testing.server_process import ServerProcess
from fti.testing.services import free_port

pytestmark = [pytest.mark.e2e]

SRC = Path(__file__).resolve().parents[3] / "src"

_RULES = '''
import pathlib
import time

import numpy as np


class AmountRule:
    """Fraud when the amount is over a cut; sleeps on huge amounts, after touching a marker file."""

    classes_ = np.array([0, 1])

    def __init__(self, cut, marker=None):
        self.cut = cut
        self.marker = marker

    def predict(self, frame):
        if self.marker is not None and (frame["amount"] > 1000).any():
            pathlib.Path(self.marker).touch()
            time.sleep(2)
        return (frame["amount"] > self.cut).to_numpy().astype(np.int64)

    def predict_proba(self, frame):
        high = 1.0 / (1.0 + np.exp(-(frame["amount"].to_numpy() - self.cut)))
        return np.column_stack([1.0 - high, high])
'''
EXAMPLE = pd.DataFrame({"amount": [10.0, 200.0], "hour": [1.0, 2.0]})


def _package(folder: Path, name: str) -> Path:
    package = folder / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(_RULES)
    return package


def _serve(
    folder: Path, cwd: Path, *, workers: int = 1, env: dict[str, str] | None = None
) -> tuple[str, ServerProcess]:
    port = free_port()
    full_env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(SRC),
        "FTI_SERVING_REFRESH_SECONDS": "0.2",
        "FTI_SERVING_LOG_FLUSH_SECONDS": "0.2",
        **(env or {}),
    }
    command = [sys.executable, "-m", "fti", "serve", "--project", str(folder), "--port", str(port)]
    server = ServerProcess([*command, "--workers", str(workers)], full_env, cwd / f"serve-{port}.log", cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_ready(f"{url}/v2/health/live")
    except BaseException:
        server.kill()
        raise
    return url, server


def _stop(server: ServerProcess) -> str:
    server.stop()
    return server.output(100_000)


@pytest.fixture
def packaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project with a packaged rule ('rules'), an unpackaged one ('lonely') and a mismatched pin ('pinned')."""
    code = tmp_path / "code"
    packaged_rules = _package(code, "packaged_rules")
    _package(code, "lonely_rules")
    monkeypatch.syspath_prepend(str(code))
    from lonely_rules import AmountRule as Lonely  # type: ignore[import-not-found]
    from packaged_rules import AmountRule  # type: ignore[import-not-found]

    folder = tmp_path / "project"
    with fti.connect(folder) as project, project.start_run("rules") as run:
        run.log_model(AmountRule(100.0), "rules", input_example=EXAMPLE, code_paths=[packaged_rules])
        run.log_model(Lonely(100.0), "lonely", input_example=EXAMPLE)
        pinned = LogisticRegression().fit(EXAMPLE, [0, 1])
        run.log_model(pinned, "pinned", input_example=EXAMPLE, pip_requirements=["scikit-learn==0.1"])
    with fti.connect(folder) as project:
        project.deploy("rules", "rules", output_kind="both")
        project.deploy("lonely", "lonely")
        project.deploy("pinned", "pinned")
    yield folder


def test_packaged_code_serves_from_another_folder_and_broken_models_make_it_unready(
    packaged: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    url, server = _serve(packaged, elsewhere)
    try:
        body = {"instances": [{"amount": 50.0, "hour": 1.0}, {"amount": 150.0, "hour": 3.0}]}
        answer = httpx.post(f"{url}/v1/deployments/rules/predict", json=body)
        ready = httpx.get(f"{url}/v2/health/ready")
        lonely_ready = httpx.get(f"{url}/v2/models/lonely/ready")
        status = httpx.get(f"{url}/v1/status").json()
        with fti.connect(packaged) as project:
            project.undeploy("lonely")
            project.undeploy("pinned")
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/v2/health/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert httpx.get(f"{url}/v2/health/ready").status_code == 200
    finally:
        errors = _stop(server)
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == [0, 1] and answer.json()["classes"] == [0, 1]
    assert ready.status_code == 503 and lonely_ready.status_code == 503
    assert status["deployments"]["rules"] == {"state": "ready", "versions": {"rules": 1}}
    assert status["deployments"]["lonely"]["error"] == "ModuleNotFoundError: No module named 'lonely_rules'"
    sklearn = status["deployments"]["pinned"]["error"]
    assert sklearn.startswith("RequirementError: Model 'pinned' v1 needs 'scikit-learn==0.1' (scikit-learn ")
    assert "Loading deployment 'lonely' failed" in errors and "No module named 'lonely_rules'" in errors


def test_two_workers_count_into_one_set_of_metrics(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    with fti.connect(folder) as project, project.start_run("plain") as run:
        run.log_model(LogisticRegression().fit(EXAMPLE, [0, 1]), "plain", input_example=EXAMPLE)
    with fti.connect(folder) as project:
        project.deploy("plain", "plain")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    url, server = _serve(folder, tmp_path, workers=2, env={"TMPDIR": str(scratch)})
    body = {"instances": [{"amount": 1.0, "hour": 2.0}]}
    sent = 0
    try:
        while sent < 40 or (len(list(scratch.glob("fti-metrics-*/counter_*.db"))) < 2 and sent < 2000):
            with httpx.Client() as client:  # a new connection each time: the workers take turns accepting
                assert client.post(f"{url}/v1/deployments/plain/predict", json=body).status_code == 200
            sent += 1
        workers = len(list(scratch.glob("fti-metrics-*/counter_*.db")))
        metrics = httpx.get(f"{url}/metrics").text
    finally:
        _stop(server)
    assert workers == 2
    counted = re.search(r'^fti_requests_total\{deployment="plain",model="plain",version="1"\} (\S+)$', metrics, re.M)
    assert counted is not None and float(counted.group(1)) == sent
    assert list(scratch.glob("fti-metrics-*")) == []  # the folder is removed when the workers stopped


def test_sigterm_lets_a_request_in_flight_finish_and_flushes_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = tmp_path / "code"
    package = _package(code, "slow_rules")
    monkeypatch.syspath_prepend(str(code))
    from slow_rules import AmountRule  # type: ignore[import-not-found]

    marker = tmp_path / "predicting"
    folder = tmp_path / "project"
    with fti.connect(folder) as project, project.start_run("slow") as run:
        run.log_model(AmountRule(100.0, str(marker)), "slow", input_example=EXAMPLE, code_paths=[package])
    with fti.connect(folder) as project:
        project.deploy("slow", "slow")
    url, server = _serve(folder, tmp_path, env={"FTI_SERVING_LOG_FLUSH_SECONDS": "60"})
    answers: list[httpx.Response] = []

    def call() -> None:
        body = {"instances": [{"amount": 5000.0, "hour": 1.0}]}
        answers.append(
            httpx.post(f"{url}/v1/deployments/slow/predict", json=body, headers={"x-request-id": "slow-1"}, timeout=60)
        )

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert marker.exists(), "the request never reached the model"
    _stop(server)  # SIGTERM while the model is still predicting
    caller.join(timeout=60)
    assert server.process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it shut down cleanly
    assert answers[0].status_code == 200 and answers[0].json()["predictions"] == [1]
    with fti.connect(folder) as project:
        logged = project.inference_log.read("slow")
    assert logged.column("request_id").to_pylist() == ["slow-1"]
    np.testing.assert_array_equal(logged.column("prediction").to_numpy(), [1.0])
