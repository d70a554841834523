"""Drift check throughput: 1M logged rows x 20 features (12 numeric, 8 categorical) against a 100k-row reference.

Times building the reference profile (once, from training data), one drift check over the whole current
table, and drift over time in 24 hourly windows; the baseline computes the same statistics with SciPy on the
raw reference and current values (what a check costs without a profile). ``--quick`` uses 100k current rows
and a 10k reference.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from fti.monitoring.drift import detect_drift
from fti.monitoring.reference import build_reference
from fti.monitoring.windows import drift_over_time

NUMERIC = 12
CATEGORICAL = 8


def generate(rows: int, seed: int, *, shifted: bool) -> pa.Table:
    """Traffic with 12 numeric and 8 categorical features; ``shifted`` moves 4 of them."""
    rng = np.random.default_rng(seed)
    move = 0.3 if shifted else 0.0
    columns: dict[str, Any] = {}
    for index in range(NUMERIC):
        shift = move if index < 2 else 0.0
        if index % 3 == 0:
            columns[f"num_{index}"] = rng.normal(shift, 1.0, rows)
        elif index % 3 == 1:
            columns[f"num_{index}"] = rng.lognormal(shift, 1.0, rows)
        else:
            columns[f"num_{index}"] = rng.integers(0, 1000, rows).astype(np.float64) + shift * 300
    for index in range(CATEGORICAL):
        name = f"cat_{index}"
        if index < 4:  # strings with 10 to 40 categories
            size = 10 * (index + 1)
            weights = np.linspace(1.0, 3.0, size)
            if shifted and index < 2:
                weights = weights[::-1]
            codes = rng.choice(size, rows, p=weights / weights.sum())
            dictionary = pa.array([f"{name}_value_{k}" for k in range(size)])
            columns[name] = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), dictionary).cast(pa.string())
        elif index < 6:
            columns[name] = rng.integers(0, 4, rows)
        else:
            columns[name] = rng.random(rows) < 0.3
    start = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp() * 1e6)
    hour = 3_600_000_000
    columns["ts"] = pa.array(start + np.sort(rng.integers(0, 24 * hour, rows)), pa.timestamp("us", tz="UTC"))
    return pa.table(columns)


def exact_scores(training: pa.Table, current: pa.Table, kinds: dict[str, str]) -> dict[str, float]:
    """The baseline: the same statistics by SciPy on the raw reference and current values (no profile)."""
    from scipy import stats
    from scipy.spatial import distance

    scores = {}
    for name, kind in kinds.items():
        if kind == "numeric":
            reference = training.column(name).to_numpy()
            scores[name] = stats.wasserstein_distance(reference, current.column(name).to_numpy()) / reference.std()
        else:
            ours = training.column(name).to_pandas().astype(str).value_counts()
            theirs = current.column(name).to_pandas().astype(str).value_counts()
            index = ours.index.union(theirs.index)
            scores[name] = distance.jensenshannon(
                ours.reindex(index, fill_value=0), theirs.reindex(index, fill_value=0)
            )
    return scores


def timed(action: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100k current rows against a 10k reference")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    reference_rows, current_rows = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    training = generate(reference_rows, 1, shifted=False).drop_columns(["ts"])
    current = generate(current_rows, 2, shifted=True)
    features = training.column_names

    build_s, profile = timed(lambda: build_reference(training), args.repeats)
    check_s, report = timed(lambda: detect_drift(profile, current, columns=features), args.repeats)
    hourly_s, hourly = timed(
        lambda: drift_over_time(profile, current, every=timedelta(hours=1), timestamp="ts", columns=features),
        args.repeats,
    )

    kinds = {name: result.kind for name, result in report.features.items()}
    exact_s, exact = timed(lambda: exact_scores(training, current, kinds), 1)
    gap = max(abs(report.features[name].score - exact[name]) for name in kinds)

    table = Table("step", "rows", "features", "seconds", "rows/s", title=f"Drift check (best of {args.repeats})")
    table.add_row(
        "build reference profile",
        f"{reference_rows:,}",
        str(len(features)),
        f"{build_s:.3f}",
        f"{reference_rows / build_s:,.0f}",
    )
    table.add_row(
        "drift check, one window",
        f"{current_rows:,}",
        str(len(features)),
        f"{check_s:.3f}",
        f"{current_rows / check_s:,.0f}",
    )
    table.add_row(
        f"drift over time, {len(hourly)} hourly windows",
        f"{current_rows:,}",
        str(len(features)),
        f"{hourly_s:.3f}",
        f"{current_rows / hourly_s:,.0f}",
    )
    table.add_row(
        "baseline: SciPy on raw values, one window",
        f"{current_rows:,}",
        str(len(features)),
        f"{exact_s:.3f}",
        f"{current_rows / exact_s:,.0f}",
    )
    console = Console()
    console.print(table)
    methods = sorted({result.method for result in report.features.values()})
    console.print(
        f"methods: {', '.join(methods)}; drifted: {', '.join(report.drifted_features)} "
        f"(share {report.share_drifted:.2f}); "
        f"largest score gap to the SciPy baseline: {gap:.2e}; target: drift check under 5 s for 1M x 20"
    )


if __name__ == "__main__":
    main()
