"""Model server throughput and latency: a 20-feature logistic regression behind /v1 and /v2.

Starts the server in its own process on 127.0.0.1 and drives it from this process with a light
keep-alive HTTP/1.1 load generator (one asyncio connection per concurrent client, each sending its next
request when the previous answer is in). For each case and concurrency (1, 8, 32) it runs for a fixed
time and prints requests/s, rows/s and p50/p99 latency. Every answer is checked for status 200.

    python benchmarks/serving.py            # 20 s per cell
    python benchmarks/serving.py --quick    # 3 s per cell
    python benchmarks/serving.py --batching # with adaptive micro-batching on

``--compare`` (running the same load against ``mlflow models serve`` and MLServer, each installed in its
own virtual environment) is not implemented yet.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
FEATURES = 20
MODEL = "fraud"


def build_app():  # type: ignore[no-untyped-def]
    """The app under test: a registry with one 20-feature logistic regression behind deployment 'fraud'."""
    from sklearn.linear_model import LogisticRegression

    from fti.core.deployments import Deployment
    from fti.inference.server import ServingSettings, create_app
    from fti.testing.serving import InMemoryDeploymentSource, InMemoryModelRegistry

    random = np.random.default_rng(0)
    features = random.normal(size=(5000, FEATURES))
    labels = (features @ random.normal(size=FEATURES) > 0).astype(int)
    registry = InMemoryModelRegistry()
    schema = [(f"f{index}", "float64") for index in range(FEATURES)]
    registry.register(MODEL, LogisticRegression().fit(features, labels), schema, output_name="probability")
    registry.set_alias(MODEL, "champion", 1)
    deployments = InMemoryDeploymentSource([Deployment.create(MODEL, {f"{MODEL}@champion": 1.0})])
    settings = ServingSettings(batching=os.environ.get("FTI_BENCH_BATCHING") == "1", log_flush_seconds=1.0)
    return create_app(registry, deployments, None, _DiscardingSink(), settings)


class _DiscardingSink:
    """Receives the request log (so the writer does its full work) and keeps only a row count."""

    def __init__(self) -> None:
        self.rows = 0

    def write(self, batch: object) -> None:
        self.rows += batch.num_rows  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    body: bytes
    headers: dict[str, str]
    rows: int


def _cases() -> list[Case]:
    random = np.random.default_rng(1)

    def instances(count: int) -> bytes:
        matrix = random.normal(size=(count, FEATURES)).round(4)
        rows = [{f"f{index}": value for index, value in enumerate(row)} for row in matrix.tolist()]
        return json.dumps({"instances": rows}).encode()

    inputs = [
        {"name": f"f{index}", "shape": [1], "datatype": "FP64", "data": [float(value)]}
        for index, value in enumerate(random.normal(size=FEATURES))
    ]
    v2 = json.dumps({"inputs": inputs}).encode()
    json_type = {"Content-Type": "application/json"}
    return [
        Case("/v1 1 row", f"/v1/deployments/{MODEL}/predict", instances(1), json_type, 1),
        Case("/v1 100 rows", f"/v1/deployments/{MODEL}/predict", instances(100), json_type, 100),
        Case("/v2 1 row", f"/v2/models/{MODEL}/infer", v2, json_type, 1),
    ]


async def _client(port: int, request: bytes, stop_at: float, latencies: list[float], failures: list[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12]
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != b"200":
                failures.append(status.decode())
    finally:
        writer.close()


async def _load(port: int, case: Case, concurrency: int, seconds: float) -> tuple[float, float, float, int]:
    headers = "".join(f"{key}: {value}\r\n" for key, value in case.headers.items())
    request = (
        f"POST {case.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}Content-Length: {len(case.body)}\r\n\r\n"
    ).encode() + case.body
    latencies: list[float] = []
    failures: list[str] = []
    await _load_once(port, request, concurrency, time.perf_counter() + min(1.0, seconds / 3), [], failures)
    started = time.perf_counter()
    await _load_once(port, request, concurrency, started + seconds, latencies, failures)
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed for {case.name} (statuses {sorted(set(failures))}).")
    p50, p99 = np.percentile(np.array(latencies) * 1000, [50, 99])
    return len(latencies) / elapsed, float(p50), float(p99), len(latencies)


async def _load_once(
    port: int, request: bytes, concurrency: int, stop_at: float, latencies: list[float], failures: list[str]
) -> None:
    await asyncio.gather(*(_client(port, request, stop_at, latencies, failures) for _ in range(concurrency)))


def _start_server(port: int, workers: int, batching: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}", "FTI_BENCH_BATCHING": str(int(batching))}
    command = [sys.executable, "-m", "fti.inference.runner", "benchmarks.serving:build_app"]
    command += ["--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 s per cell instead of 20 s")
    parser.add_argument("--seconds", type=float, help="seconds per cell (overrides --quick)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--batching", action="store_true", help="turn adaptive micro-batching on")
    parser.add_argument("--compare", action="store_true", help="also run MLServer and mlflow (not implemented yet)")
    args = parser.parse_args()
    if args.compare:
        parser.error("--compare is not implemented yet: it needs MLServer and mlflow in their own environments.")
    seconds = args.seconds or (3.0 if args.quick else 20.0)

    from fti.testing.services import free_port, wait_for_port

    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    port = free_port()
    server = _start_server(port, args.workers, args.batching)
    table = Table("endpoint", "concurrency", "requests/s", "rows/s", "p50 ms", "p99 ms", "requests")
    table.title = (
        f"Model server, {FEATURES}-feature logistic regression, {args.workers} worker(s), "
        f"batching {'on' if args.batching else 'off'}, {seconds:g} s per cell"
    )
    try:
        wait_for_port(port)
        for case in _cases():
            for concurrency in args.concurrency:
                rate, p50, p99, count = asyncio.run(_load(port, case, concurrency, seconds))
                table.add_row(
                    case.name,
                    str(concurrency),
                    f"{rate:,.0f}",
                    f"{rate * case.rows:,.0f}",
                    f"{p50:.2f}",
                    f"{p99:.2f}",
                    f"{count:,}",
                )
    finally:
        server.terminate()
        server.wait(timeout=60)
    Console().print(table)


if __name__ == "__main__":
    main()
