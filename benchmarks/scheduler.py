"""``fti scheduler``: event-to-start latency and idle CPU, on a real scheduler process with its default settings.

A project with one pipeline triggered by commits of a feature group; a real ``fti scheduler`` process (default
poll interval, 0.5 s). Each round inserts one commit (one catalog event), waits until the pipeline has started
for it, then waits a random fraction of the poll interval so events land at every phase of the polling.
Latencies: from the event's time in the catalog to the run's recorded start (the scheduler's part), and to the
pipeline function's first line (with the run's process and the project opened in it). Idle CPU: the
scheduler and its processes' CPU time over a quiet period, as a share of one core.
Targets: p99 event-to-start under 1 s, idle CPU under 1% of a core. ``--quick``: fewer rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

import fti

PIPELINES = """
import json, os, time
from pathlib import Path
import fti


@fti.pipeline(triggers=[fti.on_commit("ticks")], concurrency=4)
def on_tick(ctx):
    entered = time.time()
    line = json.dumps({"event": ctx.event.id, "entered": entered, "run_id": ctx.run_id}) + "\\n"
    descriptor = os.open(Path(ctx.project.root) / "entered.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.write(descriptor, line.encode())
    os.close(descriptor)
"""

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) of ``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / _TICKS
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        total += times.get(current, 0.0)
        stack.extend(children.get(current, []))
    return total


def entered(folder: Path) -> dict[int, float]:
    path = folder / "entered.jsonl"
    if not path.exists():
        return {}
    return {row["event"]: row["entered"] for row in map(json.loads, path.read_text().splitlines())}


def wait_for(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit("the scheduler did not start the pipeline in time: see scheduler.log")
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40, help="events to time")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of idle CPU measurement")
    parser.add_argument("--quick", action="store_true", help="8 rounds, 5 s idle")
    args = parser.parse_args()
    rounds, idle = (8, 5.0) if args.quick else (args.rounds, args.idle)
    random.seed(0)
    with tempfile.TemporaryDirectory(prefix="fti-bench-scheduler-") as scratch:
        folder = Path(scratch)
        (folder / "bench_pipelines.py").write_text(PIPELINES)
        (folder / "fti.yaml").write_text("project: bench\npipelines: [bench_pipelines.py]\n")
        with fti.connect(folder) as project:
            poll = project.orchestration.settings.poll_interval
            ticks = project.create_feature_group("ticks", primary_key=["id"], event_time="ts")
            env = {**os.environ, "PYTHONPATH": str(Path(fti.__file__).parents[1])}
            with (folder / "scheduler.log").open("w") as log:
                scheduler = subprocess.Popen(
                    [sys.executable, "-m", "fti", "scheduler", "-p", str(folder)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
                try:
                    # a new pipeline reacts to the events after its registration: wait for the scheduler's
                    wait_for(lambda: "on_tick" in project.orchestration.records(), 120)
                    # warm-up: the first event also waits for the executor's processes to be ready
                    ticks.insert(pd.DataFrame({"id": [-1], "ts": [datetime.now(UTC)]}))
                    wait_for(lambda: entered(folder), 120)
                    time.sleep(2 * poll)
                    cpu_before, wall_before = cpu_seconds(scheduler.pid), time.monotonic()
                    time.sleep(idle)
                    idle_share = (cpu_seconds(scheduler.pid) - cpu_before) / (time.monotonic() - wall_before)
                    for index in range(rounds):
                        seen = len(entered(folder))
                        ticks.insert(pd.DataFrame({"id": [index], "ts": [datetime.now(UTC)]}))
                        wait_for(lambda seen=seen: len(entered(folder)) > seen, 60)  # type: ignore[misc]
                        time.sleep(random.uniform(0, poll))
                finally:
                    scheduler.send_signal(signal.SIGTERM)
                    scheduler.wait(60)
            with project.catalog.transaction() as tx:
                events = {event.id: event.created_at.timestamp() for event in tx.events.after(0, 10_000)}
            runs = [run for run in project.pipeline_runs("on_tick", limit=10_000) if run.event_id is not None]
        starts = {run.event_id: run.started_at.timestamp() for run in runs if run.started_at is not None}
        functions = entered(folder)
        timed = sorted(functions)[1:]  # the warm-up event aside
        to_start = np.array([starts[event] - events[event] for event in timed])
        to_function = np.array([functions[event] - events[event] for event in timed])
    table = Table(title=f"fti scheduler: {len(timed)} events, poll interval {poll} s (the default)")
    for column in ("measure", "p50", "p99", "max", "target"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    for name, values, target in (
        ("event -> run started (s)", to_start, "p99 < 1 s"),
        ("event -> pipeline function entered (s)", to_function, ""),
    ):
        p50, p99 = np.percentile(values, [50, 99])
        table.add_row(name, f"{p50:.3f}", f"{p99:.3f}", f"{values.max():.3f}", target)
    table.add_row(f"idle CPU over {idle:.0f} s (% of a core)", f"{idle_share * 100:.2f}", "", "", "< 1%")
    Console().print(table)
    load = os.getloadavg()[0]
    print(f"load average (1 min) at the end: {load:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
