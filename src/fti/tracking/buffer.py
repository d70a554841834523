"""The metric buffer: ``log_metric`` appends in memory; points reach the catalog in batches.

A batch is written when the buffer holds ``max_points``, every ``interval`` seconds from a daemon
thread, when a run ends, and when the buffer is closed. Its owner closes it: the tracking service does on
``close`` and, for a process that never closes its project, at interpreter exit (the exit hook its first run
registers), so nothing logged is lost on a normal exit or when the user's code raises.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from fti.core.tracking import MetricBatch
from fti.faults import kill_point

if TYPE_CHECKING:
    from collections.abc import Callable

    from fti.backends.ports import CatalogStore, CatalogTransaction

__all__ = ["MetricBuffer"]


class MetricBuffer:
    """Columnar in-memory buffer of metric points for every run of one project."""

    def __init__(self, catalog: CatalogStore, *, max_points: int = 20_000, interval: float = 2.0) -> None:
        self._catalog = catalog
        self._max_points = max_points
        self._interval = interval
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._batch = _empty()
        self._timer: threading.Thread | None = None
        self._stopped = threading.Event()
        self._closed = False

    def add(self, run_id: str, key: str, value: float, step: int, timestamp_ms: int) -> None:
        """Buffer one point; writes the buffer when it is full."""
        with self._lock:
            batch = self._batch
            batch.run_ids.append(run_id)
            batch.keys.append(key)
            batch.values.append(value)
            batch.steps.append(step)
            batch.timestamps_ms.append(timestamp_ms)
            size = len(batch.keys)
            if self._timer is None:
                self._start_timer()
        if size >= self._max_points:
            self.flush()

    def add_many(self, run_id: str, values: dict[str, float], step: int | dict[str, int], timestamp_ms: int) -> None:
        """Buffer several metrics logged at once."""
        for key, value in values.items():
            self.add(run_id, key, value, step if isinstance(step, int) else step[key], timestamp_ms)

    def flush(self, then: Callable[[CatalogTransaction], None] | None = None) -> None:
        """Write every buffered point in one catalog transaction; points stay buffered if it fails.

        Args:
            then: more work for the same transaction (ending a run commits with its last metrics).
        """
        with self._write_lock:
            with self._lock:
                batch, self._batch = self._batch, _empty()
            if not len(batch) and then is None:
                return
            try:
                with self._catalog.transaction() as tx:
                    tx.tracking.log_metrics(batch)
                    if then is not None:
                        then(tx)
                    kill_point("metrics.before_commit")
            except BaseException:
                with self._lock:
                    self._batch = _concat(batch, self._batch)
                raise
            kill_point("metrics.after_commit")

    def close(self) -> None:
        """Write what is buffered and stop the timer thread."""
        if self._closed:
            return
        self._closed = True
        self._stopped.set()
        try:
            self.flush()
        finally:
            if self._timer is not None and self._timer is not threading.current_thread():
                self._timer.join(timeout=self._interval + 5)

    def _start_timer(self) -> None:
        self._timer = threading.Thread(target=self._run_timer, name="fti-metric-flush", daemon=True)
        self._timer.start()

    def _run_timer(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self.flush()
            except Exception:  # the next flush (run end, exit) retries and raises to the user
                continue


def _empty() -> MetricBatch:
    return MetricBatch(run_ids=[], keys=[], values=[], steps=[], timestamps_ms=[])


def _concat(first: MetricBatch, second: MetricBatch) -> MetricBatch:
    return MetricBatch(
        run_ids=first.run_ids + second.run_ids,
        keys=first.keys + second.keys,
        values=first.values + second.values,
        steps=first.steps + second.steps,
        timestamps_ms=first.timestamps_ms + second.timestamps_ms,
    )
