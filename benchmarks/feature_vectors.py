"""Online feature store through the service: materialization and feature-vector lookups.

Creates a project per backend (SQLite in process, Redis over loopback), inserts N keys x 8 features
(1M by default, 100k with --quick) into an ``online=True`` feature group, then times:

* ``fg.materialize()`` into an empty online table (the bulk load: a new online store, or one being
  rebuilt): DuckDB reads the latest row per key from the offline store in key order and writes it to
  the online store in batches (rows/s, and CPU µs per row for this process plus the Redis server); then
  once more over the full table (every key rewritten with its equal row), printed below the table;
* 10,000 ``fv.get_feature_vector({"cc_num": k})`` calls (key validation, one online read, ttl
  masking, dict output);
* 1,000 ``fv.get_feature_vectors(100 entities)`` calls (one online read per feature group).

Wall-clock figures depend on what else the machine runs; the CPU columns (this thread's CPU time per
call, and this process plus the Redis server per call) show the cost without the waiting.

Run: ``python benchmarks/feature_vectors.py [--quick] [--backends sqlite,redis]``
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

import fti
from fti.features.online import online_table_name
from fti.testing.services import redis_server
from online_lookup import CpuClock, Latency, add_size_arguments, make_rows, render_table, time_calls

TARGETS = {  # backend -> (single p99 ms, batch p99 ms, materialize rows/s)
    "sqlite": (1.0, 5.0, 200_000),
    "redis": (2.0, 5.0, 200_000),
}


@dataclass(frozen=True, slots=True)
class Result:
    backend: str
    keys: int
    materialize_rows_per_s: float
    materialize_cpu_us_per_row: float
    single: Latency
    batch: Latency
    rematerialize_rows_per_s: float


@contextmanager
def project_on(backend: str) -> Iterator[tuple[fti.Project, CpuClock]]:
    with tempfile.TemporaryDirectory(prefix="fti-bench-") as folder:
        if backend == "sqlite":
            with fti.connect(Path(folder)) as project:
                yield project, CpuClock(None)
            return
        with redis_server() as url:
            overrides = {"online_store.type": "redis", "online_store.url": url}
            with fti.connect(Path(folder), overrides=overrides) as project:
                yield project, CpuClock(url)


def measure(backend: str, keys: int, singles: int, batches: int, size: int) -> Result:
    rows = make_rows(keys)
    with project_on(backend) as (project, cpu):
        group = project.create_feature_group(
            "card_activity", primary_key=["cc_num"], event_time="ts", online=True, ttl=timedelta(days=36500)
        )
        group.insert(rows)  # also writes the online store
        view = project.create_feature_view("fraud", query=group.select_all())
        project.online_store.delete_table(online_table_name(group.record))  # materialize starts empty
        gc.collect()
        start, start_cpu = time.perf_counter(), cpu()
        written = group.materialize(show_progress=False)
        load = keys / (time.perf_counter() - start)
        load_cpu = (cpu() - start_cpu) / keys * 1e6
        assert written == keys, written
        start = time.perf_counter()
        assert group.materialize(show_progress=False) == keys
        again = keys / (time.perf_counter() - start)

        rng = np.random.default_rng(1)
        known = rows.column("cc_num").to_numpy()
        single_keys: list[dict[str, Any]] = [{"cc_num": int(key)} for key in rng.choice(known, singles)]
        batch_keys = [[{"cc_num": int(key)} for key in rng.choice(known, size)] for _ in range(batches)]
        gc.collect()
        time_calls(min(500, singles), lambda i: view.get_feature_vector(single_keys[i]), cpu)  # warm up
        single = time_calls(singles, lambda i: view.get_feature_vector(single_keys[i]), cpu)
        batch = time_calls(batches, lambda i: view.get_feature_vectors(batch_keys[i]), cpu)
        check = view.get_feature_vectors(batch_keys[0], return_type="pandas")
        assert check["category"].notna().all(), "every looked-up key must be found"
    return Result(backend, keys, load, load_cpu, single, batch, again)


def render(results: list[Result], console: Console) -> None:
    render_table(
        "Online feature store: fg.materialize() and fv.get_feature_vector(s) (service level)",
        "materialize",
        [
            (r.backend, r.keys, r.materialize_rows_per_s, r.materialize_cpu_us_per_row, r.single, r.batch)
            for r in results
        ],
        console,
    )
    for r in results:
        console.print(f"{r.backend}: materialize again over the full table: {r.rematerialize_rows_per_s:,.0f} rows/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_size_arguments(parser, "entity lookup")
    args = parser.parse_args()
    keys = args.keys or (100_000 if args.quick else 1_000_000)
    console = Console(width=220)
    results = []
    for backend in args.backends.split(","):
        console.print(f"[bold]{backend}[/]: {keys:,} keys x 8 features ...")
        results.append(measure(backend, keys, args.singles, args.batches, args.batch_size))
    render(results, console)


if __name__ == "__main__":
    main()
