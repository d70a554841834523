"""Tuning throughput: ``project.tune`` of a random forest, trials in one process and in parallel workers.

Builds a project with one feature group (4,000 rows, 20 float features, a binary label), a feature view and a
training dataset, then times ``project.tune`` with 8 trials (random sampler, no pruning, a nested run per
trial), first with ``n_workers=1`` and then twice with ``n_workers=2``: the first parallel call pays for
starting the worker processes, the second finds them started when the project keeps them (its executor).
Prints seconds and trials per second for each, and the speed-up of the parallel calls over one process.

    python benchmarks/tune_parallel.py            # 8 trials per call
    python benchmarks/tune_parallel.py --quick    # 4 trials per call
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

ROWS = 4_000
FEATURES = [f"f{index}" for index in range(20)]


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(ROWS, len(FEATURES)))
    frame = pd.DataFrame(values, columns=FEATURES)
    frame.insert(0, "id", np.arange(ROWS))
    frame.insert(1, "ts", pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(ROWS), unit="min"))
    weights = rng.normal(size=len(FEATURES))
    frame["label"] = (values @ weights + rng.normal(scale=1.0, size=ROWS) > 0).astype(np.int64)
    return frame


def run(trials: int) -> list[tuple[str, float]]:
    """Time one sequential and two parallel tuning calls on a fresh project."""
    import optuna

    import fti

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {"max_depth": fti.space.int(3, 12), "min_samples_leaf": fti.space.int(1, 20)}
    options = {"n_trials": trials, "sampler": "random", "pruning": False, "params": {"n_estimators": 60, "n_jobs": 1}}
    timings = []
    with tempfile.TemporaryDirectory(prefix="fti-tune-") as folder, fti.connect(Path(folder)) as project:
        group = project.create_feature_group("points", primary_key=["id"], event_time="ts")
        group.insert(_frame())
        view = project.create_feature_view("points", query=group.select([*FEATURES, "label"]), labels=["label"])
        td = view.create_training_data(split={"train": 0.7, "validation": 0.15, "test": 0.15}, split_by="time")
        for label, workers in (("1 process", 1), ("2 workers, first call", 2), ("2 workers, second call", 2)):
            began = time.perf_counter()
            tuned = project.tune(td, "random_forest", space, n_workers=workers, **options)  # type: ignore[arg-type]
            timings.append((label, time.perf_counter() - began))
            assert tuned.result.n_complete == trials
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="4 trials per call instead of 8")
    args = parser.parse_args()
    trials = 4 if args.quick else 8
    timings = run(trials)
    table = Table("project.tune", "seconds", "trials/s", "speed-up", title=f"Tuning, {trials} random-forest trials")
    sequential = timings[0][1]
    for label, seconds in timings:
        table.add_row(label, f"{seconds:.2f}", f"{trials / seconds:.2f}", f"{sequential / seconds:.2f}x")
    Console().print(table)
    print(f"tuning trials/s with 2 workers (second call): {trials / timings[-1][1]:.2f}")


if __name__ == "__main__":
    main()
