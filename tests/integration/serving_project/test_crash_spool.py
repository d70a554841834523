"""`fti serve` killed with SIGKILL under load: on restart, every acknowledged prediction but those of the last
spool interval is in the request log, each exactly once."""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pyarrow.compute as pc
import pytest

import fti
from fti.testing.server_process import ServerProcess
from fti.testing.services import free_port
from tests.integration.serving_project.conftest import FEATURES, SRC, build_project

pytestmark = [pytest.mark.e2e]

SPOOL_SECONDS = 0.1
REQUESTS = 300


def _serve(folder: Path, port: int, log_name: str) -> ServerProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "FTI_SERVING_LOG_FLUSH_SECONDS": "60",  # nothing reaches the log before the kill but through the spool
        "FTI_SERVING_LOG_SPOOL_SECONDS": str(SPOOL_SECONDS),
    }
    command = [sys.executable, "-m", "fti", "serve", "--project", str(folder), "--port", str(port)]
    server = ServerProcess(command, env, folder.parent / log_name)
    try:
        server.wait_ready(f"http://127.0.0.1:{port}/v2/health/ready")
    except BaseException:
        server.kill()
        raise
    return server


def test_acknowledged_predictions_survive_sigkill_exactly_once(tmp_path: Path) -> None:
    build_project(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(tmp_path, port, "first.log")
    acknowledged: dict[str, float] = {}
    lock = threading.Lock()
    random = np.random.default_rng(0)

    def send(index: int) -> None:
        row = {"cc_num": index % 12, **dict(zip(FEATURES, random.normal(size=3).tolist(), strict=True))}
        response = httpx.post(
            f"{url}/v1/deployments/ab/predict",
            json={"instances": [row]},
            headers={"x-request-id": f"crash-{index}"},
            timeout=30,
        )
        if response.status_code == 200:
            with lock:
                acknowledged[f"crash-{index}"] = time.monotonic()

    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(send, range(REQUESTS)))
        server.process.kill()  # at once: the last answers are still only in memory or the spool
        killed = time.monotonic()
    finally:
        server.kill()
    assert len(acknowledged) == REQUESTS
    with _serve(tmp_path, free_port(), "restarted.log"):  # replays the spool into the log as it starts
        pass
    with fti.connect(tmp_path) as project:
        log = project.inference_log.read("ab", columns=["request_id"])
    ids = log.filter(pc.starts_with(log.column("request_id"), "crash-")).column("request_id").to_pylist()
    assert len(ids) == len(set(ids)), "a prediction was logged twice"
    lost = {request_id: killed - acknowledged[request_id] for request_id in set(acknowledged) - set(ids)}
    assert all(age <= SPOOL_SECONDS for age in lost.values()), f"lost beyond the spool interval: {lost}"
    assert len(ids) >= REQUESTS - len(lost)
