"""The request log's crash spool: segments synced as the writer takes rows, deleted once the rows are logged,
replayed exactly once (a torn last batch left out), and never taken from a live writer."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

import fti
from fti.inference_log import REQUEST_LOG_SCHEMA
from fti.inference_log.spool import RequestSpool
from fti.inference_log.writer import LogRecord, RequestLogConfig, RequestLogger
from fti.testing.serving import MemoryLogSink

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _batch(start: int, rows: int) -> pa.Table:
    return pa.table(
        {
            "request_id": [f"r{start + i}" for i in range(rows)],
            "timestamp": [T0 + timedelta(seconds=start + i) for i in range(rows)],
            "deployment": ["fraud"] * rows,
            "variant": ["m@champion"] * rows,
            "model_name": ["m"] * rows,
            "model_version": [1] * rows,
            "features": ['{"amount": 1.5}'] * rows,
            "prediction": [0.1] * rows,
            "latency_ms": [1.0] * rows,
            "is_shadow": [False] * rows,
        },
        schema=REQUEST_LOG_SCHEMA,
    )


def _record(request_id: str) -> LogRecord:
    frame = pd.DataFrame({"amount": [1.0, 2.0]})
    return LogRecord(request_id, T0, "fraud", "m@champion", "m", 1, frame, np.array([0.1, 0.2]), 1.0, False)


def test_a_replayed_spool_is_logged_exactly_once(project: fti.Project, tmp_path: Path) -> None:
    log = project.inference_log
    log.write(_batch(0, 3))  # committed, but the server died before deleting its segment
    spool = RequestSpool(tmp_path)
    spool.append(_batch(0, 3))
    spool.append(_batch(3, 2))  # acknowledged, never written to the log
    spool.rotate(keep=True)  # the process is gone: its lock with it
    assert RequestSpool(tmp_path).replay(log.write_new) == 5
    assert sorted(log.read("fraud").column("request_id").to_pylist()) == ["r0", "r1", "r2", "r3", "r4"]
    assert list(tmp_path.glob("*.arrows")) == []
    assert RequestSpool(tmp_path).replay(log.write_new) == 0


def test_a_torn_last_batch_is_left_out_and_a_live_segment_is_not_taken(tmp_path: Path) -> None:
    live = RequestSpool(tmp_path / "live")
    live.append(_batch(0, 2))
    assert RequestSpool(tmp_path / "live").replay(lambda table: None) == 0  # its writer holds it
    torn = RequestSpool(tmp_path / "torn")
    torn.append(_batch(0, 2))
    torn.append(_batch(2, 2))
    path = torn.path
    assert path is not None
    torn.rotate(keep=True)
    path.write_bytes(path.read_bytes()[:-40])  # the crash cut the last batch short
    replayed: list[pa.Table] = []
    assert RequestSpool(tmp_path / "torn").replay(replayed.append) == 2
    assert replayed[0].column("request_id").to_pylist() == ["r0", "r1"]
    live.rotate()


def test_the_writer_syncs_to_the_spool_before_the_sink_and_clears_it_after(tmp_path: Path) -> None:
    sink = MemoryLogSink()
    spool = RequestSpool(tmp_path)
    logger = RequestLogger(sink, RequestLogConfig(flush_seconds=60, spool_seconds=0.01), spool=spool)
    logger.start()
    logger.log(_record("a"))
    deadline = time.monotonic() + 30
    while not _spooled(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.01)
    # the rows are on disk in the spool while the sink has none yet (it is written once a minute)
    assert _spooled(tmp_path) == ["a", "a"]
    assert sink.batches == []
    logger.close()
    assert sink.table().column("request_id").to_pylist() == ["a", "a"]
    assert list(tmp_path.glob("*.arrows")) == []


def _spooled(folder: Path) -> list[str]:
    """The request ids of the whole batches in the spool's segments."""
    ids: list[str] = []
    for path in folder.glob("*.arrows"):
        try:
            reader = pa.ipc.open_stream(path.read_bytes())
            while True:
                ids += reader.read_next_batch().column("request_id").to_pylist()
        except (pa.ArrowInvalid, StopIteration):
            continue
    return ids
