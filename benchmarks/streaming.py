"""Streaming feature pipelines: a stream job's throughput and freshness, and the backfill of the same definition.

Three figures for one aggregation group of 8 aggregations (count, sum, mean, max, min, std, last,
count_distinct over 1 h and 1 d windows), keyed by card, on a local redis-server:

* **throughput**: events already in the stream (Redis -> window state -> online store + offline commits), one
  worker, events/s while it drains them, and per core: events per second of CPU time the worker used (the
  consume loop, the commit thread and the child process that appends offline; not the redis-server, a service
  of its own, whose CPU is counted in the row below). Target >= 50,000 events/s per core. Beside it, the
  broker alone: the same events read and decoded by another consumer group, with nothing done with them.
* **freshness**: a producer publishes at a steady rate while the job runs; a reader polls the online store for
  one sampled event of each 10 ms tick; milliseconds from the producer's publish call to the reader seeing
  that event's aggregates, p50 and p99, beside the job's own figure (broker arrival -> online write). Target
  p99 < 100 ms at 5k/s. The job runs in a process of its own, as ``fti stream run`` runs it, and the producer
  and the reader are threads of the benchmark's process. Beside it, the same job as a third thread of the
  benchmark's process: the three then share one interpreter lock, which a deployment does not do (each thread
  that takes the lock can hold the job's next step back by up to the 5 ms switch interval).
* **backfill**: ``group.backfill(events)`` (DuckDB window query, then one commit), rows/s, and the peak resident
  memory the process gained during it, beside the size of the events (already in memory before it).

On a loaded machine only the ratios within one run mean much.

    python benchmarks/streaming.py            # 1M events over 100k keys; 20 s at 5k events/s; backfill of 10M
    python benchmarks/streaming.py --quick    # 100k events over 10k keys; 5 s at 2k/s; backfill of 1M
    python benchmarks/streaming.py --only backfill   # one figure (repeat --only for more)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

T0 = np.datetime64("2024-01-01T00:00:00", "us")
FIGURES = ("throughput", "freshness", "backfill")


def aggregations() -> list[Any]:
    import fti

    return [
        fti.agg.count(window="1h"),
        fti.agg.sum("amount", window="1h"),
        fti.agg.mean("amount", window="1d"),
        fti.agg.max("amount", window="1h"),
        fti.agg.min("amount", window="1d"),
        fti.agg.std("amount", window="1d"),
        fti.agg.last("merchant", window="1h", value_type="string"),
        fti.agg.count_distinct("merchant", window="1d"),
    ]


def events(count: int, keys: int, seed: int = 0, start: np.datetime64 = T0, span_s: int = 86_400) -> pa.Table:
    """Card transactions in event-time order over ``span_s`` seconds."""
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.integers(0, span_s * 1_000_000, count)).astype("timedelta64[us]")
    return pa.table(
        {
            "cc_num": pa.array(rng.integers(0, keys, count)).cast(pa.string()),
            "ts": pa.array(start + offsets, pa.timestamp("us", tz="UTC")),
            "amount": np.round(rng.gamma(2.0, 30.0, count), 2),
            "merchant": pa.array(rng.integers(0, 500, count)).cast(pa.string()),
        }
    )


def throughput(project: Any, count: int, keys: int) -> dict[str, float]:
    project.create_aggregation_group(
        "throughput", key=["cc_num"], event_time="ts", aggregations=aggregations(), stream="bench_tx", online=True
    )
    data = events(count, keys)
    started = time.perf_counter()
    project.publish("bench_tx", data, key=["cc_num"])
    published = time.perf_counter() - started
    job = project.stream_job("throughput", batch_size=20_000, commit_seconds=5.0)
    job.start()
    started, cpu, broker_cpu = time.perf_counter(), cpu_time(), cpu_time(is_broker=True)
    while job.progress.events_in < count:
        job.step()
    job.commit()
    seconds, cpu_seconds = time.perf_counter() - started, cpu_time() - cpu
    broker_seconds = cpu_time(is_broker=True) - broker_cpu
    job.close()
    return {
        "events/s": count / seconds,
        "events/s per core": count / cpu_seconds,
        "with redis-server": count / (cpu_seconds + broker_seconds),
        "cores": cpu_seconds / seconds,
        "broker events/s": broker_alone(project, "bench_tx", count),
        "publish events/s": count / published,
    }


def cpu_time(*, is_broker: bool = False) -> float:
    """CPU seconds of this process and its living children (the job's offline writer), leaving out the
    redis-server the benchmark started (the broker is a service of its own, not the worker); with ``is_broker``,
    the redis-server's alone."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for process in (me, *me.children(recursive=True)):
        if (process.name() == "redis-server") == is_broker:
            total += sum(process.cpu_times()[:2])
    return total


def broker_alone(project: Any, stream: str, count: int) -> float:
    """Events/s of reading and decoding the stream with a fresh consumer group, nothing else."""
    broker = project.stream_broker
    fields = ["cc_num", "ts", "amount", "merchant"]
    started, read = time.perf_counter(), 0
    while read < count:
        messages = broker.read(stream, 0, "baseline", "reader", fields=fields, count=20_000, block_ms=100)
        read += len(messages.ids)
    return count / (time.perf_counter() - started)


_JOB_OPTIONS: dict[str, Any] = {"batch_size": 5_000, "block_ms": 5, "commit_seconds": 1.0}


def freshness(
    project: Any, folder: str, rate: int, seconds: float, keys: int, *, own_process: bool
) -> dict[str, float]:
    """Freshness at ``rate`` events/s; the job runs in a process of its own (as ``fti stream run`` does) or, with
    ``own_process=False``, as a thread beside the producer and the reader."""
    import multiprocessing

    from fti.errors import NotFoundError

    name = "fresh_process" if own_process else "fresh_thread"
    stream = f"bench_{name}"
    group = project.create_aggregation_group(
        name,
        key=["cc_num"],
        event_time="ts",
        aggregations=aggregations(),
        stream=stream,
        online=True,
        lateness="10s",
    )
    stop = threading.Event()
    tick = 0.01
    per_tick = max(int(rate * tick), 1)
    probes: list[tuple[float, str, int]] = []  # publish time, key, event time (us) of one event per tick
    lock = threading.Lock()

    def produce() -> None:
        rng_seed = 1
        deadline = time.perf_counter()
        while not stop.is_set():
            now = np.datetime64(datetime.now(UTC).replace(tzinfo=None), "us")
            batch = events(per_tick, keys, seed=rng_seed, start=now, span_s=1)
            rng_seed += 1
            last = batch.num_rows - 1
            probe = (batch.column("cc_num")[last].as_py(), int(batch.column("ts").cast(pa.int64())[last].as_py()))
            sent = time.perf_counter()
            project.publish(stream, batch, key=["cc_num"])
            with lock:
                probes.append((sent, *probe))
            deadline += tick
            time.sleep(max(deadline - time.perf_counter(), 0))

    seen: list[float] = []

    def read() -> None:
        store = project.online_store
        table = f"{group.name}_{group.version}"
        waiting: list[tuple[float, str, int]] = []
        while not stop.is_set():
            with lock:
                waiting += probes
                probes.clear()
            if waiting:
                try:
                    found = store.read(table, [[key] for _, key, _ in waiting], ["ts"]).column("ts")
                except NotFoundError:  # the job has not written its first rows yet
                    time.sleep(0.002)
                    continue
                now = time.perf_counter()
                times = [None if value is None else int(value.timestamp() * 1e6) for value in found.to_pylist()]
                left = []
                for probe, stored in zip(waiting, times, strict=True):
                    if stored is not None and stored >= probe[2] - 1:
                        seen.append((now - probe[0]) * 1000)
                    else:
                        left.append(probe)
                waiting = left
            time.sleep(0.002)

    context = multiprocessing.get_context("spawn")
    stopping, results = context.Event(), context.Queue()
    worker = context.Process(target=run_job, args=(folder, name, stopping, results)) if own_process else None
    job = None
    if worker is not None:
        worker.start()
        results.get(timeout=120)  # started: checkpoint restored, offline writer ready
    else:
        job = project.stream_job(name, **_JOB_OPTIONS)
        job.start()
    threads = [threading.Thread(target=produce, daemon=True), threading.Thread(target=read, daemon=True)]
    for thread in threads:
        thread.start()
    ends = time.perf_counter() + seconds
    if job is None:
        time.sleep(seconds)
    while time.perf_counter() < ends and job is not None:
        job.step()
    stop.set()
    for thread in threads:
        thread.join()
    if worker is not None:
        stopping.set()
        figures: dict[str, float] = results.get(timeout=120)
        worker.join(timeout=60)
    else:
        assert job is not None
        job.commit()
        job.close()
        figures = {"job p99 ms": job.progress.freshness(99) or float("nan"), "events": float(job.progress.events_in)}
    sample = np.asarray(seen[len(seen) // 10 :])  # the first tenth warms up
    return {
        "p50 ms": float(np.percentile(sample, 50)) if len(sample) else float("nan"),
        "p99 ms": float(np.percentile(sample, 99)) if len(sample) else float("nan"),
        **figures,
    }


def run_job(folder: str, name: str, stopping: Any, results: Any) -> None:
    """The stream job in a process of its own, until ``stopping`` is set; its figures go to ``results``."""
    import fti

    with fti.connect(folder) as project:
        job = project.stream_job(name, **_JOB_OPTIONS)
        job.start()
        results.put("started")
        while not stopping.is_set():
            job.step()
        job.commit()
        job.close()
        results.put({"job p99 ms": job.progress.freshness(99) or float("nan"), "events": float(job.progress.events_in)})


def backfill(project: Any, count: int, keys: int) -> dict[str, float]:
    """Rows/s of ``group.backfill(events)`` over ``count`` events already in memory, and the process's peak
    resident memory during it above what it held before (the events themselves included in neither)."""
    import psutil

    group = project.create_aggregation_group("backfilled", key=["cc_num"], event_time="ts", aggregations=aggregations())
    data = events(count, keys, span_s=30 * 86_400)
    me = psutil.Process()
    before, peak = me.memory_info().rss, [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], me.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    group.backfill(data)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return {
        "rows/s": count / seconds,
        "seconds": seconds,
        "peak MiB": max(peak[0] - before, 0) / 2**20,
        "events MiB": data.nbytes / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--events", type=int, help="events drained for the throughput figure")
    parser.add_argument("--keys", type=int, help="distinct cards")
    parser.add_argument("--rate", type=int, help="events/s published for the freshness figure")
    parser.add_argument("--seconds", type=float, help="how long the freshness figure runs")
    parser.add_argument("--backfill-events", type=int, help="events of the backfill figure")
    parser.add_argument("--only", choices=FIGURES, action="append", help="run only this figure (repeat)")
    args = parser.parse_args()
    count = args.events or (100_000 if args.quick else 1_000_000)
    keys = args.keys or (10_000 if args.quick else 100_000)
    rate = args.rate or (2_000 if args.quick else 5_000)
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    backfill_count = args.backfill_events or (1_000_000 if args.quick else 10_000_000)

    import fti
    from fti.testing.services import redis_server

    figures = set(args.only or FIGURES)
    drained: dict[str, float] = {}
    fresh: dict[str, float] = {}
    threaded: dict[str, float] = {}
    filled: dict[str, float] = {}
    with redis_server() as url, tempfile.TemporaryDirectory() as folder:
        Path(folder, "fti.yaml").write_text(f"stream_broker:\n  url: {url}\nfeatures:\n  compact_after: 64\n")
        with fti.connect(folder) as project:
            if "throughput" in figures:
                drained = throughput(project, count, keys)
            if "freshness" in figures:
                fresh = freshness(project, folder, rate, seconds, keys, own_process=True)
                threaded = freshness(project, folder, rate, seconds, keys, own_process=False)
            if "backfill" in figures:
                filled = backfill(project, backfill_count, keys)

    print(f"Streaming, 8 aggregations, cpu count {os.cpu_count()}, online store: embedded default")
    print(f"{'figure':<62} {'value':>12} {'target':>10} {'beside it':>12}")
    rows: list[tuple[str, float, str, str]] = []
    if drained:
        rows += [
            (f"throughput: {count:,} events over {keys:,} keys, events/s", drained["events/s"], "", ""),
            (
                f"  per core (cores used: {drained['cores']:.2f}), events/s | broker alone",
                drained["events/s per core"],
                ">= 50,000",
                f"{drained['broker events/s']:,.0f}",
            ),
            ("  per core counting the redis-server's CPU too, events/s", drained["with redis-server"], "", ""),
            ("  (publish, pipelined XADD), events/s", drained["publish events/s"], "", ""),
        ]
    if fresh:
        rows += [
            (
                f"freshness at {rate:,} events/s for {seconds:g} s, p50 ms | job a thread",
                fresh["p50 ms"],
                "",
                f"{threaded['p50 ms']:,.1f}",
            ),
            ("  p99 ms (the job its own process) | a thread", fresh["p99 ms"], "< 100", f"{threaded['p99 ms']:,.1f}"),
            (
                "  p99 inside the job (arrival -> online write), ms",
                fresh["job p99 ms"],
                "",
                f"{threaded['job p99 ms']:,.1f}",
            ),
        ]
    if filled:
        rows += [
            (f"backfill of {backfill_count:,} events, rows/s", filled["rows/s"], "", ""),
            (
                "  peak memory above the start, MiB | events in memory, MiB",
                filled["peak MiB"],
                "",
                f"{filled['events MiB']:,.0f}",
            ),
        ]
    for label, value, target, beside in rows:
        print(f"{label:<62} {value:>12,.1f} {target:>10} {beside:>12}")


if __name__ == "__main__":
    main()
