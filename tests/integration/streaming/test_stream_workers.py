"""``fti stream run`` processes on real Redis: a worker killed with SIGKILL mid-stream and restarted, and two
workers of one consumer group, leave the group equal to the backfill over every event, each counted once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis

import fti
from fti.testing.services import free_port

from .conftest import assert_equal_to_backfill, create_group, transactions

SRC = Path(__file__).resolve().parents[3] / "src"


def _project(folder: Path, redis_url: str) -> fti.Project:
    (folder / "fti.yaml").write_text(f"stream_broker:\n  url: {redis_url}\n")
    return fti.connect(folder)


def _start(folder: Path, *options: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "fti", "stream", "run", "cards", "-p", str(folder), "--no-live", *options]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return str(response.read().decode())
    except OSError:
        return ""


def _wait_for(condition: object, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_worker_killed_mid_stream_resumes_with_no_event_lost_or_counted_twice(
    project_dir: Path, redis_url: str, stream_name: str, request: pytest.FixtureRequest
) -> None:
    with _project(project_dir, redis_url) as project:
        create_group(project, "cards", stream_name)
        events = transactions(20_000, cards=300, seed=11)
        project.publish(stream_name, events, key=["cc_num"], partitions=2)
    client = redis.Redis.from_url(redis_url)
    request.addfinalizer(client.close)
    checkpoint = f"fti:stream:{stream_name}:0:cp:cards_v1"
    worker = _start(project_dir, "--batch-size", "200", "--commit-seconds", "0.05", "--exit-when-idle", "2")
    _wait_for(lambda: client.exists(checkpoint), "a first checkpoint")
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=30)
    groups = {info["name"]: info for info in client.xinfo_groups(stream_name)}
    assert groups[b"cards_v1"]["lag"] > 0 or groups[b"cards_v1"]["pending"] > 0, "the worker finished before the kill"
    restarted = _start(project_dir, "--batch-size", "1000", "--exit-when-idle", "2")
    output, _ = restarted.communicate(timeout=300)
    assert restarted.returncode == 0, output
    assert "replayed" in output
    with fti.connect(project_dir) as project:
        assert_equal_to_backfill(project, "cards", events)


def test_two_workers_of_one_group_count_each_event_once(project_dir: Path, redis_url: str, stream_name: str) -> None:
    with _project(project_dir, redis_url) as project:
        create_group(project, "cards", stream_name)
        events = transactions(6_000, cards=100, seed=5)
        project.publish(stream_name, events, key=["cc_num"], partitions=4)
    workers = _start(project_dir, "--workers", "2", "--exit-when-idle", "2")
    output, _ = workers.communicate(timeout=300)
    assert workers.returncode == 0, output
    assert "worker 0 of 2, partitions [0, 2]" in output
    assert "worker 1 of 2, partitions [1, 3]" in output
    with fti.connect(project_dir) as project:
        assert_equal_to_backfill(project, "cards", events)


def test_sigterm_checkpoints_then_exits(
    project_dir: Path, redis_url: str, stream_name: str, request: pytest.FixtureRequest
) -> None:
    with _project(project_dir, redis_url) as project:
        create_group(project, "cards", stream_name)
        events = transactions(2_000, cards=50, seed=3)
        project.publish(stream_name, events, key=["cc_num"])
    port = free_port()
    worker = _start(project_dir, "--commit-seconds", "60", "--metrics-port", str(port))
    client = redis.Redis.from_url(redis_url)
    request.addfinalizer(client.close)
    _wait_for(lambda: client.xinfo_groups(stream_name) and client.xinfo_groups(stream_name)[0]["lag"] == 0, "reads")
    counted = 'fti_stream_events_in_total{group="cards",worker="0"} 2000.0'
    _wait_for(lambda: counted in _scrape(port), "the metrics to count every event")
    worker.send_signal(signal.SIGTERM)
    output, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, output
    assert client.xinfo_groups(stream_name)[0]["pending"] == 0
    assert client.exists(f"fti:stream:{stream_name}:0:cp:cards_v1")
    with fti.connect(project_dir) as project:
        assert_equal_to_backfill(project, "cards", events)
