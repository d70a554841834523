"""Soak test: ``fti serve`` under a bounded mixed load on loopback for minutes, reporting errors, p99 latency per
minute and the server's resident memory growth after warm-up.

A fresh project gets three versions of a small scikit-learn model and two deployments: ``fraud`` (whatever
``fraud@champion`` points at) and ``ab`` (an A/B split of two versions). ``fti serve`` serves it in its own
process (refreshing deployments every second, flushing the request log every second). Meanwhile this process:

* sends predictions from a pool of clients, each at most ``--rate`` requests/s (the load is bounded: a slow
  server sees fewer requests, never a growing backlog), half to ``fraud``, half to ``ab``;
* moves the ``champion`` alias to another version every 5 s;
* re-deploys ``ab`` with another split every 15 s;
* runs ``project.monitor("fraud")`` over the request log every 10 s, reading what the server flushed.

Every answer must be a 200 and every control operation must succeed: the report counts the errors (target 0),
and the script exits with status 1 when there was any.
Per minute it prints requests, errors, p50 and p99 latency and the server's resident memory (its process and
its children, from /proc); at the end, the memory growth from the end of warm-up (the first minute, or a third
of a shorter run) to the end (target below 10%).

    python benchmarks/soak.py                 # 10 minutes
    python benchmarks/soak.py --minutes 1     # quick
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
FEATURES = ["f0", "f1", "f2", "f3"]
VERSIONS = 3
#: targets the report checks
MAX_ERRORS = 0
MAX_RSS_GROWTH = 0.10


@dataclass
class Samples:
    """What the load and the control loops saw, with the time (seconds since the start) of each."""

    latencies: list[tuple[float, float]] = field(default_factory=list)  # (at, ms) of each 200
    errors: list[tuple[float, str]] = field(default_factory=list)  # (at, what) of each failure
    memory: list[tuple[float, int]] = field(default_factory=list)  # (at, bytes) resident
    operations: dict[str, int] = field(default_factory=dict)  # control operations done, by kind
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, at: float, what: str) -> None:
        with self.lock:
            self.errors.append((at, what))

    def operation(self, kind: str) -> None:
        with self.lock:
            self.operations[kind] = self.operations.get(kind, 0) + 1


def build_project(folder: Path) -> np.ndarray:
    """Three versions of 'fraud', 'champion' on v1, deployments 'fraud' and 'ab'; returns the training data."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    import fti

    random = np.random.default_rng(0)
    features = random.normal(size=(2_000, len(FEATURES)))
    labels = (features @ np.array([1.0, -0.5, 0.8, 0.2]) > 0).astype(np.int64)
    frame = pd.DataFrame(features, columns=FEATURES)
    with fti.connect(folder) as project:
        for strength in (1.0, 0.1, 0.01)[:VERSIONS]:
            with project.start_run("soak") as run:
                run.log_model(LogisticRegression(C=strength).fit(frame, labels), "fraud", input_example=frame.head(5))
        project.get_model("fraud:1").set_alias("champion")
        project.deploy("fraud", "fraud@champion")
        project.deploy("ab", {"fraud:1": 0.5, "fraud:2": 0.5})
    return features


def start_server(folder: Path, port: int) -> subprocess.Popen[bytes]:
    """``fti serve`` on 127.0.0.1:``port``, in its own process group."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "FTI_SERVING_REFRESH_SECONDS": "1",
        "FTI_SERVING_LOG_FLUSH_SECONDS": "1",
    }
    command = [sys.executable, "-m", "fti", "serve", "--project", str(folder), "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode()[-3000:] if process.stderr else ""
            raise SystemExit(f"fti serve exited with {process.returncode}: {error}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("fti serve did not get ready within 120 s")


def resident_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants (from /proc); 0 once it is gone."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        pending += children.get(current, [])
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def client(url: str, rate: float, stop: threading.Event, started: float, samples: Samples, seed: int) -> None:
    """Send predictions, at most ``rate`` per second, alternating between the two deployments."""
    random = np.random.default_rng(seed)
    interval = 1.0 / rate
    with httpx.Client(base_url=url, timeout=30) as http:
        index = 0
        while not stop.is_set():
            began = time.perf_counter()
            deployment = "fraud" if index % 2 == 0 else "ab"
            row = dict(zip(FEATURES, random.normal(size=len(FEATURES)).tolist(), strict=True))
            at = time.monotonic() - started
            try:
                response = http.post(f"/v1/deployments/{deployment}/predict", json={"instances": [row]})
                elapsed = (time.perf_counter() - began) * 1000
                if response.status_code == 200:
                    with samples.lock:
                        samples.latencies.append((at, elapsed))
                else:
                    samples.error(at, f"{deployment}: {response.status_code} {response.text[:200]}")
            except httpx.HTTPError as exc:
                samples.error(at, f"{deployment}: {type(exc).__name__}: {exc}")
            index += 1
            stop.wait(max(0.0, interval - (time.perf_counter() - began)))


def every(seconds: float, action: Callable[[int], None], stop: threading.Event) -> None:
    """Call ``action(n)`` every ``seconds`` (n counting from 0) until ``stop``."""
    count = 0
    while not stop.wait(seconds):
        action(count)
        count += 1


def control(folder: Path, reference: np.ndarray, stop: threading.Event, started: float, samples: Samples) -> None:
    """Alias moves every 5 s, re-deployments every 15 s and monitoring reads every 10 s, until ``stop``."""
    import pandas as pd

    import fti

    frame = pd.DataFrame(reference, columns=FEATURES)

    def guarded(kind: str, body: Callable[[fti.Project, int], object]) -> Callable[[int], None]:
        def run(count: int) -> None:
            try:
                with fti.connect(folder) as project:
                    body(project, count)
                samples.operation(kind)
            except Exception as exc:  # counted and reported, the soak goes on
                samples.error(time.monotonic() - started, f"{kind}: {type(exc).__name__}: {exc}")

        return run

    def move_alias(project: fti.Project, count: int) -> None:
        project.get_model(f"fraud:{(count + 1) % VERSIONS + 1}").set_alias("champion")

    def redeploy(project: fti.Project, count: int) -> None:
        share = (0.2, 0.5, 0.8)[count % 3]
        project.deploy("ab", {"fraud:1": share, f"fraud:{2 + count % (VERSIONS - 1)}": 1 - share})

    def monitor(project: fti.Project, count: int) -> None:
        project.monitor("fraud", frame, window="1h")

    loops = [
        threading.Thread(target=every, args=(5, guarded("alias move", move_alias), stop), daemon=True),
        threading.Thread(target=every, args=(15, guarded("deployment change", redeploy), stop), daemon=True),
        threading.Thread(target=every, args=(10, guarded("monitor", monitor), stop), daemon=True),
    ]
    for loop in loops:
        loop.start()
    for loop in loops:
        loop.join()


def report(samples: Samples, seconds: float, warm_up: float, console: Console) -> bool:
    """Print the per-minute table and the verdict against both targets; whether there were no errors."""
    table = Table(title="fti serve soak (loopback)")
    for column in ("minute", "requests", "errors", "p50 ms", "p99 ms", "server RSS MiB"):
        table.add_column(column, justify="right")
    latencies = np.array(samples.latencies or [(0.0, 0.0)])
    memory = np.array(samples.memory or [(0.0, 0)])
    for minute in range(int(np.ceil(seconds / 60))):
        start, end = minute * 60, min((minute + 1) * 60, seconds)
        chosen = latencies[(latencies[:, 0] >= start) & (latencies[:, 0] < end), 1]
        errors = sum(1 for at, _ in samples.errors if start <= at < end)
        rss = memory[(memory[:, 0] >= start) & (memory[:, 0] <= end + 0.5), 1]
        p50, p99 = np.percentile(chosen, [50, 99]) if len(chosen) else (float("nan"), float("nan"))
        resident = f"{rss[-1] / 2**20:,.0f}" if len(rss) else "-"
        table.add_row(str(minute + 1), f"{len(chosen):,}", str(errors), f"{p50:.1f}", f"{p99:.1f}", resident)
    console.print(table)
    after_warm_up = memory[memory[:, 0] >= warm_up, 1]
    growth = (after_warm_up[-1] - after_warm_up[0]) / after_warm_up[0] if len(after_warm_up) > 1 else 0.0
    operations = ", ".join(f"{kind}: {count}" for kind, count in sorted(samples.operations.items()))
    console.print(f"control operations: {operations or 'none'}")
    for at, what in samples.errors[:10]:
        console.print(f"  error at {at:.1f} s: {what}")
    errors_ok = len(samples.errors) <= MAX_ERRORS
    growth_ok = growth < MAX_RSS_GROWTH
    console.print(
        f"errors: {len(samples.errors)} (target {MAX_ERRORS}) {'ok' if errors_ok else 'MISSED'}; "
        f"RSS growth after {warm_up:.0f} s warm-up: {growth:+.1%} (target < {MAX_RSS_GROWTH:.0%}) "
        f"{'ok' if growth_ok else 'MISSED'}"
    )
    return errors_ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the load runs (default 10)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--rate", type=float, default=20.0, help="requests/s per client at most (default 20)")
    arguments = parser.parse_args()
    from fti.testing.services import free_port

    console = Console()
    seconds = arguments.minutes * 60
    warm_up = min(60.0, seconds / 3)
    with tempfile.TemporaryDirectory(prefix="fti-soak-") as scratch:
        folder = Path(scratch)
        reference = build_project(folder)
        port = free_port()
        server = start_server(folder, port)
        samples = Samples()
        stop = threading.Event()
        started = time.monotonic()
        url = f"http://127.0.0.1:{port}"
        threads = [
            threading.Thread(target=client, args=(url, arguments.rate, stop, started, samples, seed), daemon=True)
            for seed in range(arguments.clients)
        ]
        threads.append(threading.Thread(target=control, args=(folder, reference, stop, started, samples)))
        for thread in threads:
            thread.start()
        try:
            while (at := time.monotonic() - started) < seconds:
                samples.memory.append((at, resident_bytes(server.pid)))
                if server.poll() is not None:
                    samples.error(at, f"fti serve exited with {server.returncode}")
                    break
                time.sleep(min(5.0, max(0.0, seconds - at)))
            samples.memory.append((time.monotonic() - started, resident_bytes(server.pid)))
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=60)
            if server.stderr is not None:
                server.stderr.close()
    ok = report(samples, seconds, warm_up, console)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
