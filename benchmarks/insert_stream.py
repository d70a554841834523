"""Streaming insert: N rows x 10 columns from a RecordBatchReader into one feature-group commit.

Prints the seconds, the rows per second and the inserting process's peak RSS next to the size of the
data, which is never held in memory at once; beside them, the raw ``deltalake.write_deltalake`` of the
same batches (no validation, statistics or catalog), which the insert wraps. Target: the insert (with
validation and statistics) takes at most 1.5x the raw write. Each side runs in a fresh process, the two
interleaved ``--repeats`` times (default 3), best of each, so load on the machine falls on both alike.

    python benchmarks/insert_stream.py            # 10M rows
    python benchmarks/insert_stream.py --quick    # 1M rows
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

BATCH = 100_000
TARGET_RATIO = 1.5
SCHEMA = pa.schema(
    [("k", pa.int64()), ("ts", pa.timestamp("us", tz="UTC"))] + [(f"f{i}", pa.float64()) for i in range(8)]
)


def _batches(rows: int) -> Iterator[pa.RecordBatch]:
    rng = np.random.default_rng(0)
    start = np.datetime64("2024-01-01T00:00:00", "us")
    for first in range(0, rows, BATCH):
        size = min(BATCH, rows - first)
        index = np.arange(first, first + size)
        columns = [pa.array(index), pa.array(start + index.astype("timedelta64[s]"), SCHEMA.field("ts").type)]
        columns += [pa.array(rng.normal(size=size)) for _ in range(8)]
        yield pa.record_batch(columns, schema=SCHEMA)


def _peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it does not inherit the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_raw(folder: Path, rows: int) -> dict[str, float]:
    """Write ``rows`` rows with ``write_deltalake`` alone in this process; return seconds and RSS."""
    from deltalake import write_deltalake

    baseline = _peak_rss_mib()
    began = time.perf_counter()
    write_deltalake(str(folder / "raw"), pa.RecordBatchReader.from_batches(SCHEMA, _batches(rows)))
    seconds = time.perf_counter() - began
    return {"seconds": seconds, "rows": float(rows), "baseline_rss_mib": baseline, "peak_rss_mib": _peak_rss_mib()}


def run_once(folder: Path, rows: int) -> dict[str, float]:
    """Insert ``rows`` rows in this process; return seconds and RSS before and at peak."""
    import fti

    with fti.connect(folder) as project:
        group = project.create_feature_group("stream", primary_key=["k"], event_time="ts")
        baseline = _peak_rss_mib()
        began = time.perf_counter()
        result = group.insert(pa.RecordBatchReader.from_batches(SCHEMA, _batches(rows)))
        seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "rows": float(result.rows_inserted),
        "baseline_rss_mib": baseline,
        "peak_rss_mib": _peak_rss_mib(),
    }


def _in_subprocess(rows: int, *, is_raw: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, __file__, "--rows", str(rows), "--folder", scratch, *(["--raw"] if is_raw else [])]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1M rows instead of 10M")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side, interleaved; the best is shown")
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.folder:
        print(json.dumps(run_raw(args.folder, args.rows) if args.raw else run_once(args.folder, args.rows)))
        return
    rows = 1_000_000 if args.quick else 10_000_000
    inserts, raws = [], []
    for _ in range(args.repeats):
        inserts.append(_in_subprocess(rows, is_raw=False))
        raws.append(_in_subprocess(rows, is_raw=True))
    data_mib = rows * len(SCHEMA) * 8 / 2**20
    print(
        f"Streaming insert of {rows:,} rows x {len(SCHEMA)} columns from a RecordBatchReader (best of {args.repeats})"
    )
    headers = [("", 16), ("data size MiB", 14), ("seconds", 10), ("rows/s", 12), ("baseline RSS MiB", 18)]
    headers += [("peak RSS MiB", 14), ("peak/data", 11)]
    print("".join(f"{title:>{width}}" for title, width in headers))
    for label, results in (("fg.insert", inserts), ("write_deltalake", raws)):
        best = min(results, key=lambda result: result["seconds"])
        print(
            f"{label:>16}{data_mib:>14.0f}{best['seconds']:>10.1f}{rows / best['seconds']:>12,.0f}"
            f"{best['baseline_rss_mib']:>18.0f}{best['peak_rss_mib']:>14.0f}{best['peak_rss_mib'] / data_mib:>11.2f}"
        )
    ratio = min(result["seconds"] for result in inserts) / min(result["seconds"] for result in raws)
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"fg.insert / write_deltalake: {ratio:.2f}x (target <= {TARGET_RATIO}x: {verdict})")


if __name__ == "__main__":
    main()
