"""Tracking speed on the embedded SQLite catalog.

Three figures: 100 runs each logging 10 params and 20 metrics; one run with 10,000 ``log_metric``
calls one at a time; ``runs()`` with a metric filter and an ordering over 1,000 runs.
Targets: 10,000 log_metric calls < 0.5 s, the 100-run case < 2 s, the search < 0.2 s (the
reference, MLflow 3 on a SQLite store, is to be beaten by 10x or more on each).

Each case runs ``--repeats`` times (default 3) and the median is shown, so a busy machine's
outliers do not decide the figure.

Usage: python benchmarks/tracking.py [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

import fti

TARGETS = {"runs": 2.0, "log_metric": 0.5, "search": 0.2}
SIZES = {"runs": 100, "log_metric": 10_000, "search": 1_000}
QUICK_SIZES = {"runs": 10, "log_metric": 1_000, "search": 100}


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def bench_runs(project: fti.Project, runs: int, repeat: int = 0) -> float:
    """``runs`` runs, each with 10 params and 20 metrics, started and ended."""
    rng = random.Random(1)

    def work() -> None:
        for index in range(runs):
            with project.start_run(f"bench_runs_{repeat}", name=f"run-{index}") as run:
                run.log_params({f"p{k}": rng.choice(["a", "b", "c", k]) for k in range(10)})
                for k in range(20):
                    run.log_metric(f"m{k}", rng.random())

    return _timed(work)


def bench_log_metric(project: fti.Project, calls: int) -> float:
    """``calls`` single log_metric calls in one run, including the final write when the run ends."""
    run = project.start_run("bench_log_metric")

    def work() -> None:
        for step in range(calls):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.end()

    return _timed(work)


def bench_search(project: fti.Project, runs: int, repeats: int) -> tuple[list[float], int]:
    """``runs()`` with a metric filter and an ordering over ``runs`` runs (seeded beforehand, not timed)."""
    rng = random.Random(2)
    for index in range(runs):
        with project.start_run("bench_search", name=f"run-{index}") as run:
            run.log_params({"model": rng.choice(["xgb", "lgbm", "rf"]), "depth": rng.randint(2, 10)})
            run.log_metrics({"f1": rng.random(), "auc": rng.random(), "loss": rng.random()})
    found: list[int] = []

    def work() -> None:
        frame = project.runs(
            "bench_search", filter="metrics.f1 > 0.8 and params.model = 'xgb'", order_by=["-metrics.f1"]
        )
        found.append(len(frame))

    project.runs("bench_search", limit=1)  # warm the connection pool and statement caches
    return [_timed(work) for _ in range(repeats)], found[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions per case; the median is shown")
    args = parser.parse_args()
    sizes = QUICK_SIZES if args.quick else SIZES
    with tempfile.TemporaryDirectory() as scratch, fti.connect(Path(scratch)) as project:
        project.start_run("warm_up").end()  # first run pays git and package discovery once per process
        runs_s = statistics.median(bench_runs(project, sizes["runs"], repeat) for repeat in range(args.repeats))
        metric_s = statistics.median(bench_log_metric(project, sizes["log_metric"]) for _ in range(args.repeats))
        search_times, matched = bench_search(project, sizes["search"], args.repeats)
        search_s = statistics.median(search_times)
    title = f"fti tracking on SQLite, median of {args.repeats}" + (" (quick)" if args.quick else "")
    table = Table(title=title)
    for column in ("case", "size", "seconds", "target", "per unit"):
        table.add_column(column, justify="right" if column != "case" else "left")
    rows = [
        ("runs: 10 params + 20 metrics each", "runs", runs_s, "run"),
        ("single log_metric calls", "log_metric", metric_s, "call"),
        (f"runs() filter + order ({matched} matched)", "search", search_s, "query"),
    ]
    for case, key, seconds, unit in rows:
        verdict = "[green]" if seconds < TARGETS[key] else "[red]"
        count = 1 if key == "search" else sizes[key]
        table.add_row(
            case,
            f"{sizes[key]:,} {'runs' if key != 'log_metric' else 'calls'}",
            f"{verdict}{seconds:.3f}[/]",
            f"< {TARGETS[key]}",
            f"{seconds / count * 1e6:,.0f} µs/{unit}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
