"""A stream job's Prometheus metrics follow its progress."""

from __future__ import annotations

from prometheus_client import generate_latest

from fti.streams import JobProgress
from fti.streams.metrics import JobMetrics


def test_metrics_add_what_the_progress_shows_since_the_last_update() -> None:
    metrics = JobMetrics("cards", worker=1)
    progress = JobProgress(events_in=10, rows_out=9, dead_letters=1, freshness_ms=[20.0, 40.0])
    metrics.update(progress, lag=5)
    progress.events_in, progress.watermark = 25, "2024-01-01T00:00:00+00:00"
    progress.freshness_ms.append(3000.0)
    metrics.update(progress, lag=0)
    text = generate_latest(metrics.registry).decode()
    labels = 'group="cards",worker="1"'
    assert f"fti_stream_events_in_total{{{labels}}} 25.0" in text
    assert f"fti_stream_dead_letters_total{{{labels}}} 1.0" in text
    assert f"fti_stream_lag{{{labels}}} 0.0" in text
    assert f"fti_stream_watermark_seconds{{{labels}}} 1.7040672e+09" in text
    assert 'fti_stream_freshness_seconds_bucket{group="cards",le="0.05",worker="1"} 2.0' in text
    assert f"fti_stream_freshness_seconds_count{{{labels}}} 3.0" in text
