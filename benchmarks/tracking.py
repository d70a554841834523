"""Tracking speed on the embedded SQLite catalog.

Five figures: 100 runs each logging 10 params and 20 metrics; one run with 10,000 ``log_metric``
calls one at a time; ``runs()`` with a metric filter and an ordering over 1,000 runs; the same kind
of search over 500 runs (``metrics.m0 > 0.5``, ordered by another metric) beside MLflow; a page of 50
runs out of 10,000 ordered by a metric.
Targets: 10,000 log_metric calls < 0.5 s, the 100-run case < 2 s, the search < 0.2 s and at least 10x
MLflow's, the page < 20 ms.

Each case runs ``--repeats`` times (default 3) and the median is shown, so a busy machine's
outliers do not decide the figure. The search beside MLflow is best-of-N, the two sides taking turns in
blocks of 5 searches so that load on the machine falls on both alike. (Turns of one search each favour the
slower side: each of the faster side's searches then starts on caches the other side's longer work has just
filled with its own data.)

``--compare`` runs MLflow (``mlflow-skinny`` on a SQLite store) in its own virtual environment,
created once under ``--compare-dir`` with pip, on the same runs; run it without network access
(``tools/loopback-only.sh``). MLflow answers twice: ``mlflow.search_runs``, a DataFrame with params and
metrics columns like ``project.runs`` (the target's reference), and ``MlflowClient.search_runs``, a list of
run objects without the frame.

Usage: python benchmarks/tracking.py [--quick] [--repeats N] [--compare [--compare-dir DIR]]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

import fti

TARGETS = {"runs": 2.0, "log_metric": 0.5, "search": 0.2, "peer_search": 0.2, "page": 0.02}
SIZES = {"runs": 100, "log_metric": 10_000, "search": 1_000, "peer_search": 500, "page": 10_000}
QUICK_SIZES = {"runs": 10, "log_metric": 1_000, "search": 100, "peer_search": 100, "page": 1_000}
PEER_FILTER, PEER_ORDER = "metrics.m0 > 0.5", "metrics.m1"
#: MLflow in a process of its own: logs the runs it is given, then answers each line on stdin with the seconds of
#: its two searches: ``mlflow.search_runs`` (a DataFrame, as ``project.runs`` returns) and ``MlflowClient.search_runs``
#: (a list of run objects)
_MLFLOW_SEARCH = """
import json, sys, time
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
mlflow.set_tracking_uri("sqlite:///" + sys.argv[1] + "/mlflow.db")
client = MlflowClient()
experiment = client.create_experiment("peer_search", artifact_location=sys.argv[1] + "/artifacts")
for item in json.load(open(sys.argv[2])):
    run = client.create_run(experiment, run_name=item["name"])
    stamp = int(time.time() * 1000)
    client.log_batch(run.info.run_id, params=[Param(k, str(v)) for k, v in item["params"].items()],
                     metrics=[Metric(k, v, stamp, 0) for k, v in item["metrics"].items()])
    client.set_terminated(run.info.run_id)
print("ready", flush=True)
order = [sys.argv[4] + " DESC"]
for line in sys.stdin:
    frame_s, found_s = [], []
    for _ in range(int(line.split()[1])):
        start = time.perf_counter()
        frame = mlflow.search_runs([experiment], sys.argv[3], order_by=order, max_results=50000)
        frame_s.append(time.perf_counter() - start)
    for _ in range(int(line.split()[1])):
        start = time.perf_counter()
        found = client.search_runs([experiment], sys.argv[3], order_by=order, max_results=50000)
        found_s.append(time.perf_counter() - start)
    print(min(frame_s), min(found_s), len(frame), len(found), flush=True)
"""
#: the searches of each side run in blocks of this many, the sides taking turns: one search after each of the
#: other side's would always find the caches the other side just filled, which costs the faster side most
BLOCK = 5


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


def _peer_runs(count: int) -> list[dict[str, object]]:
    rng = random.Random(3)
    return [
        {
            "name": f"run-{index}",
            "params": {"model": rng.choice(["xgb", "lgbm", "rf"]), "depth": rng.randint(2, 10)},
            "metrics": {f"m{k}": rng.random() for k in range(3)},
        }
        for index in range(count)
    ]


def _log_runs(project: fti.Project, experiment: str, items: list[dict[str, object]]) -> None:
    for item in items:
        with project.start_run(experiment, name=str(item["name"])) as run:
            run.log_params(dict(item["params"]))  # type: ignore[call-overload]
            run.log_metrics(dict(item["metrics"]))  # type: ignore[call-overload]


def bench_peer_search(
    project: fti.Project, runs: int, repeats: int, peer_python: Path | None
) -> tuple[float, tuple[float, float] | None, int]:
    """Best-of-``repeats`` seconds of ours and of MLflow's two searches (DataFrame, run objects) over the
    same ``runs`` runs, the two sides taking turns in blocks of ``BLOCK`` searches."""
    items = _peer_runs(runs)
    _log_runs(project, "peer_search", items)
    found: list[int] = []

    def ours() -> None:
        found.append(len(project.runs("peer_search", filter=PEER_FILTER, order_by=[f"-{PEER_ORDER}"])))

    ours()
    if peer_python is None:
        return min(_timed(ours) for _ in range(repeats)), None, found[0]
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "runs.json"
        data.write_text(json.dumps(items))
        environment = {**os.environ, "DO_NOT_TRACK": "true", "MLFLOW_DISABLE_TELEMETRY": "true"}
        command = [str(peer_python), "-c", _MLFLOW_SEARCH, scratch, str(data), PEER_FILTER, PEER_ORDER]
        with subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=environment
        ) as peer:
            assert peer.stdin is not None and peer.stdout is not None
            if peer.stdout.readline().strip() != "ready":
                sys.exit("MLflow did not start: see its output above")
            peer.stdin.write("warm 1\n")
            peer.stdin.flush()
            peer_found = {int(count) for count in peer.stdout.readline().split()[2:]}
            if peer_found != {found[0]}:
                sys.exit(f"MLflow found {peer_found} runs where fti found {found[0]}: the searches differ")
            ours_s, frame_s, objects_s = [], [], []
            for _ in range(max(1, repeats // BLOCK)):
                ours_s.append(min(_timed(ours) for _ in range(BLOCK)))
                peer.stdin.write(f"search {BLOCK}\n")
                peer.stdin.flush()
                frame_seconds, objects_seconds = peer.stdout.readline().split()[:2]
                frame_s.append(float(frame_seconds))
                objects_s.append(float(objects_seconds))
            peer.stdin.close()
    return min(ours_s), (min(frame_s), min(objects_s)), found[0]


def bench_page(project: fti.Project, runs: int, repeats: int) -> float:
    """Best-of-``repeats`` seconds of one page of 50 runs out of ``runs``, ordered by a metric."""
    _log_runs(project, "page", _peer_runs(runs))
    project.runs("page", order_by=["-metrics.m0"], limit=50)
    return min(_timed(lambda: project.runs("page", order_by=["-metrics.m0"], limit=50)) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions per case; the median is shown")
    parser.add_argument("--compare", action="store_true", help="search the same runs with MLflow beside fti")
    parser.add_argument(
        "--compare-dir", type=Path, default=Path.home() / ".cache" / "fti-benchmarks", help="where its venv lives"
    )
    args = parser.parse_args()
    sizes = QUICK_SIZES if args.quick else SIZES
    peer_python = None
    if args.compare:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from benchmarks.serving_compare import ensure_venv

        peer_python = ensure_venv(args.compare_dir, "mlflow-tracking")
    with tempfile.TemporaryDirectory() as scratch, fti.connect(Path(scratch)) as project:
        project.start_run("warm_up").end()  # first run pays git and package discovery once per process
        runs_s = statistics.median(bench_runs(project, sizes["runs"], repeat) for repeat in range(args.repeats))
        metric_s = statistics.median(bench_log_metric(project, sizes["log_metric"]) for _ in range(args.repeats))
        search_times, matched = bench_search(project, sizes["search"], args.repeats)
        search_s = statistics.median(search_times)
        peer_search_s, mlflow, peer_matched = bench_peer_search(
            project, sizes["peer_search"], max(args.repeats, 25), peer_python
        )
        page_s = bench_page(project, sizes["page"], max(args.repeats, 5))
    title = f"fti tracking on SQLite, median of {args.repeats}" + (" (quick)" if args.quick else "")
    table = Table(title=title)
    for column in ("case", "size", "seconds", "target", "per unit", "MLflow frame | objects", "fti vs MLflow"):
        table.add_column(column, justify="right" if column != "case" else "left")
    rows = [
        ("runs: 10 params + 20 metrics each", "runs", runs_s, "run", None),
        ("single log_metric calls", "log_metric", metric_s, "call", None),
        (f"runs() filter + order ({matched} matched)", "search", search_s, "query", None),
        (
            f"{PEER_FILTER}, by {PEER_ORDER}, best of N ({peer_matched})",
            "peer_search",
            peer_search_s,
            "query",
            mlflow,
        ),
        ("page of 50 by metrics.m0, best of N", "page", page_s, "query", None),
    ]
    for case, key, seconds, unit, peer in rows:
        is_met = seconds < TARGETS[key] and (peer is None or peer[0] / seconds >= 10)
        count = 1 if unit == "query" else sizes[key]
        table.add_row(
            case,
            f"{sizes[key]:,} {'runs' if key != 'log_metric' else 'calls'}",
            f"{'[green]' if is_met else '[red]'}{seconds:.3f}[/]",
            f"< {TARGETS[key]}" + (", >= 10x MLflow's frame" if key == "peer_search" else ""),
            f"{seconds / count * 1e6:,.0f} µs/{unit}",
            "" if peer is None else f"{peer[0]:.3f} | {peer[1]:.3f}",
            "" if peer is None else f"{peer[0] / seconds:.1f}x | {peer[1] / seconds:.1f}x faster",
        )
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
