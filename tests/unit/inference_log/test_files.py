"""Reading the inference log's data files one at a time: the features of chosen rows, locally and elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

import fti
from fti.inference_log.files import DataFile, data_files
from fti.inference_log.schema import INFERENCE_LOG_TABLE, LOG_COLUMNS, LOG_DICTIONARY
from fti.inference_log.writer import LogRecord, to_table

START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def logged(tmp_path: Path) -> DataFile:
    with fti.connect(tmp_path) as project:
        records = [
            LogRecord(
                f"req-{index}",
                START + timedelta(seconds=index),
                "fraud",
                "fraud@champion",
                "fraud",
                1,
                pd.DataFrame({"amount": [float(index)], "city": [f"c{index % 7}"]}),
                np.zeros(1),
                1.0,
                False,
            )
            for index in range(500)
        ]
        project.inference_log.write(to_table(records))
        (file,) = data_files(project.offline_store.read(INFERENCE_LOG_TABLE), LOG_COLUMNS, LOG_DICTIONARY)
    return file


@pytest.mark.parametrize("where", ["local", "elsewhere"])
def test_the_features_of_chosen_rows_are_those_rows(logged: DataFile, where: str) -> None:
    file = logged
    if where == "elsewhere":  # the same files behind a file system that is not the local disk (as on S3)
        root = file.filesystem.base_path
        remote = pafs.SubTreeFileSystem(root, pafs.PyFileSystem(pafs.FSSpecHandler(fsspec.filesystem("file"))))
        dataset = pads.dataset([file.path], filesystem=remote, format="parquet")
        (file,) = data_files(dataset, LOG_COLUMNS, LOG_DICTIONARY)
    with file.filesystem.open_input_file(file.path) as source:
        expected = pq.read_table(source, columns=["features", "request_id"])
    rows = np.array([3, 4, 10, 250, 499])
    found = file.read(["features", "request_id"], rows)
    assert found.to_pylist() == expected.take(rows).to_pylist()
    assert found.schema.field("features").type == expected.schema.field("features").type
    assert file.read(["features"]).column("features").to_pylist() == expected.column("features").to_pylist()
    assert file.read(["features"], np.array([], dtype=np.int64)).num_rows == 0
