"""The model server's writer of the inference log: every prediction, written in batches by a background thread.

The request path only appends a small record (one per model call, holding whole columns) to a queue;
a writer thread turns queued records into an Arrow table and hands it to the sink when
``batch_rows`` rows are waiting or ``flush_seconds`` have passed, and once more on close. When the
queue holds ``max_queue_rows`` rows the newest records are dropped and counted, so a slow sink can
never stall or exhaust the server.

With a spool (:class:`~fti.inference_log.spool.RequestSpool`) the thread also wakes every ``spool_seconds``
to encode what was queued and sync it to the spool, so a crash loses at most that interval of acknowledged
predictions; :meth:`RequestLogger.replay` writes what a crashed server left, at start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from fti.faults import kill_point
from fti.inference_log.inputs import concat_logged, split_features
from fti.inference_log.schema import INPUTS_COLUMN, STORED_LOG_SCHEMA

if TYPE_CHECKING:
    from fti.inference_log.spool import RequestSpool

__all__ = ["LogRecord", "ReplayableLogSink", "RequestLogConfig", "RequestLogSink", "RequestLogger", "to_table"]

_logger = logging.getLogger(__name__)


class RequestLogSink(Protocol):
    """Receives batches of the request log (the inference log service, :class:`fti.inference_log.InferenceLog`)."""

    def write(self, batch: pa.Table) -> None:
        """Append ``batch``; called from a background thread, never on the request path."""


class ReplayableLogSink(RequestLogSink, Protocol):
    """A request log sink that can tell rows it holds already: a spool is replayed into it exactly once."""

    def write_new(self, batch: pa.Table) -> int:
        """Append the rows of ``batch`` not logged yet (the same request, model, time and shadow flag); returns
        the rows appended."""


@dataclass(frozen=True, slots=True)
class RequestLogConfig:
    """Request log settings.

    Attributes:
        batch_rows: write once this many rows are queued.
        flush_seconds: write at least this often while rows are queued.
        max_queue_rows: drop new records beyond this many queued rows.
        spool_seconds: with a spool, how often queued records are synced to it (the most a crash loses).
    """

    batch_rows: int = 1000
    flush_seconds: float = 1.0
    max_queue_rows: int = 100_000
    spool_seconds: float = 0.1


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
    #: one request id per row, in place of ``request_id`` (events scored together, each its own request)
    row_request_ids: np.ndarray[Any, Any] | None = None
    #: a binary classifier's positive-class score per row, when the request computed class scores
    scores: np.ndarray[Any, Any] | None = None


class RequestLogger:
    """Queues log records and writes them to a sink from a background thread.

    Args:
        sink: receives Arrow tables with ``STORED_LOG_SCHEMA``.
        config: batch size, flush interval and queue bound.
        on_drop: called with the row count of each dropped record (metrics).
        spool: where queued records are synced before they reach the sink (None: kept in memory only).
    """

    def __init__(
        self,
        sink: RequestLogSink,
        config: RequestLogConfig,
        on_drop: Callable[[int], None] | None = None,
        spool: RequestSpool | None = None,
    ) -> None:
        self._sink = sink
        self._config = config
        self._on_drop = on_drop
        self._spool = spool
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
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

    def replay(self) -> int:
        """Write what a crashed server left in the spool (rows logged already skipped); the rows read."""
        if self._spool is None:
            return 0
        write_new = getattr(self._sink, "write_new", None)
        return self._spool.replay(write_new if write_new is not None else self._sink.write)

    def _run(self) -> None:
        # Without a spool, queued records are written each time the thread wakes; with one, they are synced to
        # the spool every spool_seconds and written to the sink once flush_seconds have passed since the first.
        spooled = self._spool is not None
        interval = self._config.spool_seconds if spooled else self._config.flush_seconds
        first: float | None = None  # when the oldest row not yet written was taken
        taken = 0  # records taken from the queue since the start
        while True:
            with self._condition:
                if not (self._stopping or self._flushing) and self._queued_rows < self._config.batch_rows:
                    left = interval if first is None else first + self._config.flush_seconds - time.monotonic()
                    self._condition.wait(max(0.0, min(interval, left)))
                records = list(self._records)
                self._records.clear()
                self._queued_rows = 0
                flushing, self._flushing = self._flushing, False
                stopping = self._stopping
            if records:
                self._take(records)
                first = time.monotonic() if first is None else first
            taken += len(records)
            since = None if first is None else time.monotonic() - first
            due = flushing or not spooled or (since is not None and since >= self._config.flush_seconds)
            if self._pending and (stopping or due or self._pending_rows >= self._config.batch_rows):
                self._write()
                first = None
            if not self._pending:  # every record taken so far is written (or was dropped): a flush may return
                with self._condition:
                    self._done_records = taken
                    self._condition.notify_all()
            if stopping:
                if self._spool is not None:
                    self._spool.rotate(keep=bool(self._pending))
                return

    def _take(self, records: list[LogRecord]) -> None:
        """Encode ``records``, sync them to the spool, and keep them for the next write to the sink."""
        try:
            table = to_table(records)
            if self._spool is not None:
                self._spool.append(table)
        except Exception:  # the writer must live on; the records are lost and said so
            _logger.exception("Encoding %d request log records failed; they are dropped.", len(records))
            if self._on_drop is not None:
                self._on_drop(sum(len(record.predictions) for record in records))
            return
        self._pending.append(table)
        self._pending_rows += table.num_rows

    def _write(self) -> None:
        batch = concat_logged(self._pending)
        self._pending, self._pending_rows = [], 0
        kill_point("request_log.before_write")
        try:
            self._sink.write(batch)
        except Exception:  # a failing sink must not kill the writer; the rows wait in the spool, or are lost
            kept = self._spool is not None
            _logger.exception(
                "Writing %d request log rows failed; they are %s.",
                batch.num_rows,
                "kept in the spool for the next start" if kept else "dropped",
            )
            if self._on_drop is not None:
                self._on_drop(batch.num_rows)
            if self._spool is not None:
                self._spool.rotate(keep=True)
            return
        kill_point("request_log.after_write")
        if self._spool is not None:
            self._spool.rotate()


def to_table(records: list[LogRecord]) -> pa.Table:
    """One Arrow table with ``STORED_LOG_SCHEMA`` from queued records, and the ``inputs`` struct of their typed
    features when they have any."""
    counts = np.array([len(record.predictions) for record in records], dtype=np.int64)

    def repeat(values: list[object], arrow_type: pa.DataType) -> pa.Array:
        return pa.array(values, type=arrow_type).take(pa.array(np.repeat(np.arange(len(records)), counts)))

    logged = _logged_features(records)
    predictions = np.concatenate([_numeric(record.predictions) for record in records])
    if any(record.row_request_ids is not None for record in records):
        request_ids = pa.array(
            np.concatenate([_row_request_ids(record) for record in records]).astype(object), pa.string()
        )
    else:
        request_ids = repeat([record.request_id for record in records], pa.string())
    columns = [
        request_ids,
        repeat([record.timestamp for record in records], pa.timestamp("us", tz="UTC")),
        repeat([record.deployment for record in records], pa.string()),
        repeat([record.variant for record in records], pa.string()),
        repeat([record.model_name for record in records], pa.string()),
        repeat([record.model_version for record in records], pa.int64()),
        logged.column("features"),
        pa.array(predictions, type=pa.float64(), from_pandas=True),
        repeat([record.latency_ms for record in records], pa.float64()),
        repeat([record.is_shadow for record in records], pa.bool_()),
        pa.array(np.concatenate([_scores(record) for record in records]), type=pa.float64(), from_pandas=True),
    ]
    table = pa.Table.from_arrays(columns, schema=STORED_LOG_SCHEMA)
    if INPUTS_COLUMN in logged.column_names:
        table = table.append_column(INPUTS_COLUMN, logged.column(INPUTS_COLUMN))
    return table


def _scores(record: LogRecord) -> np.ndarray[Any, Any]:
    """The record's positive-class scores, NaN (logged as null) where it has none."""
    if record.scores is None:
        return np.full(len(record.predictions), np.nan)
    return np.asarray(record.scores, dtype=np.float64)


def _row_request_ids(record: LogRecord) -> np.ndarray[Any, Any]:
    if record.row_request_ids is not None:
        return np.asarray(record.row_request_ids, dtype=object)
    return np.full(len(record.predictions), record.request_id, dtype=object)


def _numeric(predictions: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """One float per row; predictions that are not one number per row (labels, vectors) are logged as null."""
    values = np.asarray(predictions)
    if values.ndim == 1 and values.dtype.kind in "biuf":
        return values.astype(np.float64, copy=False)
    return np.full(len(values), np.nan)


def _logged_features(records: list[LogRecord]) -> pa.Table:
    """Each row's features as the log stores them (see :func:`~fti.inference_log.inputs.split_features`): the
    typed ones in the ``inputs`` struct, the rest as JSON, for the whole batch at once.

    Records of the same columns are stacked into one frame first (one numeric type: without per-column work);
    records of different columns are split one by one and their structs joined (a feature logged under two types
    keeps the first, the other rows log it as JSON).
    """
    columns = records[0].features.columns
    if len(records) == 1 or not all(record.features.columns.equals(columns) for record in records):
        return concat_logged([split_features(record.features) for record in records])
    dtypes = {dtype for record in records for dtype in record.features.dtypes}
    if len(dtypes) == 1 and next(iter(dtypes)).kind in "biuf":  # one numeric type: stacked without per-column work
        matrices = [record.features.to_numpy() for record in records]
        return split_features(pd.DataFrame(np.concatenate(matrices), columns=columns, copy=False))
    # several types (integer keys beside float features): stacked column by column, each keeps its type
    return split_features(pd.concat([record.features for record in records], ignore_index=True))
