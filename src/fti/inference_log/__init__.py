"""The inference log: every prediction the model server made, and the labels that came later.

One service, :class:`InferenceLog` (``project.inference_log``), writes and reads it for the model server,
monitoring and the dashboard alike, with one cache. The modules, from the bottom up:

- :mod:`~fti.inference_log.schema`: the tables and their columns
- :mod:`~fti.inference_log.writer`: the model server's background writer and the records it queues
- :mod:`~fti.inference_log.files`: the tables' data files, read one at a time (footers, scalar columns, features)
- :mod:`~fti.inference_log.rollup`: one file in brief: each deployment's span, an hourly rollup of requests
- :mod:`~fti.inference_log.summaries`: those briefs, stored beside each data file when it is logged
- :mod:`~fti.inference_log.queries`: a window's rows, spans, request ids, labels and labelled predictions
- :mod:`~fti.inference_log.traffic`: requests and latency over time, per variant
- :mod:`~fti.inference_log.features`: the logged feature JSON parsed into typed columns
- :mod:`~fti.inference_log.window`: the slice of the log a monitoring check looks at
- :mod:`~fti.inference_log.cache`: the service's one cache, bounded
- :mod:`~fti.inference_log.service`: :class:`InferenceLog`
"""

from __future__ import annotations

from fti.inference_log.queries import LogSpan
from fti.inference_log.schema import (
    INFERENCE_LOG_TABLE,
    LABELS_SCHEMA,
    LABELS_TABLE,
    REQUEST_LOG_SCHEMA,
    STORED_LOG_SCHEMA,
)
from fti.inference_log.service import InferenceLog
from fti.inference_log.traffic import Traffic
from fti.inference_log.window import LogWindow, WindowSpec
from fti.inference_log.writer import LogRecord, RequestLogConfig, RequestLogger, RequestLogSink, to_table

__all__ = [
    "INFERENCE_LOG_TABLE",
    "LABELS_SCHEMA",
    "LABELS_TABLE",
    "REQUEST_LOG_SCHEMA",
    "STORED_LOG_SCHEMA",
    "InferenceLog",
    "LogRecord",
    "LogSpan",
    "LogWindow",
    "RequestLogConfig",
    "RequestLogSink",
    "RequestLogger",
    "Traffic",
    "WindowSpec",
    "to_table",
]
