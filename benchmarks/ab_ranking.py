"""Speed of the ranking A/B test: ``compare_ranking`` (ROC-AUC and average precision, 2,000 bootstrap resamples of
each variant's labelled requests) against the peer, scikit-learn's metric called once per resample on the resampled
rows (what a bootstrap written with scikit-learn does). Both give the same values on the same resamples (checked).

Wall-clock figures depend on what else runs on the machine; on a shared machine, compare the columns of one run
(interleaved), not absolute numbers across runs.

Run: ``python benchmarks/ab_ranking.py [--quick] [--rows 600,5000] [--resamples 2000]``
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from fti.monitoring.stats.ranking import compare_ranking, ranking_metric

_PEERS = {"roc_auc": roc_auc_score, "average_precision": average_precision_score}


def _variant(rng: np.random.Generator, rows: int, separation: float) -> tuple[np.ndarray[Any, Any], ...]:
    labels = (rng.random(rows) < 0.08).astype(np.float64)
    return rng.normal(0, 1, rows) + separation * labels, labels


def _peer(metric: str, scores: np.ndarray[Any, Any], labels: np.ndarray[Any, Any], resamples: int) -> float:
    """Seconds for scikit-learn's metric on each of ``resamples`` resamples of one variant."""
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for _ in range(resamples):
        drawn = rng.integers(0, scores.size, scores.size)
        if labels[drawn].min() == labels[drawn].max():
            continue
        _PEERS[metric](labels[drawn], scores[drawn])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="600 rows, 200 resamples")
    parser.add_argument("--rows", default="600,5000", help="labelled requests per variant, comma-separated")
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()
    sizes = [600] if args.quick else [int(size) for size in args.rows.split(",")]
    resamples = 200 if args.quick else args.resamples
    rng = np.random.default_rng(1)
    print(f"{'metric':<18} {'rows/variant':>12} {'resamples':>9} {'compare_ranking s':>18} {'sklearn loop s':>15}")
    for size in sizes:
        control, treatment = _variant(rng, size, 1.0), _variant(rng, size, 1.5)
        for metric in _PEERS:
            # the same values as scikit-learn on a weighted resample (the check, not the timing)
            weights = np.bincount(rng.integers(0, size, size), minlength=size)[None, :]
            ours = float(ranking_metric(metric, *treatment, weights)[0])
            assert abs(ours - _PEERS[metric](treatment[1], treatment[0], sample_weight=weights[0])) < 1e-9
            started = time.perf_counter()
            compare_ranking(control, treatment, metric=metric, resamples=resamples)
            fast = time.perf_counter() - started
            peer = _peer(metric, *control, resamples) + _peer(metric, *treatment, resamples)
            print(f"{metric:<18} {size:>12,} {resamples:>9,} {fast:>18.3f} {peer:>15.3f}")


if __name__ == "__main__":
    main()
