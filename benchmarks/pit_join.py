"""Point-in-time join: ``fv.get_batch_data()`` against a hand-written DuckDB ASOF JOIN over the same Parquet.

A spine (labels) of N rows over N/10 keys and one feature group of N rows with 8 features. Each method
runs in its own process (so peak RSS is its own), a few times; the best time is shown. Both return a
pandas DataFrame ordered by event time and key, converted from Arrow the same way. fti also resolves
commits (and would de-duplicate replaced rows, which this data has none of).

    python benchmarks/pit_join.py            # 1M spine rows, 100k keys
    python benchmarks/pit_join.py --quick    # 100k spine rows, 10k keys
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FEATURES = [f"f{i}" for i in range(8)]
HAND_WRITTEN = """
SELECT s.k, s.ts, s.label, {features}
FROM read_parquet('{spine}') AS s
ASOF LEFT JOIN read_parquet('{groups}') AS f ON s.k = f.k AND s.ts >= f.ts
ORDER BY s.ts, s.k
"""


def _tables(rows: int, keys: int, seed: int = 0) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01T00:00:00", "us")
    span = 365 * 24 * 3600 * 1_000_000

    def times() -> pa.Array:
        offsets = rng.choice(span, size=rows, replace=False)
        return pa.array(start + offsets.astype("timedelta64[us]"), pa.timestamp("us", tz="UTC"))

    spine = pa.table(
        {"k": pa.array(rng.integers(0, keys, rows)), "ts": times(), "label": pa.array(rng.integers(0, 2, rows))}
    )
    columns = {"k": pa.array(rng.integers(0, keys, rows)), "ts": times()}
    columns |= {name: pa.array(rng.normal(size=rows)) for name in FEATURES}
    return spine, pa.table(columns)


def prepare(folder: Path, rows: int, keys: int) -> None:
    """Write the Parquet files and a project with both feature groups and the view."""
    import fti

    spine, groups = _tables(rows, keys)
    pq.write_table(spine, folder / "spine.parquet")
    pq.write_table(groups, folder / "groups.parquet")
    with fti.connect(folder / "project") as project:
        labels = project.create_feature_group("labels", primary_key=["k"], event_time="ts")
        features = project.create_feature_group("features", primary_key=["k"], event_time="ts")
        labels.insert(spine)
        features.insert(groups)
        project.create_feature_view("bench", query=labels.select(["label"]).join(features.select_all()))


def _peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it does not inherit the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_once(folder: Path, method: str) -> dict[str, float]:
    """Time one method in this process; return seconds, rows and peak RSS."""
    if method == "fti":
        import fti

        with fti.connect(folder / "project") as project:
            view = project.get_feature_view("bench")
            began = time.perf_counter()
            frame = view.get_batch_data()
            seconds = time.perf_counter() - began
    else:
        import duckdb

        connection = duckdb.connect()
        connection.execute("SET TimeZone = 'UTC'")
        sql = HAND_WRITTEN.format(
            features=", ".join(f"f.{name}" for name in FEATURES),
            spine=folder / "spine.parquet",
            groups=folder / "groups.parquet",
        )
        began = time.perf_counter()
        frame = connection.sql(sql).to_arrow_table().to_pandas()
        seconds = time.perf_counter() - began
    peak_mib = _peak_rss_mib()
    return {"seconds": seconds, "rows": float(len(frame)), "peak_rss_mib": peak_mib}


def _measure(folder: Path, method: str, repeats: int) -> dict[str, float]:
    runs = []
    for _ in range(repeats):
        output = subprocess.run(
            [sys.executable, __file__, "--run", method, "--folder", str(folder)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        runs.append(json.loads(output.strip().splitlines()[-1]))
    return min(runs, key=lambda run: run["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k spine rows instead of 1M")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--run", choices=["fti", "duckdb"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_once(args.folder, args.run)))
        return
    rows = 100_000 if args.quick else 1_000_000
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        prepare(folder, rows, rows // 10)
        results = {method: _measure(folder, method, args.repeats) for method in ("duckdb", "fti")}
    base = results["duckdb"]["seconds"]
    print(f"Point-in-time join: spine {rows:,} rows over {rows // 10:,} keys; feature group {rows:,} rows x 8")
    print(f"{'method':<34}{'rows':>12}{'seconds':>10}{'x':>7}{'peak RSS MiB':>14}")
    names = {"duckdb": "hand-written DuckDB ASOF JOIN", "fti": "fv.get_batch_data()"}
    for method, result in results.items():
        print(
            f"{names[method]:<34}{int(result['rows']):>12,}{result['seconds']:>10.2f}"
            f"{result['seconds'] / base:>7.2f}{result['peak_rss_mib']:>14.0f}"
        )


if __name__ == "__main__":
    main()
