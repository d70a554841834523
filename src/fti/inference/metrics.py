"""Prometheus metrics of the model server, served on ``GET /metrics``.

Each app gets its own registry, so several servers in one process (tests) do not collide. With several
worker processes (``fti serve --workers N``) the server runs in Prometheus' multiprocess mode: every
worker writes its values to files in one shared folder (``PROMETHEUS_MULTIPROC_DIR``, which must be set
before the workers start), and a scrape answered by any worker reads all of them, so counters and
histograms are the totals of all workers. The request-log queue gauge is then the sum over the live
workers of each one's depth when it last answered a scrape.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "ServerMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class ServerMetrics:
    """The server's counters, histograms and gauges, in a registry of their own.

    Args:
        multiprocess_dir: the folder shared by all worker processes (multiprocess mode), or None.
    """

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._multiprocess_dir = multiprocess_dir
        self._queue_depth: Callable[[], int] | None = None
        self.requests = Counter(
            "fti_requests",
            "Prediction requests answered, by deployment, model and model version.",
            ["deployment", "model", "version"],
            registry=self.registry,
        )
        self.rows = Counter(
            "fti_predicted_rows",
            "Rows predicted, by deployment, model and model version (shadow included).",
            ["deployment", "model", "version", "shadow"],
            registry=self.registry,
        )
        self.errors = Counter(
            "fti_request_errors",
            "Requests answered with an error, by endpoint and HTTP status.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "fti_request_latency_seconds",
            "Time from receiving a prediction request to answering it, by deployment and model version.",
            ["deployment", "model", "version"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "fti_batch_rows",
            "Rows per model call when micro-batching gathers concurrent requests, by model.",
            ["model"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.log_queue_depth = Gauge(
            "fti_request_log_queue_rows",
            "Rows of the request log waiting to be written.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.log_dropped = Counter(
            "fti_request_log_dropped_rows",
            "Rows of the request log dropped because the queue was full or the sink failed.",
            registry=self.registry,
        )
        self.model_swaps = Counter(
            "fti_model_swaps",
            "Deployments switched to newly loaded model versions (hot swap).",
            ["deployment"],
            registry=self.registry,
        )

    def watch_log_queue(self, depth: Callable[[], int]) -> None:
        """Read the log queue depth from ``depth`` at every scrape."""
        if self._multiprocess_dir is None:
            self.log_queue_depth.set_function(lambda: float(depth()))
        else:  # a function's value is not written to the shared files: set it when scraped
            self._queue_depth = depth

    def batch_observer(self, model: str) -> Callable[[int], None]:
        """A callback recording the row count of each batch of ``model``."""
        histogram = self.batch_rows.labels(model=model)
        return histogram.observe

    def render(self) -> bytes:
        """The text exposition format of every metric (of every worker, in multiprocess mode)."""
        if self._multiprocess_dir is None:
            return generate_latest(self.registry)
        if self._queue_depth is not None:
            self.log_queue_depth.set(self._queue_depth())
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(collected)

    def close(self) -> None:
        """In multiprocess mode, drop this worker's live gauges (its counters stay in the totals)."""
        if self._multiprocess_dir is not None:
            multiprocess.mark_process_dead(os.getpid(), self._multiprocess_dir)  # type: ignore[no-untyped-call]
