"""Scale-out on Ray: the same workloads on 2 local worker processes and on a 2-node Ray cluster (1 CPU each).

Five workloads, each timed on both executors (the second of two calls, so neither pays for starting its
workers), each checked for an exact result:

- batch predict: ``batch_predict`` of a 20-feature logistic regression over ``--rows`` rows in parts, one
  commit; the written predictions of both executors must be equal.
- tuning: ``project.tune`` with ``--trials`` random-forest trials in 2 workers; every trial completes.
- point-in-time join: ``--spine`` spine rows joined onto ``--feature-rows`` feature rows (one key), the
  partitioned join (one DuckDB ASOF join per key-hash partition, 2 partitions per worker) against the
  single-node join in this process; equal row for row.
- MLP training: seconds per epoch (a whole ``train`` call over its epochs: preprocessing and the test
  metrics included) of the PyTorch MLP (two layers of 64, 1 thread) over ``--mlp-rows`` rows in this
  process, and data-parallel on 2 workers of each executor (DistributedDataParallel, gloo; the time
  includes starting the process group and shipping the shards); each model must be a fitted MLP of the
  same class that predicts (data-parallel training is not bit-identical to one process's).
- ingestion: ``--ingest-rows`` rows in 8 CSV files ingested into a new feature group, in this process and in
  parts on the Ray cluster (a run of files per task, one commit); the committed rows must be equal.

Also prints the partitioned join's per-partition throughput, which ``docs/scaling.md`` projects from. The
cluster is started here (a head and a second node on their own loopback addresses), so run it where the
network is loopback only, or point it at a running cluster with ``--address``:

    tools/loopback-only.sh python benchmarks/ray_scaling.py          # the issue's sizes (10M, 16, 1M x 10M, 1M), 2M
    tools/loopback-only.sh python benchmarks/ray_scaling.py --quick  # 200k rows, 4 trials, 100k x 1M, 100k, 200k
    tools/loopback-only.sh python benchmarks/ray_scaling.py --only ingest --only batch   # some of them
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from rich.console import Console
from rich.table import Table
from sklearn.linear_model import LogisticRegression

FEATURES = [f"f{index}" for index in range(20)]
WEIGHTS = np.random.default_rng(1).normal(size=len(FEATURES))
BATCH = 500_000


def _transactions(rows: int) -> Iterator[pa.RecordBatch]:
    rng = np.random.default_rng(0)
    start = np.datetime64("2024-01-01T00:00:00", "us")
    for first in range(0, rows, BATCH):
        index = np.arange(first, min(rows, first + BATCH))
        values = rng.normal(size=(len(index), len(FEATURES)))
        columns = {"k": index, "ts": pa.array(start + index.astype("timedelta64[s]"), pa.timestamp("us", tz="UTC"))}
        columns |= {name: values[:, column] for column, name in enumerate(FEATURES)}
        columns["label"] = (values @ WEIGHTS > 0).astype(np.int64)
        yield pa.record_batch(columns)


def _timed(function: Callable[[], Any]) -> tuple[float, Any]:
    function()  # the first call starts the workers and imports what the tasks need
    began = time.perf_counter()
    value = function()
    return time.perf_counter() - began, value


def batch_predict_on(folder: Path, executors: dict[str, Any], rows: int) -> dict[str, tuple[float, bool]]:
    """Seconds of batch_predict in parts per executor, and whether each wrote what the first wrote."""
    import fti
    from fti.inference.batch import Parallelism, batch_predict

    with fti.connect(folder) as project:
        group = project.create_feature_group("transactions", primary_key=["k"], event_time="ts")
        batches = list(_transactions(rows))
        group.insert(pa.Table.from_batches(batches))
        project.create_feature_view("transactions", query=group.select_all(), labels=["label"])
        model = LogisticRegression().fit(
            pd.DataFrame(np.ones((4, 20)) * [[0], [1], [2], [3]], columns=FEATURES), [0, 1, 0, 1]
        )
        with project.start_run("benchmark") as run_:
            run_.log_model(model, "scorer")
        results: dict[str, tuple[float, bool]] = {}
        first: pd.DataFrame | None = None
        options: dict[str, Any] = {"feature_view": "transactions", "show_progress": False}
        for index, (name, executor) in enumerate(executors.items()):
            opener = functools.partial(fti.connect, folder)
            parts = Parallelism(lambda executor=executor: executor, opener, min_rows=0, min_workers=2)
            calls = iter(range(2))

            def predict(index: int = index, parts: Parallelism = parts, calls: Iterator[int] = calls) -> None:
                output = f"scores_{index}_{next(calls)}"
                batch_predict(project.features, project.registry, "scorer", output=output, parallelism=parts, **options)

            seconds, _ = _timed(predict)
            written = project.get_feature_group(f"scores_{index}_1").read().sort_values("k").reset_index(drop=True)
            first = written if first is None else first
            results[name] = (seconds, written.equals(first))
    return results


def ingest_on(folder: Path, executors: dict[str, Any], rows: int, files: int) -> dict[str, tuple[float, bool]]:
    """Seconds of ingesting ``files`` CSV files of ``rows`` rows in all, in this process and on each cluster
    executor (in parts, one commit); whether each committed what this process committed."""
    import fti
    from fti.features import FeatureStore

    source_folder = folder / "csv"
    source_folder.mkdir(parents=True)
    for number, table in enumerate(_transactions_in(rows, files)):
        table.to_pandas().to_csv(source_folder / f"part_{number:03d}.csv", index=False)
    runs: dict[str, Any] = {"1 process, here": None} | {
        name: executor for name, executor in executors.items() if executor.is_cluster
    }
    results: dict[str, tuple[float, bool]] = {}
    first: pd.DataFrame | None = None
    for index, (name, executor) in enumerate(runs.items()):
        with fti.connect(folder / f"project_{index}") as project:
            features = FeatureStore(
                project.catalog, project.offline_store, executor=None if executor is None else lambda e=executor: e
            )
            calls = iter(range(2))

            def ingest(features: FeatureStore = features, calls: Iterator[int] = calls) -> None:
                group = features.create_feature_group(f"events_{next(calls)}", primary_key=["k"], event_time="ts")
                group.insert(fti.sources.csv(str(source_folder / "*.csv")))

            seconds, _ = _timed(ingest)
            written = features.get_feature_group("events_1").read().sort_values("k").reset_index(drop=True)
            first = written if first is None else first
            results[name] = (seconds, written.equals(first))
    return results


def _transactions_in(rows: int, files: int) -> Iterator[pa.Table]:
    """``rows`` transactions in ``files`` tables of about equal rows."""
    table = pa.Table.from_batches(list(_transactions(rows)))
    for number in range(files):
        first, last = rows * number // files, rows * (number + 1) // files
        yield table.slice(first, last - first)


def tune_on(folder: Path, overrides: dict[str, dict[str, Any]], trials: int) -> dict[str, tuple[float, bool]]:
    """Seconds of project.tune with 2 workers per executor, and whether every trial completed."""
    import optuna

    import fti

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = np.random.default_rng(0)
    values = rng.normal(size=(4000, len(FEATURES)))
    frame = pd.DataFrame(values, columns=FEATURES)
    frame.insert(0, "id", np.arange(len(frame)))
    frame.insert(1, "ts", pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(len(frame)), unit="min"))
    frame["label"] = (values @ WEIGHTS > 0).astype(np.int64)
    space = {"max_depth": fti.space.int(3, 12), "min_samples_leaf": fti.space.int(1, 20)}
    options = {"n_trials": trials, "sampler": "random", "pruning": False, "params": {"n_estimators": 60, "n_jobs": 1}}
    results = {}
    for name, override in overrides.items():
        with fti.connect(folder / name, overrides=override) as project:
            group = project.create_feature_group("points", primary_key=["id"], event_time="ts")
            group.insert(frame)
            view = project.create_feature_view("points", query=group.select([*FEATURES, "label"]), labels=["label"])
            td = view.create_training_data(split={"train": 0.7, "validation": 0.15, "test": 0.15}, split_by="time")
            seconds, tuned = _timed(lambda: project.tune(td, "random_forest", space, n_workers=2, **options))  # noqa: B023
            results[name] = (seconds, tuned.result.n_complete == trials)
    return results


def pit_join_on(executors: dict[str, Any], spine_rows: int, feature_rows: int) -> dict[str, tuple[float, bool]]:
    """Seconds of the single-node join here and of the partitioned join per executor; whether each is exact."""
    from fti.features.asof_join import JoinedGroup, point_in_time_sql
    from fti.features.partitioned_join import FeatureRows, partitioned_point_in_time
    from fti.features.sql import query_engine

    rng = np.random.default_rng(3)
    keys = max(1, feature_rows // 10)
    start = np.datetime64("2024-01-01T00:00:00", "us")
    time_type = pa.timestamp("us", tz="UTC")
    feature_times = rng.integers(0, 10_000_000, feature_rows)
    rows = pa.table(
        {"k": np.arange(feature_rows) % keys, "t": pa.array(start + feature_times.astype("timedelta64[s]"), time_type)}
        | {name: rng.normal(size=feature_rows) for name in FEATURES[:5]}
    )
    spine = pa.table(
        {
            "k": rng.integers(0, keys, spine_rows),
            "ts": pa.array(start + rng.integers(0, 10_000_000, spine_rows).astype("timedelta64[s]"), time_type),
        }
    )
    join = JoinedGroup("g0", (("k", "k"),), "t", 86_400.0 * 30, tuple((name, name) for name in FEATURES[:5]))

    def single_node() -> pa.Table:
        numbered = spine.append_column("_row", pa.array(np.arange(spine_rows)))
        connection = query_engine()
        try:
            connection.register("spine_rows", numbered)
            connection.register("g0", rows)
            sql = point_in_time_sql("spine_rows", "ts", numbered.column_names, [join], ["_row"])
            return connection.sql(sql).to_arrow_table().drop_columns(["_row"])
        finally:
            connection.close()

    seconds, expected = _timed(single_node)
    results = {"single node, here": (seconds, True)}
    for name, executor in executors.items():
        seconds, joined = _timed(
            lambda executor=executor: partitioned_point_in_time(spine, "ts", [FeatureRows(rows, join)], executor, 4)
        )
        results[name] = (seconds, joined.equals(expected))
    return results


def mlp_on(executors: dict[str, Any], rows: int, epochs: int) -> dict[str, tuple[float, bool]]:
    """Seconds per MLP epoch in this process (1 thread) and data-parallel on 2 workers of each executor
    (DistributedDataParallel, gloo); whether each model is a fitted MLP of the same class that predicts."""
    from fti.training import train
    from fti.training.ports import Splits

    rng = np.random.default_rng(5)
    values = rng.normal(size=(rows, len(FEATURES)))
    frame = pd.DataFrame(values, columns=FEATURES)
    target = pd.Series((values @ WEIGHTS > 0).astype(np.int64))
    held_out = slice(rows - rows // 10, rows)
    data = Splits(
        train=(frame.iloc[: held_out.start], target.iloc[: held_out.start]), test=(frame[held_out], target[held_out])
    )
    params = {"hidden_layers": (64, 64), "epochs": epochs, "batch_size": 256, "progress": False, "threads": 1}
    local_type: type | None = None

    def fitted(result: Any) -> bool:
        model = result.model.named_steps["model"]
        return type(model) is local_type and len(result.model.predict(frame.iloc[:100])) == 100

    seconds, local = _timed(lambda: train(data, "mlp", params=params, figures=False))
    results = {"1 process, here": (seconds / epochs, True)}
    local_type = type(local.model.named_steps["model"])
    for name, executor in executors.items():
        seconds, result = _timed(
            lambda executor=executor: train(
                data, "mlp", params=params | {"workers": 2}, executor=lambda: executor, figures=False
            )
        )
        results[name] = (seconds / epochs, fitted(result))
    return results


@contextlib.contextmanager
def _executors(address: str | None) -> Iterator[tuple[dict[str, Any], str]]:
    from fti.backends.kinds import create_backend
    from fti.testing.ray_cluster import ray_cluster

    with contextlib.ExitStack() as stack:
        if address is None:
            address = stack.enter_context(ray_cluster(nodes=2, cpus_per_node=1)).address
        executors = {
            "2 local processes": create_backend("executor", "local", {"max_workers": 2}),
            "Ray, 2 nodes": create_backend("executor", "ray", {"address": address}),
        }
        for executor in executors.values():
            executor.open()
            stack.callback(executor.close)
        yield executors, address


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="200k rows, 4 trials, a 100k x 1M join, 100k MLP rows, 200k rows ingested"
    )
    parser.add_argument("--rows", type=int, help="batch-predict rows (default 10M)")
    parser.add_argument("--trials", type=int, help="tuning trials (default 16)")
    parser.add_argument("--spine", type=int, help="point-in-time join spine rows (default 1M)")
    parser.add_argument("--feature-rows", type=int, help="point-in-time join feature rows (default 10M)")
    parser.add_argument("--mlp-rows", type=int, help="MLP training rows (default 1M)")
    parser.add_argument("--ingest-rows", type=int, help="rows of CSV files to ingest (default 2M, in 8 files)")
    parser.add_argument(
        "--only", choices=["batch", "tune", "join", "mlp", "ingest"], action="append", help="run only these workloads"
    )
    parser.add_argument("--address", help="a running Ray cluster's address instead of starting one here")
    args = parser.parse_args()
    rows = args.rows or (200_000 if args.quick else 10_000_000)
    trials = args.trials or (4 if args.quick else 16)
    spine = args.spine or (100_000 if args.quick else 1_000_000)
    feature_rows = args.feature_rows or (1_000_000 if args.quick else 10_000_000)
    mlp_rows = args.mlp_rows or (100_000 if args.quick else 1_000_000)
    ingest_rows = args.ingest_rows or (200_000 if args.quick else 2_000_000)
    chosen = set(args.only or ["batch", "tune", "join", "mlp", "ingest"])

    table = Table("workload", "executor", "seconds", "speed-up", "exact", title="Local processes vs a Ray cluster")
    with (
        tempfile.TemporaryDirectory(prefix="fti-ray-scaling-") as folder,
        _executors(args.address) as (executors, address),
    ):
        measured: dict[str, dict[str, tuple[float, bool]]] = {}
        if "batch" in chosen:
            measured[f"batch predict, {rows:,} rows"] = batch_predict_on(Path(folder) / "batch", executors, rows)
        if "tune" in chosen:
            measured[f"tuning, {trials} trials"] = tune_on(
                Path(folder) / "tune",
                {
                    name: {"executor.type": kind, **({"executor.address": address} if kind == "ray" else {})}
                    | {"executor.max_workers": 2}
                    for name, kind in (("2 local processes", "local"), ("Ray, 2 nodes", "ray"))
                },
                trials,
            )
        if "join" in chosen:
            measured[f"PIT join, {spine:,} x {feature_rows:,}"] = pit_join_on(executors, spine, feature_rows)
        if "mlp" in chosen:
            measured[f"MLP epoch, {mlp_rows:,} rows"] = mlp_on(executors, mlp_rows, epochs=2)
        if "ingest" in chosen:
            measured[f"ingest 8 CSV files, {ingest_rows:,} rows"] = ingest_on(
                Path(folder) / "ingest", executors, ingest_rows, 8
            )
    for workload, results in measured.items():
        baseline = next(iter(results.values()))[0]
        for name, (seconds, exact) in results.items():
            table.add_row(workload, name, f"{seconds:.2f}", f"{baseline / seconds:.2f}x", "yes" if exact else "NO")
    Console().print(table)
    join = measured.get(f"PIT join, {spine:,} x {feature_rows:,}")
    if join is not None:
        print(f"partitioned PIT join on Ray: {spine / join['Ray, 2 nodes'][0] / 2:,.0f} spine rows/s per worker")


if __name__ == "__main__":
    main()
