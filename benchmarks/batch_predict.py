"""Batch inference: ``project.batch_predict`` of a 20-feature logistic regression over N rows.

Builds a project with one feature group (key, event time, 20 float features, a label) and a feature view
over it, registers a scikit-learn LogisticRegression, then times ``batch_predict``: the feature view read
(DuckDB over Delta), the predictions, and the write of the predictions as one feature-group commit.
Prints rows per second for the whole call and its parts. Target: at least 1M rows/s.

Then the same call scored in parts on an executor of ``--workers`` local processes (each task opens the
project, loads the model, reads and scores its run of row groups; the caller writes one commit): the first
call starts the workers, the second finds them started. ``project.batch_predict`` scores in parts from
``PARALLEL_MIN_ROWS`` rows on, with an executor of at least ``PARALLEL_MIN_WORKERS`` workers.

    python benchmarks/batch_predict.py            # 10M rows
    python benchmarks/batch_predict.py --quick    # 1M rows
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from rich.console import Console
from rich.table import Table
from sklearn.linear_model import LogisticRegression

from fti.inference.batch import (
    DEFAULT_CHUNK_ROWS,
    PARALLEL_MIN_ROWS,
    PARALLEL_MIN_WORKERS,
    Parallelism,
    batch_predict,
)

BATCH = 500_000
FEATURES = [f"f{index}" for index in range(20)]
SCHEMA = pa.schema(
    [("k", pa.int64()), ("ts", pa.timestamp("us", tz="UTC"))]
    + [(name, pa.float64()) for name in FEATURES]
    + [("label", pa.int64())]
)
WEIGHTS = np.random.default_rng(1).normal(size=len(FEATURES))


def _batches(rows: int) -> Iterator[pa.RecordBatch]:
    rng = np.random.default_rng(0)
    start = np.datetime64("2024-01-01T00:00:00", "us")
    for first in range(0, rows, BATCH):
        size = min(BATCH, rows - first)
        index = np.arange(first, first + size)
        values = rng.normal(size=(size, len(FEATURES)))
        label = (values @ WEIGHTS > 0).astype(np.int64)
        columns = [pa.array(index), pa.array(start + index.astype("timedelta64[s]"), SCHEMA.field("ts").type)]
        columns += [pa.array(values[:, column]) for column in range(len(FEATURES))] + [pa.array(label)]
        yield pa.record_batch(columns, schema=SCHEMA)


def _model() -> LogisticRegression:
    rng = np.random.default_rng(2)
    values = rng.normal(size=(20_000, len(FEATURES)))
    return LogisticRegression().fit(pd.DataFrame(values, columns=FEATURES), (values @ WEIGHTS > 0).astype(int))


def run(rows: int, chunk_rows: int, workers: int) -> dict[str, float]:
    """Build the project in a temporary folder and time batch_predict over ``rows`` rows, here and in parts."""
    import functools

    import fti
    from fti.backends.kinds import create_backend

    with tempfile.TemporaryDirectory(prefix="fti-batch-predict-") as folder, fti.connect(Path(folder)) as project:
        group = project.create_feature_group("transactions", primary_key=["k"], event_time="ts")
        began = time.perf_counter()
        group.insert(pa.RecordBatchReader.from_batches(SCHEMA, _batches(rows)))
        insert_seconds = time.perf_counter() - began
        view = project.create_feature_view("transactions", query=group.select_all(), labels=["label"])
        with project.start_run("benchmark") as run_:
            run_.log_model(_model(), "scorer")
        began = time.perf_counter()
        joined = view.batch_table(view.latest_snapshots(), None, None)  # sorted and whole: an upper bound
        read_seconds = time.perf_counter() - began
        model = project.get_model("scorer")
        began = time.perf_counter()
        for offset in range(0, joined.num_rows, chunk_rows):
            model.predict(joined.slice(offset, chunk_rows).select(FEATURES))
        predict_seconds = time.perf_counter() - began
        del joined
        gc.collect()
        resident = _reset_peak_rss_mib()
        options = {"output": "scores", "feature_view": "transactions", "chunk_rows": chunk_rows, "show_progress": False}
        began, began_cpu = time.perf_counter(), time.process_time()
        result = batch_predict(project.features, project.registry, "scorer", **options)  # type: ignore[arg-type]
        total_seconds = time.perf_counter() - began
        cpu_seconds = time.process_time() - began_cpu
        peak = _peak_rss_mib()
        assert result.rows == rows
        executor = create_backend("executor", "local", {"max_workers": workers})
        executor.open()
        try:
            opener = functools.partial(fti.connect, Path(folder))
            parts = Parallelism(lambda: executor, opener, min_rows=0, min_workers=2)
            timed_parts = []
            for _ in range(2):
                began = time.perf_counter()
                result = batch_predict(project.features, project.registry, "scorer", parallelism=parts, **options)  # type: ignore[arg-type]
                timed_parts.append(time.perf_counter() - began)
                assert result.rows == rows
        finally:
            executor.close()
    return {
        "insert (setup)": insert_seconds,
        "feature view read": read_seconds,
        "predict only": predict_seconds,
        "batch_predict (read + predict + write)": total_seconds,
        "batch_predict CPU (all threads)": cpu_seconds,
        f"in {workers} parts, first call (workers start)": timed_parts[0],
        f"in {workers} parts, workers started": timed_parts[1],
        "_rss_before_mib": resident,
        "_peak_rss_mib": peak,
    }


def _peak_rss_mib() -> float:
    """This process's peak resident memory since the last reset (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak_rss_mib() -> float:
    """Reset the peak to the current resident memory (Linux: clear_refs 5) and return it."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _peak_rss_mib()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1M rows instead of 10M")
    parser.add_argument("--rows", type=int, default=None, help="number of rows (overrides --quick)")
    parser.add_argument(
        "--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, help="rows predicted per slice (the library default)"
    )
    parser.add_argument("--workers", type=int, default=2, help="executor processes for the parallel calls")
    args = parser.parse_args()
    rows = args.rows or (1_000_000 if args.quick else 10_000_000)
    timings = run(rows, args.chunk_rows, args.workers)
    table = Table("step", "seconds", "rows/s", title=f"Batch prediction, {rows:,} rows x {len(FEATURES)} features")
    before, peak = timings.pop("_rss_before_mib"), timings.pop("_peak_rss_mib")
    for step, seconds in timings.items():
        table.add_row(step, f"{seconds:.2f}", f"{rows / seconds:,.0f}")
    Console().print(table)
    inputs = rows * (len(FEATURES) + 3) * 8 / 2**20
    print(
        f"batch_predict resident memory: {before:,.0f} MiB before, {peak:,.0f} MiB at peak, for {inputs:,.0f} MiB "
        "of feature rows (the join is streamed in chunks, never held whole)"
    )
    total = timings["batch_predict (read + predict + write)"]
    print(f"batch_predict rows/s: {rows / total:,.0f} (target >= 1,000,000)")
    started = timings[f"in {args.workers} parts, workers started"]
    print(
        f"batch_predict in {args.workers} parts rows/s: {rows / started:,.0f} with the workers started "
        f"(project.batch_predict scores in parts from {PARALLEL_MIN_ROWS:,} rows and {PARALLEL_MIN_WORKERS} workers)"
    )


if __name__ == "__main__":
    main()
