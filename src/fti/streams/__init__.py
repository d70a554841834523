"""Streaming feature pipelines: the window engine, stream jobs, and publishing events to a stream.

Example:
    >>> fti.streams.publish(project.stream_broker, "transactions", df, key=["cc_num"])  # doctest: +SKIP
    >>> project.stream_job("card_windows").run(should_stop=lambda: False)  # doctest: +SKIP
"""

from __future__ import annotations

from fti.streams.engine import BatchResult, WindowEngine
from fti.streams.jobs import JobProgress, StreamJob, StreamJobOptions, dead_letter_stream
from fti.streams.predictions import PredictionJob, PredictionJobOptions
from fti.streams.publishing import partition_of, publish
from fti.streams.status import JobStatus, list_statuses, record_status

__all__ = [
    "BatchResult",
    "JobProgress",
    "JobStatus",
    "PredictionJob",
    "PredictionJobOptions",
    "StreamJob",
    "StreamJobOptions",
    "WindowEngine",
    "dead_letter_stream",
    "list_statuses",
    "partition_of",
    "publish",
    "record_status",
]
