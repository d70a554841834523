"""The benchmarks run end to end at their small size (no timing is asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMALL_BACKFILL = ["--backfill-events", "20000"]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (["pit_join.py", "--quick", "--repeats", "1"], "fv.get_batch_data()"),
        (["insert_stream.py", "--quick", "--repeats", "1"], "fg.insert / write_deltalake"),
        (["tracking.py", "--quick", "--repeats", "1"], "page of 50"),
        (["ingest.py", "--quick"], "CSV floor:"),
        (["ui_pages.py", "--quick", "--repeats", "1"], "server ms (median)"),
        (["monitor_check.py", "--quick", "--repeats", "1"], "first call in a fresh process"),
        (["ab_ranking.py", "--quick"], "compare_ranking s"),
        (
            ["feature_vectors.py", "--keys", "2000", "--singles", "50", "--batches", "10", "--backends", "sqlite"],
            "fg.materialize()",
        ),
        (["batch_predict.py", "--rows", "20000", "--chunk-rows", "5000"], "batch_predict rows/s"),
        (["scheduler.py", "--quick"], "event -> run started"),
        (["vector_search.py", "--quick", "--sentences", "16"], "same top-k"),
        (["finetune.py", "--quick", "--steps", "3", "--requests", "2", "--new-tokens", "8"], "LoRA training step"),
        (["serving.py", "--seconds", "0.3", "--concurrency", "1"], "fraud_ensemble"),
        (["soak.py", "--minutes", "0.3", "--clients", "2"], "RSS growth after"),
        (["streaming_inference.py", "--events", "300", "--cards", "50", "--repeats", "1"], "prediction job"),
        (
            ["streaming.py", "--events", "5000", "--keys", "500", "--rate", "500", "--seconds", "1", *SMALL_BACKFILL],
            "freshness at 500 events/s",
        ),
    ],
)
def test_benchmark_runs_quick(script: list[str], expected: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script[0]), *script[1:]],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
