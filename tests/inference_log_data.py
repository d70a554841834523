"""Requests of a ``fraud`` deployment logged as the model server logs them, for the inference-log tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

import fti
from fti.inference_log.writer import LogRecord, to_table

START = datetime(2026, 3, 1, tzinfo=UTC)


def log_requests(
    project: fti.Project,
    first: int,
    count: int,
    *,
    rows_per_request: int = 1,
    shadow_every: int = 0,
    latency_cycle: int = 0,
) -> None:
    """Log requests ``first`` to ``first + count - 1`` (``req-<index>``) as one commit, one a minute from START.

    Every fourth request goes to the challenger (``fraud`` v2), the others to the champion (v1); with
    ``shadow_every``, each request whose index it divides is the shadow's. A request's latency is its index (modulo
    ``latency_cycle`` when given) and its predictions alternate 0 and 1 from one request to the next.
    """
    records = [
        LogRecord(
            f"req-{index}",
            START + timedelta(minutes=index),
            "fraud",
            "fraud@champion" if index % 4 else "fraud@challenger",
            "fraud",
            1 if index % 4 else 2,
            pd.DataFrame({"amount": np.full(rows_per_request, float(index))}),
            np.full(rows_per_request, float(index % 2)),
            float(index % latency_cycle if latency_cycle else index),
            bool(shadow_every) and index % shadow_every == 0,
        )
        for index in range(first, first + count)
    ]
    project.inference_log.write(to_table(records))
