"""Online store load and lookup speed: SQLite in process and Redis over loopback.

Loads N keys x 8 features (1M by default, 100k with --quick) into each backend in batches of 100k
rows in key order, as materialization does (``fg.materialize()`` streams each key's latest row sorted by
key; ``--random-order`` loads the batches in random key order instead, like a stream of inserts),
then times 10,000 single-key reads and 1,000 reads of 100 random keys.

Numbers are for the backend's ``OnlineStore.read``/``write``; ``benchmarks/feature_vectors.py`` times
the service path on top of them (``fg.materialize()`` and ``fv.get_feature_vector(s)``).

Wall-clock figures depend on what else the machine runs, so the table also shows CPU time per row
and per call (this process plus, for Redis, the server's), which other load barely changes.

Run: ``python benchmarks/online_lookup.py [--quick] [--backends sqlite,redis]``
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from fti.backends.kinds import create_backend
from fti.backends.ports import OnlineStore
from fti.testing.services import redis_server

TABLE = "card_activity_1"
LOAD_BATCH = 100_000
TARGETS = {  # backend -> (single p99 ms, batch p99 ms, load rows/s)
    "sqlite": (1.0, 5.0, 200_000),
    "redis": (2.0, 5.0, 200_000),
}


@dataclass(frozen=True, slots=True)
class Result:
    backend: str
    keys: int
    load_rows_per_s: float
    load_cpu_us_per_row: float
    single: Latency
    batch: Latency


class CpuClock:
    """CPU seconds used by this process and, when given a Redis URL, by the Redis server."""

    def __init__(self, redis_url: str | None) -> None:
        self._server = None
        if redis_url is not None:
            import redis

            self._server = redis.Redis.from_url(redis_url)

    def __call__(self) -> float:
        used = time.process_time()
        if self._server is not None:
            info = self._server.info("cpu")
            used += float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        return used


def make_rows(keys: int, seed: int = 0) -> pa.Table:
    """``keys`` entities in random order with 8 features of mixed types."""
    rng = np.random.default_rng(seed)
    start = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
    columns: dict[str, Any] = {
        "cc_num": pa.array(rng.permutation(keys).astype(np.int64) + 4_000_000_000_000_000),
        "ts": pa.array(start + rng.integers(0, 86_400_000_000, keys), pa.timestamp("us", tz="UTC")),
    }
    for i in range(4):
        columns[f"amount_{i}"] = pa.array(rng.gamma(2.0, 50.0, keys))
    columns["count_1d"] = pa.array(rng.integers(0, 100, keys))
    columns["count_7d"] = pa.array(rng.integers(0, 700, keys))
    columns["category"] = pa.array(rng.choice(["grocery", "travel", "fuel", "online", "dining"], keys))
    columns["is_foreign"] = pa.array(rng.random(keys) < 0.1)
    return pa.table(columns)


def percentiles(samples: list[float]) -> tuple[float, float]:
    values = np.asarray(samples) * 1000.0
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


@dataclass(frozen=True, slots=True)
class Latency:
    wall_ms: tuple[float, float]  # p50, p99
    cpu_p99_ms: float  # this thread's CPU time per call: what the call costs without waiting its turn
    total_cpu_us: float  # mean per call, this process plus the Redis server


def time_calls(calls: int, call: Callable[[int], object], cpu: CpuClock) -> Latency:
    wall, thread = [], []
    start_cpu = cpu()
    for i in range(calls):
        start, start_thread = time.perf_counter(), time.thread_time()
        call(i)
        wall.append(time.perf_counter() - start)
        thread.append(time.thread_time() - start_thread)
    total = (cpu() - start_cpu) / calls * 1e6
    return Latency(percentiles(wall), float(np.percentile(thread, 99) * 1000.0), total)


def measure(
    backend: str, store: OnlineStore, cpu: CpuClock, rows: pa.Table, singles: int, batches: int, size: int
) -> Result:
    store.create_table(TABLE, ["cc_num"], "ts", rows.schema)
    start, start_cpu = time.perf_counter(), cpu()
    for offset in range(0, rows.num_rows, LOAD_BATCH):
        store.write(TABLE, rows.slice(offset, LOAD_BATCH))
    load = rows.num_rows / (time.perf_counter() - start)
    load_cpu = (cpu() - start_cpu) / rows.num_rows * 1e6
    assert store.count(TABLE) == rows.num_rows

    rng = np.random.default_rng(1)
    known = rows.column("cc_num").to_numpy()
    single_keys = [(int(key),) for key in rng.choice(known, singles)]
    batch_keys = [pa.table({"cc_num": rng.choice(known, size)}) for _ in range(batches)]
    gc.collect()
    time_calls(min(500, singles), lambda i: store.read(TABLE, single_keys[i]), cpu)  # warm up
    single = time_calls(singles, lambda i: store.read(TABLE, single_keys[i]), cpu)
    batch = time_calls(batches, lambda i: store.read(TABLE, batch_keys[i]), cpu)
    check = store.read(TABLE, batch_keys[0])
    assert check.column("ts").null_count == 0, "every looked-up key must be found"
    return Result(backend, rows.num_rows, load, load_cpu, single, batch)


@contextmanager
def opened(backend: str) -> Iterator[tuple[OnlineStore, CpuClock]]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="fti-bench-") as folder:
            store: OnlineStore = create_backend("online_store", "sqlite", {"path": str(Path(folder) / "online.db")})
            store.open()
            try:
                yield store, CpuClock(None)
            finally:
                store.close()
    else:
        with redis_server() as url:
            store = create_backend("online_store", "redis", {"url": url})
            store.open()
            try:
                yield store, CpuClock(url)
            finally:
                store.close()


def render(results: list[Result], console: Console) -> None:
    render_table(
        "Online store: load and lookup (backend level)",
        "load",
        [(r.backend, r.keys, r.load_rows_per_s, r.load_cpu_us_per_row, r.single, r.batch) for r in results],
        console,
        "benchmarks/feature_vectors.py times the service path (materialize, get_feature_vector(s)) on top.",
    )


def render_table(
    title: str,
    load: str,
    rows: list[tuple[str, int, float, float, Latency, Latency]],
    console: Console,
    note: str = "",
) -> None:
    """One row per backend: ``(backend, keys, load rows/s, load CPU µs/row, single, batch)``, against TARGETS."""
    table = Table(title=title)
    columns = (
        "backend", "keys", f"{load} rows/s", f"{load} CPU µs/row",
        "single p50 ms", "single p99 ms", "single CPU p99 ms", "single CPU µs",
        "batch100 p50 ms", "batch100 p99 ms", "batch100 CPU p99 ms", "batch100 CPU µs", "targets",
    )  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    for backend, keys, rows_per_s, cpu_us, single, batch in rows:
        single_target, batch_target, load_target = TARGETS[backend]
        checks = (
            (load, rows_per_s >= load_target),
            ("single", single.wall_ms[1] <= single_target),
            ("batch", batch.wall_ms[1] <= batch_target),
        )
        missed = [name for name, ok in checks if not ok]
        table.add_row(
            backend,
            f"{keys:,}",
            f"{rows_per_s:,.0f}",
            f"{cpu_us:.2f}",
            *_latency_cells(single),
            *_latency_cells(batch),
            "met" if not missed else "missed: " + ", ".join(missed),
        )
    console.print(table)
    console.print(
        f"Targets: {load} >= 200k rows/s; single p99 <= 1 ms (SQLite) / 2 ms (Redis); batch of 100 p99 <= 5 ms.\n"
        + (f"{note}\n" if note else "")
        + "CPU p99: this thread's CPU time per call (excludes waiting for a CPU or for Redis). CPU µs and "
        f"{load} CPU: this process plus the Redis server, mean per call or per row. "
        f"Load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs."
    )


def _latency_cells(latency: Latency) -> list[str]:
    return [
        f"{latency.wall_ms[0]:.3f}",
        f"{latency.wall_ms[1]:.3f}",
        f"{latency.cpu_p99_ms:.3f}",
        f"{latency.total_cpu_us:.0f}",
    ]


def add_size_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """The options both online benchmarks take; ``what`` names a lookup (``key read``, ``entity lookup``)."""
    parser.add_argument("--quick", action="store_true", help="100k keys instead of 1M")
    parser.add_argument("--keys", type=int, default=None, help="number of keys (overrides --quick)")
    parser.add_argument("--backends", default="sqlite,redis", help="comma-separated: sqlite, redis")
    parser.add_argument("--singles", type=int, default=10_000, help=f"single {what}s to time")
    parser.add_argument("--batches", type=int, default=1_000, help=f"batch {what}s to time")
    parser.add_argument("--batch-size", type=int, default=100, help=f"keys per batch {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_size_arguments(parser, "key read")
    parser.add_argument("--random-order", action="store_true", help="load in random key order, not key order")
    args = parser.parse_args()
    keys = args.keys or (100_000 if args.quick else 1_000_000)
    console = Console(width=200)
    rows = make_rows(keys)
    if not args.random_order:
        rows = rows.sort_by("cc_num")
    results = []
    for backend in args.backends.split(","):
        console.print(f"[bold]{backend}[/]: loading {keys:,} keys x 8 features ...")
        with opened(backend) as (store, cpu):
            results.append(measure(backend, store, cpu, rows, args.singles, args.batches, args.batch_size))
    render(results, console)


if __name__ == "__main__":
    main()
