"""Model server throughput and latency: a 20-feature logistic regression behind /v1 and /v2, alone, answering
class scores, and in an ensemble of three.

Starts the server in its own process on 127.0.0.1 and drives it from this process with a light
keep-alive HTTP/1.1 load generator (one asyncio connection per concurrent client, each sending its next
request when the previous answer is in). For each case and concurrency (1, 8, 32) it runs for a fixed
time and prints requests/s, rows/s and p50/p99 latency. Every answer is checked for status 200. Three
deployments are measured side by side: ``fraud`` (the model's predictions), ``fraud_proba`` (the same model
answering class scores, ``output_kind="proba"``) and ``fraud_ensemble`` (three such models combined by
mean of their scores).

    python benchmarks/serving.py            # 20 s per cell
    python benchmarks/serving.py --quick    # 3 s per cell
    python benchmarks/serving.py --no-batching  # with micro-batching off (the server's default is on)
    python benchmarks/serving.py --deployments fraud  # only the single model

    python benchmarks/serving.py --compare  # also mlflow models serve and MLServer, same model and load

    python benchmarks/serving.py --project DIR [--deployment NAME]  # `fti serve` on a real project

``--project`` serves a real project's deployment with ``fti serve`` (request log into its offline store)
and sends rows with the input columns of the deployment's first model (float values).

``--compare`` installs ``mlflow`` and ``mlserver`` once, each in its own virtual environment under
``--compare-dir`` (pip needs to reach a package index), and compares MLflow-style ``/invocations`` bodies
(against mlflow) and ``[1, 20]`` and ``[100, 20]`` V2 tensors (against MLServer) with the fti server's answers
to the very same bodies.
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
DEPLOYMENTS = (MODEL, f"{MODEL}_proba", f"{MODEL}_ensemble")


def build_app():  # type: ignore[no-untyped-def]
    """The app under test: 20-feature logistic regressions behind deployments 'fraud' (predictions),
    'fraud_proba' (class scores) and 'fraud_ensemble' (three models, mean of their scores)."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from fti.core.deployments import Deployment
    from fti.inference.server import ServingSettings, create_app
    from fti.testing.serving import InMemoryDeploymentSource, InMemoryModelRegistry

    features, labels = _training_data()
    registry = InMemoryModelRegistry()
    schema = [(f"f{index}", "float64") for index in range(FEATURES)]
    frame = pd.DataFrame(features, columns=[column for column, _ in schema])  # served as a registered model is
    for strength in (1.0, 0.1, 0.01):
        registry.register(MODEL, LogisticRegression(C=strength).fit(frame, labels), schema, output_name="probability")
    registry.set_alias(MODEL, "champion", 1)
    members = {f"{MODEL}:{version}": 1 / 3 for version in (1, 2, 3)}
    deployments = InMemoryDeploymentSource(
        [
            Deployment.create(MODEL, {f"{MODEL}@champion": 1.0}),
            Deployment.create(f"{MODEL}_proba", {f"{MODEL}@champion": 1.0}, output_kind="proba"),
            Deployment.create(f"{MODEL}_ensemble", members, combine="mean"),
        ]
    )
    settings = ServingSettings(
        batching=os.environ.get("FTI_BENCH_BATCHING") == "1", log_flush_seconds=1.0, invocations_deployment=MODEL
    )
    return create_app(registry, deployments, None, _DiscardingSink(), settings)


def _training_data() -> tuple[np.ndarray, np.ndarray]:
    random = np.random.default_rng(0)
    features = random.normal(size=(5000, FEATURES))
    return features, (features @ random.normal(size=FEATURES) > 0).astype(int)


def _compare_cases(target: str) -> list[Case]:
    """Bodies every server understands: MLflow's dataframe_split on /invocations, one [n, 20] V2 tensor."""
    random = np.random.default_rng(2)
    columns = [f"f{index}" for index in range(FEATURES)]
    json_type = {"Content-Type": "application/json"}

    def split(count: int) -> bytes:
        data = random.normal(size=(count, FEATURES)).round(4).tolist()
        return json.dumps({"dataframe_split": {"columns": columns, "data": data}}).encode()

    def tensor(count: int) -> bytes:
        body: dict[str, object] = {
            "inputs": [
                {
                    "name": "features",
                    "shape": [count, FEATURES],
                    "datatype": "FP64",
                    "data": random.normal(size=count * FEATURES).round(4).tolist(),
                }
            ]
        }
        if target == "mlserver":
            body["outputs"] = [{"name": "predict_proba"}]
        return json.dumps(body).encode()

    cases = []
    if target in (MODEL, "mlflow"):
        cases += [
            Case("/invocations 1 row", "/invocations", split(1), json_type, 1),
            Case("/invocations 100 rows", "/invocations", split(100), json_type, 100),
        ]
    if target in (MODEL, "mlserver"):
        cases.append(Case("/v2 1x20 tensor", f"/v2/models/{MODEL}/infer", tensor(1), json_type, 1))
        cases.append(Case("/v2 100x20 tensor", f"/v2/models/{MODEL}/infer", tensor(100), json_type, 100))
    return cases


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


def _cases(
    columns: list[str] | None = None, deployment: str = MODEL, headers: dict[str, str] | None = None
) -> list[Case]:
    random = np.random.default_rng(1)
    names = columns or [f"f{index}" for index in range(FEATURES)]

    def instances(count: int) -> bytes:
        matrix = random.normal(size=(count, len(names))).round(4)
        rows = [dict(zip(names, row, strict=True)) for row in matrix.tolist()]
        return json.dumps({"instances": rows}).encode()

    inputs = [
        {"name": name, "shape": [1], "datatype": "FP64", "data": [float(value)]}
        for name, value in zip(names, random.normal(size=len(names)), strict=True)
    ]
    v2 = json.dumps({"inputs": inputs}).encode()
    json_type = {"Content-Type": "application/json", **(headers or {})}
    return [
        Case("/v1 1 row", f"/v1/deployments/{deployment}/predict", instances(1), json_type, 1),
        Case("/v1 100 rows", f"/v1/deployments/{deployment}/predict", instances(100), json_type, 100),
        Case("/v2 1 row", f"/v2/models/{deployment}/infer", v2, json_type, 1),
    ]


def _project_target(folder: Path, deployment: str | None) -> tuple[str, list[str]]:
    """The deployment to load (the only one when not named) and its first model's input columns."""
    import fti

    with fti.connect(folder) as project:
        names = [item.name for item in project.deployments()]
        if deployment is None:
            if len(names) != 1:
                raise SystemExit(f"{folder} has {len(names)} deployments ({names}): pass --deployment NAME.")
            deployment = names[0]
        signature = project.get_model(project.get_deployment(deployment).references[0]).signature
    if signature is None:
        raise SystemExit(f"Deployment '{deployment}''s model has no signature: the benchmark needs its columns.")
    return deployment, [column.name for column in signature.inputs]


def _start_project_server(port: int, folder: Path, workers: int, batching: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "fti", "serve", "--project", str(folder), "--port", str(port)]
    command += ["--workers", str(workers), "--batching" if batching else "--no-batching"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


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


def _measure(port: int, cases: list[Case], concurrencies: list[int], seconds: float, table: Table, label: str) -> None:
    for case in cases:
        for concurrency in concurrencies:
            rate, p50, p99, count = asyncio.run(_load(port, case, concurrency, seconds))
            cells = [f"{rate:,.0f}", f"{rate * case.rows:,.0f}", f"{p50:.2f}", f"{p99:.2f}", f"{count:,}"]
            table.add_row(*([label] if label else []), case.name, str(concurrency), *cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 s per cell instead of 20 s")
    parser.add_argument("--seconds", type=float, help="seconds per cell (overrides --quick)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument(
        "--no-batching", dest="batching", action="store_false", help="turn micro-batching off (on by default)"
    )
    parser.add_argument(
        "--compare", action="store_true", help="also run mlflow models serve and MLServer (own virtual environments)"
    )
    parser.add_argument(
        "--compare-dir", type=Path, default=Path.home() / ".cache" / "fti-benchmarks", help="where their venvs live"
    )
    parser.add_argument("--project", type=Path, help="serve this project's deployment with `fti serve` instead")
    parser.add_argument("--deployment", help="the project's deployment to load (default: its only one)")
    parser.add_argument(
        "--token", help="API token to send (when the project's server requires tokens); shows in the process list"
    )
    parser.add_argument("--token-file", type=Path, help="read the API token from this file's first line instead")
    parser.add_argument(
        "--deployments", nargs="+", choices=DEPLOYMENTS, default=list(DEPLOYMENTS), help="which deployments to drive"
    )
    args = parser.parse_args()
    if args.token_file is not None:
        if args.token is not None:
            parser.error("give the token once: --token or --token-file")
        args.token = (args.token_file.read_text(encoding="utf-8").splitlines() or [""])[0].strip()
    elif args.token is not None:
        print("Warning: a token given with --token shows in the process list; use --token-file.", file=sys.stderr)
    seconds = args.seconds or (3.0 if args.quick else 20.0)

    from fti.testing.services import free_port, wait_for_port

    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    port = free_port()
    targets = {name: _cases(deployment=name) for name in args.deployments}
    if args.project is not None:
        deployment, columns = _project_target(args.project, args.deployment)
        targets = {
            deployment: _cases(columns, deployment, {"Authorization": f"Bearer {args.token}"} if args.token else None)
        }
        server = _start_project_server(port, args.project, args.workers, args.batching)
    else:
        server = _start_server(port, args.workers, args.batching)
    table = Table("deployment", "endpoint", "concurrency", "requests/s", "rows/s", "p50 ms", "p99 ms", "requests")
    table.title = (
        f"Model server, {FEATURES}-feature logistic regression(s), {args.workers} worker(s), "
        f"batching {'on' if args.batching else 'off'}, {seconds:g} s per cell"
    )
    try:
        wait_for_port(port)
        for deployment, cases in targets.items():
            _measure(port, cases, args.concurrency, seconds, table, deployment)
            table.add_section()
        if args.compare and args.project is None:
            comparison = Table(
                "server", "endpoint", "concurrency", "requests/s", "rows/s", "p50 ms", "p99 ms", "requests"
            )
            comparison.title = (
                f"Same model and load against mlflow and MLServer (1 worker each), {seconds:g} s per cell"
            )
            _measure(port, _compare_cases(MODEL), args.concurrency, seconds, comparison, "fti")
    finally:
        server.terminate()
        server.wait(timeout=60)
    Console(width=130).print(table)
    if args.compare and args.project is None:
        sys.path.insert(0, str(ROOT))
        from benchmarks.serving_compare import run_others

        run_others(args.compare_dir, _training_data(), _compare_cases, args.concurrency, seconds, comparison, _measure)
        Console(width=130).print(comparison)


if __name__ == "__main__":
    main()
