"""The inference log on a real S3 API server: summaries stored with each commit, and its queries give what they
give on a local disk (where DuckDB reads the files itself)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

import fti
from fti.inference_log.files import data_files
from fti.inference_log.schema import INFERENCE_LOG_TABLE, LOG_COLUMNS, LOG_DICTIONARY
from fti.inference_log.summaries import SUMMARY_FOLDER, file_summary
from tests.inference_log_data import START, log_requests

pytestmark = pytest.mark.integration


def _fill(project: fti.Project) -> None:
    for first in (0, 70):
        log_requests(project, first, 70, shadow_every=9, latency_cycle=40)
    labelled = [f"req-{index}" for index in range(0, 140, 2)]
    labels = pa.table({"request_id": labelled, "deployment": ["fraud"] * len(labelled), "label": [1.0] * 70})
    project.inference_log.write_labels(labels)
    project.inference_log.write_labels(labels.slice(0, 10).set_column(2, "label", pa.array([0.0] * 10)))


def _queries(project: fti.Project) -> dict[str, Any]:
    log, end = project.inference_log, START + timedelta(hours=3)
    traffic = log.traffic("fraud", START, end, timedelta(hours=1))
    labelled = log.labelled_predictions("fraud", START, end)
    rows = log.read("fraud", START + timedelta(minutes=30), end, columns=["timestamp", "features", "inputs"])
    return {
        "buckets": traffic.buckets,
        "variants": traffic.variants,
        "labelled": sorted(labelled.to_pylist(), key=lambda row: sorted(row.items())),
        "rows": rows.to_pylist(),
        "spans": log.spans(),
    }


def test_the_dashboard_reads_an_inference_log_on_s3_as_on_a_local_disk(
    project_dir: Path, tmp_path: Path, s3_endpoint: str, s3_bucket: str
) -> None:
    overrides = {"offline_store.uri": f"s3://{s3_bucket}/offline", "offline_store.endpoint_url": s3_endpoint}
    with fti.connect(project_dir, overrides=overrides) as project:
        _fill(project)
        dataset = project.offline_store.read(INFERENCE_LOG_TABLE)
        stored = dataset.filesystem.get_file_info(pafs.FileSelector(SUMMARY_FOLDER))
        assert sorted(info.base_name for info in stored) == sorted(f"{Path(path).name}.arrow" for path in dataset.files)
        for file in data_files(dataset, LOG_COLUMNS, LOG_DICTIONARY):
            assert sum(rows for rows, _, _ in file_summary(file).spans.values()) > 0
            assert not file.is_read  # the stored summary was read, not the rows
        on_s3 = _queries(project)
    with fti.connect(tmp_path / "local") as project:
        _fill(project)
        on_disk = _queries(project)
    assert on_s3 == on_disk
    assert len(on_disk["labelled"]) == len([index for index in range(0, 140, 2) if index % 9])  # the shadow's aside
    relabelled = [index for index in range(0, 20, 2) if index % 9]  # labelled 0.0 later
    assert sum(row["label"] for row in on_disk["labelled"]) == len(on_disk["labelled"]) - len(relabelled)
