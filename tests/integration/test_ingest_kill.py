"""An ingestion killed with SIGKILL, mid-stream or between its data commit and its catalog row, then run again:
every row of every source kind lands exactly once.

The child process runs ``project.ingest(SPEC, into="events")`` with a transform that reports its first
batch through a file. Mid-stream, it then blocks until killed. Otherwise the test takes the catalog's
write lock (a SQLite catalog), lets the child go on, waits for its data commit to appear in the table's
Delta log, and kills it while it waits for the catalog.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa

import fti
from tests.integration.ingest_data import assert_exactly_once, write_csv
from tests.integration.orders_api import OrdersApi, orders_api
from tests.integration.test_ingest_sql import add_orders

SRC = Path(__file__).resolve().parents[2]

_CHILD = textwrap.dedent(
    """
    import sys, threading, pathlib
    import pyarrow as pa
    import fti

    spec, folder, sync, mode = sys.argv[1:5]
    sync = pathlib.Path(sync)
    batches = []

    def report(table: pa.Table) -> pa.Table:
        batches.append(len(table))
        if len(batches) == 1:
            (sync / "reading").touch()
            if mode == "mid-stream":
                threading.Event().wait()
            while not (sync / "locked").exists():
                threading.Event().wait(0.01)
        return table

    with fti.connect(folder) as project:
        project.ingest(spec, into="events", transform=report, parse_dates=["ts"])
    """
)


def _wait_for(path: Path, child: subprocess.Popen[bytes]) -> None:
    """Block until ``path`` exists (the child made it), failing if the child ends first."""
    event = threading.Event()
    while not path.exists():
        assert child.poll() is None, f"the ingestion ended (exit {child.returncode}) before {path.name}"
        event.wait(0.01)


def _run_killed(spec: str, project_dir: Path, sync: Path, mode: str) -> None:
    sync.mkdir()
    env = {**os.environ, "PYTHONPATH": str(SRC / "src")}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, spec, str(project_dir), str(sync), mode], env=env)
    lock: sqlite3.Connection | None = None
    try:
        _wait_for(sync / "reading", child)
        if mode == "after-data":
            lock = sqlite3.connect(project_dir / ".fti" / "catalog.db", isolation_level=None, timeout=60)
            lock.execute("BEGIN IMMEDIATE")
            log = project_dir / ".fti" / "offline" / "feature_groups" / "events_v1" / "_delta_log"
            seen = len(list(log.glob("*.json")))
            (sync / "locked").touch()
            while len(list(log.glob("*.json"))) == seen:
                assert child.poll() is None, "the ingestion ended before its data commit"
                threading.Event().wait(0.01)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        if lock is not None:
            lock.execute("ROLLBACK")
            lock.close()
    assert child.returncode == -signal.SIGKILL


@pytest.fixture
def http_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[OrdersApi]:
    monkeypatch.setenv("ORDERS_TOKEN", "secret")
    with orders_api() as served:
        yield served


Source = tuple[str, Callable[[int, int], None]]


def _files(tmp_path: Path, request: pytest.FixtureRequest) -> Source:
    folder = tmp_path / "data"

    def add(start: int, rows: int) -> None:
        for first in range(start, start + rows, 10):
            write_csv(folder / f"events_{first:05d}.csv", first, min(10, start + rows - first))

    return f"{folder}/*.csv", add


def _s3(tmp_path: Path, request: pytest.FixtureRequest) -> Source:
    endpoint, bucket = request.getfixturevalue("s3_endpoint"), request.getfixturevalue("s3_bucket")
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")

    def add(start: int, rows: int) -> None:
        for first in range(start, start + rows, 10):
            path = write_csv(tmp_path / "upload.csv", first, min(10, start + rows - first))
            client.upload_file(str(path), bucket, f"events/{first:05d}.csv")

    spec = tmp_path / "s3.yaml"
    spec.write_text(f"kind: csv\npath: s3://{bucket}/events/*.csv\nendpoint_url: {endpoint}\n")
    return str(spec), add


def _postgres(tmp_path: Path, request: pytest.FixtureRequest) -> Source:
    url = request.getfixturevalue("postgres_url")
    engine = sa.create_engine(url)
    request.addfinalizer(engine.dispose)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE orders (id BIGINT, ts TIMESTAMPTZ, amount DOUBLE PRECISION)"))
    spec = tmp_path / "orders.yaml"
    spec.write_text(f"kind: sql\nurl: {url}\ntable: orders\ncursor: id\nchunk_rows: 10\n")
    return str(spec), lambda start, rows: add_orders(engine, start, rows)


def _http(tmp_path: Path, request: pytest.FixtureRequest) -> Source:
    api: OrdersApi = request.getfixturevalue("http_api")
    api.throttled = {3}
    api.retry_after = "0"
    spec = tmp_path / "api.yaml"
    spec.write_text(
        f"kind: http\nurl: {api.url}/orders\nrecords: data\ncursor_field: id\ncursor_param: since_id\n"
        "headers: {Authorization: 'Bearer ${ORDERS_TOKEN}'}\n"
        "pagination: {kind: page_number, param: page, size_param: per_page, size: 10}\n"
    )
    return str(spec), api.add


SOURCES = {"files": _files, "s3": _s3, "postgresql": _postgres, "http": _http}


@pytest.mark.parametrize("mode", ["mid-stream", "after-data"])
@pytest.mark.parametrize("kind", list(SOURCES))
def test_a_killed_ingestion_run_again_reads_every_row_exactly_once(
    kind: str, mode: str, project_dir: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    spec, add = SOURCES[kind](tmp_path, request)
    add(0, 40)
    with fti.connect(project_dir) as project:
        group = project.create_feature_group("events", primary_key=["id"], event_time="ts")
        first = project.ingest(spec, into=group, parse_dates=["ts"])
        assert (first.commit, first.rows_inserted) == (0, 40)
    add(40, 50)
    _run_killed(spec, project_dir, tmp_path / "sync", mode)
    with fti.connect(project_dir) as project:
        group = project.get_feature_group("events")
        assert [commit.commit for commit in group.commits()] == [0]
        assert_exactly_once(group, range(40))
        again = project.ingest(spec, into=group, parse_dates=["ts"])
        assert again.rows_inserted == 50
        assert_exactly_once(group, range(90))
        add(90, 5)
        assert project.ingest(spec, into=group, parse_dates=["ts"]).rows_inserted == 5
        assert_exactly_once(group, range(95))
        assert project.ingest(spec, into=group, parse_dates=["ts"]).commit is None
