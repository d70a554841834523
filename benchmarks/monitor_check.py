"""``project.monitor`` over the inference log: 1M logged rows x 20 features against a 100k-row reference.

Logs the rows through the inference log exactly as the server writes them (features as typed fields of the
``inputs`` struct column), then times ``project.monitor`` and its parts: reading the log window from the offline
store (the columns a check reads: the scalar ones from the files the log keeps in memory once read, the features
by DuckDB's Parquet reader), taking the feature columns out of the struct, drift (features and prediction) over
the whole window and its slices over time, and the data-quality check. For reference, the same features parsed
from JSON text (as logs written before typed columns hold them) are timed beside. Wall and CPU seconds (every
thread) are shown: on a shared machine the CPU time is the steadier figure. ``--quick`` uses 100k logged rows and a
10k reference.

A scheduled check runs in a fresh process, so the first call is also timed in one: a new interpreter imports
fti, opens the project, reads the reference profile (JSON, as the profile artifact is kept) and calls
``project.monitor``, timed from before its first import. Targets: that first call under 3 s, a warm call
under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from rich.console import Console
from rich.table import Table

import fti
from fti.inference_log import REQUEST_LOG_SCHEMA
from fti.inference_log.features import feature_columns, parse_features
from fti.inference_log.inputs import split_features
from fti.inference_log.window import CHECKED_COLUMNS, current_columns
from fti.monitoring.stats.drift import detect_drift
from fti.monitoring.stats.quality import QualityConfig, check_quality
from fti.monitoring.stats.reference import ReferenceProfile, build_reference
from fti.monitoring.stats.windows import detect_drift_and_windows

FEATURES = 20
CATEGORICAL = 4
DEPLOYMENT = "bench"
_CHUNK = 200_000
TARGETS = {"fresh": 3.0, "warm": 1.0}
#: the first call in a new interpreter: timed from before its first import to the end of the call
_FRESH = """
import time
began, began_cpu = time.perf_counter(), time.process_time()
import json, sys
import fti
from fti.monitoring.stats.reference import ReferenceProfile
with fti.connect(sys.argv[1]) as project:
    with open(sys.argv[2]) as file:
        profile = ReferenceProfile.from_dict(json.load(file))
    project.monitor(sys.argv[3], profile)
print(json.dumps([time.perf_counter() - began, time.process_time() - began_cpu]))
"""


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
    """One batch with the server's request log schema, its features typed as the server logs them."""
    rows = len(frame)
    logged = split_features(frame)
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
            "features": logged.column("features"),
            "prediction": pa.array(rng.random(rows)),
            "latency_ms": pa.array(np.full(rows, 2.0)),
            "is_shadow": pa.array(np.zeros(rows, bool)),
        },
        schema=REQUEST_LOG_SCHEMA,
    ).append_column("inputs", logged.column("inputs"))


def as_json(log: pa.Table) -> pa.Table:
    """``log`` with its features as JSON text, as logs written before typed columns hold them."""
    lines = feature_columns(log).to_pandas().to_json(orient="records", lines=True).splitlines()
    return pa.table({"features": pa.array(lines, pa.string())})


def timed(function: Callable[[], Any], repeats: int = 1) -> tuple[float, float, Any]:
    """Best wall seconds and best CPU seconds (every thread of the process) of ``repeats`` calls."""
    wall, cpu, result = float("inf"), float("inf"), None
    for _ in range(repeats):
        began, began_cpu = time.perf_counter(), time.process_time()
        result = function()
        wall = min(wall, time.perf_counter() - began)
        cpu = min(cpu, time.process_time() - began_cpu)
    return wall, cpu, result


def log_rows(project: fti.Project, rows: int) -> None:
    """Append ``rows`` requests with a shift of 0.3 in num_0 and num_1, in the server's batches of the log."""
    for offset in range(0, rows, _CHUNK):
        size = min(_CHUNK, rows - offset)
        project.inference_log.write(log_batch(inputs(size, 10 + offset, shift=0.3), offset, offset))


def reference_profile(rows: int) -> ReferenceProfile:
    """The reference: unshifted inputs and a prediction column."""
    data = pa.Table.from_pandas(inputs(rows, 0), preserve_index=False)
    return build_reference(data.append_column("prediction", pa.array(np.random.default_rng(1).random(rows))))


def fresh_process(folder: str, profile: ReferenceProfile, repeats: int) -> tuple[float, float, None]:
    """Best wall and CPU seconds of the first ``project.monitor`` call in a new interpreter, imports included."""
    path = os.path.join(folder, "reference.json")
    with open(path, "w") as file:
        json.dump(profile.to_dict(), file)
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeats):
        command = [sys.executable, "-c", _FRESH, folder, path, DEPLOYMENT]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        seconds, cpu_seconds = json.loads(output.strip().splitlines()[-1])
        wall, cpu = min(wall, seconds), min(cpu, cpu_seconds)
    return wall, cpu, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k logged rows and a 10k reference")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many calls")
    arguments = parser.parse_args()
    logged_rows, reference_rows = (100_000, 10_000) if arguments.quick else (1_000_000, 100_000)
    repeats = arguments.repeats
    console = Console()
    with tempfile.TemporaryDirectory() as folder, fti.connect(folder) as project:
        profile = reference_profile(reference_rows)
        log_rows(project, logged_rows)
        fresh = fresh_process(folder, profile, repeats)
        cold = timed(lambda: project.monitor(DEPLOYMENT, profile))
        total = timed(lambda: project.monitor(DEPLOYMENT, profile), repeats)
        result = total[2]
        read = timed(lambda: project.inference_log.read(DEPLOYMENT, columns=CHECKED_COLUMNS), repeats)
        log = read[2]
        columns = timed(lambda: feature_columns(log), repeats)
        text = as_json(log)
        parse = timed(lambda: parse_features(text), repeats)
        current = current_columns(log)
        names = [name for name in profile.columns if name != "prediction"]
        stamped = current.append_column("ts", log.column("timestamp"))
        hour = timedelta(hours=1)
        drift = timed(
            lambda: detect_drift_and_windows(
                profile, stamped, every=hour / 10, timestamp="ts", columns=names, prediction="prediction"
            ),
            repeats,
        )
        alone = timed(lambda: detect_drift(profile, current, columns=names, prediction="prediction"), repeats)
        quality = timed(lambda: check_quality(profile, current, config=QualityConfig(ignore=("ts",))), repeats)

    report = Table(
        title=f"project.monitor: {logged_rows:,} logged rows x {FEATURES} features vs {reference_rows:,} "
        f"(best of {repeats})"
    )
    for name in ("step", "wall s", "CPU s", "share of monitor (CPU)"):
        report.add_column(name, justify="left" if name == "step" else "right")
    parts = [
        ("project.monitor, first call in a fresh process (imports included)", fresh, False),
        ("project.monitor, first call in this process (files not yet read)", cold, False),
        ("project.monitor, whole call", total, True),
        ("  read the log window (offline store)", read, True),
        ("  the feature columns (typed, from the struct)", columns, True),
        ("  drift, whole window and 10 slices over time", drift, True),
        ("  data-quality check", quality, True),
        ("drift check alone, one window", alone, False),
        ("reference: the same features parsed from JSON text (older logs)", parse, False),
    ]
    for label, (wall, cpu, _), is_part in parts:
        report.add_row(label, f"{wall:.2f}", f"{cpu:.2f}", f"{cpu / total[1]:.0%}" if is_part else "")
    console.print(report)
    for label, key, (wall, cpu, _) in (("first call in a fresh process", "fresh", fresh), ("warm call", "warm", total)):
        verdict = "met" if wall < TARGETS[key] else "NOT met"
        console.print(
            f"Target for the {label}: under {TARGETS[key]:g} s; {verdict} (wall {wall:.2f} s, CPU {cpu:.2f} s "
            f"on {os.cpu_count()} cores)."
        )
    console.print(f"Drifted: {', '.join(result.drifted_features) or 'none'}.")


if __name__ == "__main__":
    main()
