"""``project.monitor`` over the inference log: 1M logged rows x 20 features against a 100k-row reference.

Logs the rows through the inference log table exactly as the server writes them (features as one JSON
object per row), then times one ``project.monitor`` call and its parts: reading the log window from the
offline store, parsing the feature JSON into columns, the drift check (features and prediction), the
data-quality check and drift over time. The last line times the same drift check on features already held
as columns, what the check would cost if the log stored features as columns instead of JSON. ``--quick``
uses 100k logged rows and a 10k reference.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from rich.console import Console
from rich.table import Table

import fti
from fti.inference.log_table import InferenceLogTable, parse_features
from fti.inference.request_log import REQUEST_LOG_SCHEMA
from fti.monitoring.drift import detect_drift
from fti.monitoring.quality import check_quality
from fti.monitoring.reference import build_reference
from fti.observability.log_window import current_columns

FEATURES = 20
CATEGORICAL = 4
DEPLOYMENT = "bench"
_CHUNK = 200_000


def inputs(rows: int, seed: int, *, shift: float = 0.0) -> pd.DataFrame:
    """16 numeric features and 4 integer-coded categorical ones; ``shift`` moves the first two numbers."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for index in range(FEATURES - CATEGORICAL):
        columns[f"num_{index}"] = np.round(rng.normal(shift if index < 2 else 0.0, 1.0, rows), 6)
    for index in range(CATEGORICAL):
        columns[f"cat_{index}"] = rng.integers(0, 3 + index, rows)
    return pd.DataFrame(columns)


def log_batch(frame: pd.DataFrame, offset: int, seed: int) -> pa.Table:
    """One batch with the server's request log schema; features serialized as JSON lines by pandas (in C)."""
    rows = len(frame)
    lines = frame.to_json(orient="records", lines=True).splitlines()
    start = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp() * 1e6) + offset * 1000
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "request_id": pa.array([f"r{offset + index}" for index in range(rows)]),
            "timestamp": pa.array(start + np.arange(rows) * 1000, pa.timestamp("us", tz="UTC")),
            "deployment": pa.array([DEPLOYMENT] * rows),
            "variant": pa.array(["m:1"] * rows),
            "model_name": pa.array(["m"] * rows),
            "model_version": pa.array(np.ones(rows, np.int64)),
            "features": pa.array(lines),
            "prediction": pa.array(rng.random(rows)),
            "latency_ms": pa.array(np.full(rows, 2.0)),
            "is_shadow": pa.array(np.zeros(rows, bool)),
        },
        schema=REQUEST_LOG_SCHEMA,
    )


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    result = function()
    return time.perf_counter() - began, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k logged rows and a 10k reference")
    arguments = parser.parse_args()
    logged_rows, reference_rows = (100_000, 10_000) if arguments.quick else (1_000_000, 100_000)
    console = Console()
    with tempfile.TemporaryDirectory() as folder, fti.connect(folder) as project:
        reference_data = pa.Table.from_pandas(inputs(reference_rows, 0), preserve_index=False)
        reference_data = reference_data.append_column(
            "prediction", pa.array(np.random.default_rng(1).random(reference_rows))
        )
        build_seconds, profile = timed(lambda: build_reference(reference_data))
        table = InferenceLogTable(project.offline_store)
        began = time.perf_counter()
        for offset in range(0, logged_rows, _CHUNK):
            size = min(_CHUNK, logged_rows - offset)
            table.write(log_batch(inputs(size, 10 + offset, shift=0.3), offset, offset))
        log_seconds = time.perf_counter() - began

        cold, result = timed(lambda: project.monitor(DEPLOYMENT, profile))
        total, result = timed(lambda: project.monitor(DEPLOYMENT, profile))
        read_seconds, log = timed(lambda: table.read(DEPLOYMENT))
        parse_seconds, parsed = timed(lambda: parse_features(log))
        current = current_columns(log)
        names = [name for name in profile.columns if name != "prediction"]
        drift_seconds, _ = timed(lambda: detect_drift(profile, current, columns=names, prediction="prediction"))
        quality_seconds, _ = timed(lambda: check_quality(profile, current))
        columns_seconds, _ = timed(lambda: detect_drift(profile, current, columns=names, prediction="prediction"))

    report = Table(title=f"project.monitor: {logged_rows:,} logged rows x {FEATURES} features vs {reference_rows:,}")
    report.add_column("step")
    report.add_column("seconds", justify="right")
    report.add_column("share of monitor", justify="right")
    rows = [
        ("build the reference profile (once, cached)", build_seconds, None),
        ("log the rows (setup, not part of a check)", log_seconds, None),
        ("project.monitor, first call (cold imports and files)", cold, None),
        ("project.monitor, whole call", total, total),
        ("  read the log window (offline store)", read_seconds, read_seconds),
        ("  parse the feature JSON into columns", parse_seconds, parse_seconds),
        ("  drift check, features + prediction", drift_seconds, drift_seconds),
        ("  data-quality check", quality_seconds, quality_seconds),
        (
            "  drift over time and the rest (remainder)",
            max(total - read_seconds - parse_seconds - drift_seconds - quality_seconds, 0.0),
            None,
        ),
        ("drift check alone on features held as columns", columns_seconds, None),
    ]
    for label, seconds, part in rows:
        share = "" if part is None else f"{part / total:.0%}"
        report.add_row(label, f"{seconds:.2f}", share)
    console.print(report)
    console.print(
        f"Target: under 5 s for the whole call; {'met' if total < 5 else 'NOT met'} ({total:.2f} s). "
        f"Drifted: {', '.join(result.drifted_features) or 'none'}; parsed {parsed.num_columns} columns."
    )


if __name__ == "__main__":
    main()
