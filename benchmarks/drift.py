"""Drift check throughput: 1M logged rows x 20 features (12 numeric, 8 categorical) against a 100k-row reference.

The headline row is the project path: the rows are written to the inference log as the model server writes
them (features typed, as the server logs them), and one ``project.monitor`` call reads the window back, takes
the features, checks drift of every feature over the whole window and over time, and checks data quality.
The other rows time the parts on columns already in memory: building the reference profile (once, from
training data), one drift check, and drift over time in 24 hourly windows; the baseline computes the same
statistics with SciPy on the raw reference and current values (what a check costs without a profile). Wall
and CPU seconds (every thread) are shown: on a shared machine the CPU time is the steadier figure.
``--quick`` uses 100k current rows and a 10k reference.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table

import fti
from fti.inference_log import REQUEST_LOG_SCHEMA
from fti.inference_log.inputs import split_features
from fti.monitoring.stats.drift import detect_drift
from fti.monitoring.stats.reference import build_reference
from fti.monitoring.stats.windows import drift_over_time

NUMERIC = 12
CATEGORICAL = 8
DEPLOYMENT = "bench"
_LOG_BATCH = 200_000


def generate(rows: int, seed: int, *, shifted: bool) -> pa.Table:
    """Traffic with 12 numeric and 8 categorical features; ``shifted`` moves 4 of them."""
    rng = np.random.default_rng(seed)
    move = 0.3 if shifted else 0.0
    columns: dict[str, Any] = {}
    for index in range(NUMERIC):
        shift = move if index < 2 else 0.0
        if index % 3 == 0:
            columns[f"num_{index}"] = rng.normal(shift, 1.0, rows)
        elif index % 3 == 1:
            columns[f"num_{index}"] = rng.lognormal(shift, 1.0, rows)
        else:
            columns[f"num_{index}"] = rng.integers(0, 1000, rows).astype(np.float64) + shift * 300
    for index in range(CATEGORICAL):
        name = f"cat_{index}"
        if index < 4:  # strings with 10 to 40 categories
            size = 10 * (index + 1)
            weights = np.linspace(1.0, 3.0, size)
            if shifted and index < 2:
                weights = weights[::-1]
            codes = rng.choice(size, rows, p=weights / weights.sum())
            dictionary = pa.array([f"{name}_value_{k}" for k in range(size)])
            columns[name] = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), dictionary).cast(pa.string())
        elif index < 6:
            columns[name] = rng.integers(0, 4, rows)
        else:
            columns[name] = rng.random(rows) < 0.3
    start = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp() * 1e6)
    hour = 3_600_000_000
    columns["ts"] = pa.array(start + np.sort(rng.integers(0, 24 * hour, rows)), pa.timestamp("us", tz="UTC"))
    return pa.table(columns)


def exact_scores(training: pa.Table, current: pa.Table, kinds: dict[str, str]) -> dict[str, float]:
    """The baseline: the same statistics by SciPy on the raw reference and current values (no profile)."""
    from scipy import stats
    from scipy.spatial import distance

    scores = {}
    for name, kind in kinds.items():
        if kind == "numeric":
            reference = training.column(name).to_numpy()
            scores[name] = stats.wasserstein_distance(reference, current.column(name).to_numpy()) / reference.std()
        else:
            ours = training.column(name).to_pandas().astype(str).value_counts()
            theirs = current.column(name).to_pandas().astype(str).value_counts()
            index = ours.index.union(theirs.index)
            scores[name] = distance.jensenshannon(
                ours.reindex(index, fill_value=0), theirs.reindex(index, fill_value=0)
            )
    return scores


def timed(action: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """Best wall seconds and best CPU seconds (every thread of the process) of ``repeats`` runs."""
    wall, cpu, result = float("inf"), float("inf"), None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = action()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu, result


def log_traffic(project: fti.Project, current: pa.Table) -> None:
    """Write ``current`` to the inference log with the server's schema, features typed (as it logs them)."""
    log = project.inference_log
    rng = np.random.default_rng(3)
    for offset in range(0, current.num_rows, _LOG_BATCH):
        batch = current.slice(offset, _LOG_BATCH)
        rows = batch.num_rows
        logged = split_features(batch.drop_columns(["ts"]).to_pandas())
        columns = {
            "request_id": pa.array([f"r{offset + index}" for index in range(rows)]),
            "timestamp": batch.column("ts"),
            "deployment": pa.array([DEPLOYMENT] * rows),
            "variant": pa.array(["m:1"] * rows),
            "model_name": pa.array(["m"] * rows),
            "model_version": pa.array(np.ones(rows, np.int64)),
            "features": logged.column("features"),
            "prediction": pa.array(rng.random(rows)),
            "latency_ms": pa.array(np.full(rows, 2.0)),
            "is_shadow": pa.array(np.zeros(rows, bool)),
        }
        log.write(pa.table(columns, schema=REQUEST_LOG_SCHEMA).append_column("inputs", logged.column("inputs")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100k current rows against a 10k reference")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    reference_rows, current_rows = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    training = generate(reference_rows, 1, shifted=False).drop_columns(["ts"])
    current = generate(current_rows, 2, shifted=True)
    features = training.column_names

    build = timed(lambda: build_reference(training), args.repeats)
    profile = build[2]
    with tempfile.TemporaryDirectory() as folder, fti.connect(folder) as project:
        log_traffic(project, current)
        logged = timed(lambda: project.monitor(DEPLOYMENT, profile), args.repeats)
    check = timed(lambda: detect_drift(profile, current, columns=features), args.repeats)
    report = check[2]
    hourly = timed(
        lambda: drift_over_time(profile, current, every=timedelta(hours=1), timestamp="ts", columns=features),
        args.repeats,
    )
    kinds = {name: result.kind for name, result in report.features.items()}
    exact = timed(lambda: exact_scores(training, current, kinds), 1)
    gap = max(abs(report.features[name].score - exact[2][name]) for name in kinds)

    title = f"Drift, {len(features)} features (best of {args.repeats})"
    table = Table("step", "rows", "wall s", "CPU s", "rows/s (wall)", title=title)
    rows = [
        ("project.monitor on the inference log (read, parse, drift, over time, quality)", current_rows, logged),
        ("build reference profile (once)", reference_rows, build),
        ("drift check, one window, columns in memory", current_rows, check),
        (f"drift over time, {len(hourly[2])} hourly windows, columns in memory", current_rows, hourly),
        ("baseline: SciPy on raw values, one window", current_rows, exact),
    ]
    for label, count, (wall, cpu, _) in rows:
        table.add_row(label, f"{count:,}", f"{wall:.3f}", f"{cpu:.3f}", f"{count / wall:,.0f}")
    console = Console()
    console.print(table)
    methods = sorted({result.method for result in report.features.values()})
    monitored = logged[2]
    console.print(
        f"methods: {', '.join(methods)}; drifted: {', '.join(report.drifted_features)} "
        f"(share {report.share_drifted:.2f}); project.monitor drifted: {', '.join(monitored.drifted_features)}; "
        f"largest score gap to the SciPy baseline: {gap:.2e}."
    )
    verdict = "met" if logged[0] < 5 else "NOT met"
    console.print(
        f"Target: check {current_rows:,} logged rows x {len(features)} features in under 5 s: {verdict} "
        f"(wall {logged[0]:.2f} s, CPU {logged[1]:.2f} s on {os.cpu_count()} cores)."
    )


if __name__ == "__main__":
    main()
