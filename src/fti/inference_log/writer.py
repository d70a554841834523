"""The model server's writer of the inference log: every prediction, written in batches by a background thread.

The request path only appends a small record (one per model call, holding whole columns) to a queue;
a writer thread turns queued records into an Arrow table and hands it to the sink when
``batch_rows`` rows are waiting or ``flush_seconds`` have passed, and once more on close. When the
queue holds ``max_queue_rows`` rows the newest records are dropped and counted, so a slow sink can
never stall or exhaust the server.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from fti.inference_log.schema import REQUEST_LOG_SCHEMA

__all__ = ["LogRecord", "RequestLogConfig", "RequestLogSink", "RequestLogger", "to_table"]

_logger = logging.getLogger(__name__)
_ENCODE_ROWS = 256


class RequestLogSink(Protocol):
    """Receives batches of the request log (the inference log service, :class:`fti.inference_log.InferenceLog`)."""

    def write(self, batch: pa.Table) -> None:
        """Append ``batch``; called from a background thread, never on the request path."""


@dataclass(frozen=True, slots=True)
class RequestLogConfig:
    """Request log settings.

    Attributes:
        batch_rows: write once this many rows are queued.
        flush_seconds: write at least this often while rows are queued.
        max_queue_rows: drop new records beyond this many queued rows.
    """

    batch_rows: int = 1000
    flush_seconds: float = 1.0
    max_queue_rows: int = 100_000


@dataclass(frozen=True, slots=True)
class LogRecord:
    """The rows one model answered within one request (columns, not rows)."""

    request_id: str
    timestamp: datetime
    deployment: str
    variant: str
    model_name: str
    model_version: int
    features: pd.DataFrame
    predictions: np.ndarray[Any, Any]
    latency_ms: float
    is_shadow: bool


class RequestLogger:
    """Queues log records and writes them to a sink from a background thread.

    Args:
        sink: receives Arrow tables with ``REQUEST_LOG_SCHEMA``.
        config: batch size, flush interval and queue bound.
        on_drop: called with the row count of each dropped record (metrics).
    """

    def __init__(
        self, sink: RequestLogSink, config: RequestLogConfig, on_drop: Callable[[int], None] | None = None
    ) -> None:
        self._sink = sink
        self._config = config
        self._on_drop = on_drop
        self._records: deque[LogRecord] = deque()
        self._queued_rows = 0
        self._condition = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._queued_records = 0  # records ever queued, and ever handed to the sink (or dropped by it)
        self._done_records = 0
        self._flushing = False

    @property
    def queue_depth(self) -> int:
        """Rows waiting to be written."""
        return self._queued_rows

    def start(self) -> None:
        """Start the writer thread."""
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="fti-request-log", daemon=True)
        self._thread.start()

    def log(self, record: LogRecord) -> None:
        """Queue ``record``; never blocks on the sink."""
        rows = len(record.predictions)
        with self._condition:
            if self._queued_rows + rows > self._config.max_queue_rows:
                if self._on_drop is not None:
                    self._on_drop(rows)
                return
            self._records.append(record)
            self._queued_rows += rows
            self._queued_records += 1
            if self._queued_rows >= self._config.batch_rows:
                self._condition.notify_all()  # the writer thread, not only a flush waiting

    def flush(self, timeout: float = 30.0) -> bool:
        """Have the writer thread write what is queued now and wait for it (at most ``timeout`` seconds): a
        reader of the log (feedback on a request, say) then sees every request answered before the call.
        Returns whether everything queued was written in time."""
        with self._condition:
            if self._thread is None:
                return self._done_records >= self._queued_records
            target = self._queued_records
            self._flushing = True
            self._condition.notify_all()
            return self._condition.wait_for(lambda: self._done_records >= target, timeout)

    def close(self) -> None:
        """Write everything queued, then stop the writer thread."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while True:
            with self._condition:
                if not (self._stopping or self._flushing) and self._queued_rows < self._config.batch_rows:
                    self._condition.wait(self._config.flush_seconds)
                records = list(self._records)
                self._records.clear()
                self._queued_rows = 0
                self._flushing = False
                stopping = self._stopping
            if records:
                self._write(records)
            with self._condition:
                self._done_records += len(records)
                self._condition.notify_all()
            if stopping:
                return

    def _write(self, records: list[LogRecord]) -> None:
        try:
            self._sink.write(to_table(records))
        except Exception:  # a failing sink must not kill the writer; the records are lost and said so
            _logger.exception("Writing %d request log records failed; they are dropped.", len(records))
            if self._on_drop is not None:
                self._on_drop(sum(len(record.predictions) for record in records))


def to_table(records: list[LogRecord]) -> pa.Table:
    """One Arrow table with ``REQUEST_LOG_SCHEMA`` from queued records."""
    counts = np.array([len(record.predictions) for record in records], dtype=np.int64)

    def repeat(values: list[object], arrow_type: pa.DataType) -> pa.Array:
        return pa.array(values, type=arrow_type).take(pa.array(np.repeat(np.arange(len(records)), counts)))

    features = _features_json(records)
    predictions = np.concatenate([_numeric(record.predictions) for record in records])
    columns = [
        repeat([record.request_id for record in records], pa.string()),
        repeat([record.timestamp for record in records], pa.timestamp("us", tz="UTC")),
        repeat([record.deployment for record in records], pa.string()),
        repeat([record.variant for record in records], pa.string()),
        repeat([record.model_name for record in records], pa.string()),
        repeat([record.model_version for record in records], pa.int64()),
        features,
        pa.array(predictions, type=pa.float64(), from_pandas=True),
        repeat([record.latency_ms for record in records], pa.float64()),
        repeat([record.is_shadow for record in records], pa.bool_()),
    ]
    return pa.Table.from_arrays(columns, schema=REQUEST_LOG_SCHEMA)


def _numeric(predictions: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """One float per row; predictions that are not one number per row (labels, vectors) are logged as null."""
    values = np.asarray(predictions)
    if values.ndim == 1 and values.dtype.kind in "biuf":
        return values.astype(np.float64, copy=False)
    return np.full(len(values), np.nan)


def _features_json(records: list[LogRecord]) -> pa.Array:
    """Each row's features as a JSON object, encoded in one pass for the whole batch.

    Encoding per record costs far more than the rows themselves (a batch of single-row requests would
    hold the interpreter long enough to show in the server's tail latency), so the records' values are
    stacked into one frame first.
    """
    columns = records[0].features.columns
    if len(records) == 1 or not all(record.features.columns.equals(columns) for record in records):
        return pa.concat_arrays(
            [pa.array(r.features.to_json(orient="records", lines=True).splitlines(), pa.string()) for r in records]
        )
    matrices = [record.features.to_numpy() for record in records]
    if len({matrix.dtype for matrix in matrices}) > 1:
        matrices = [matrix.astype(object) for matrix in matrices]
    whole = pd.DataFrame(np.concatenate(matrices), columns=columns, copy=False)
    # Encode in slices: one C call holds the interpreter, and request threads should get it back soon.
    lines: list[str] = []
    for start in range(0, len(whole), _ENCODE_ROWS):
        lines += whole.iloc[start : start + _ENCODE_ROWS].to_json(orient="records", lines=True).splitlines()
    return pa.array(lines, pa.string())
