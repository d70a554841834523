"""Prometheus metrics of a stream job: events in, rows out, dead letters, duplicates, lag, watermark, freshness.

Fed from the job's :class:`~fti.streams.jobs.JobProgress` (``fti stream run --metrics-port PORT`` serves them);
needs ``prometheus-client`` (the ``serve`` extra).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from fti.errors import MissingExtraError

if TYPE_CHECKING:
    from fti.streams.jobs import JobProgress

__all__ = ["JobMetrics"]

_FRESHNESS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class JobMetrics:
    """The metrics of one stream job worker, in a registry of their own.

    Example:
        >>> metrics = JobMetrics("card_windows", worker=0)  # doctest: +SKIP
        >>> metrics.update(job.progress, lag=job.lag())  # doctest: +SKIP
    """

    def __init__(self, group: str, *, worker: int = 0) -> None:
        try:
            from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
        except ModuleNotFoundError as exc:
            raise MissingExtraError(
                "Stream job metrics need prometheus-client, in the 'serve' extra: pip install 'fti[serve]'"
            ) from exc
        self.registry = CollectorRegistry()
        labels = {"group": group, "worker": str(worker)}

        def counter(name: str, text: str) -> Counter:
            return Counter(name, text, list(labels), registry=self.registry)

        self._events_in = counter("fti_stream_events_in", "Events read from the stream")
        self._rows_out = counter("fti_stream_rows_out", "Aggregate rows written")
        self._dead = counter("fti_stream_dead_letters", "Events refused (malformed or too late)")
        self._duplicates = counter("fti_stream_duplicates", "Repeated deliveries of an event already counted")
        self._lag = Gauge("fti_stream_lag", "Messages not yet acknowledged", list(labels), registry=self.registry)
        self._watermark = Gauge(
            "fti_stream_watermark_seconds",
            "The watermark, seconds since the epoch",
            list(labels),
            registry=self.registry,
        )
        self._freshness = Histogram(
            "fti_stream_freshness_seconds",
            "From an event reaching the broker to its aggregates written online",
            list(labels),
            buckets=_FRESHNESS_BUCKETS,
            registry=self.registry,
        )
        self._labels = labels
        self._seen = {"events_in": 0, "rows_out": 0, "dead_letters": 0, "duplicates": 0, "freshness": 0}

    def update(self, progress: JobProgress, *, lag: int | None = None) -> None:
        """Add what ``progress`` shows since the last update."""
        for name, metric in (
            ("events_in", self._events_in),
            ("rows_out", self._rows_out),
            ("dead_letters", self._dead),
            ("duplicates", self._duplicates),
        ):
            value = int(getattr(progress, name))
            metric.labels(**self._labels).inc(max(value - self._seen[name], 0))
            self._seen[name] = value
        histogram = self._freshness.labels(**self._labels)
        for milliseconds in progress.freshness_ms[self._seen["freshness"] :]:
            histogram.observe(milliseconds / 1000)
        self._seen["freshness"] = len(progress.freshness_ms)
        if lag is not None:
            self._lag.labels(**self._labels).set(lag)
        if progress.watermark is not None:
            self._watermark.labels(**self._labels).set(datetime.fromisoformat(progress.watermark).timestamp())

    def serve(self, port: int) -> None:
        """Serve the metrics at ``http://0.0.0.0:PORT/metrics`` from a background thread."""
        from prometheus_client import start_http_server

        start_http_server(port, registry=self.registry)
