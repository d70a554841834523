"""Summaries of the inference log's data files: written with each commit, read instead of the rows, and rebuilt
when missing or not the file's own."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

import fti
from fti.inference_log.files import DataFile, data_files, microseconds
from fti.inference_log.rollup import file_rollup, file_spans
from fti.inference_log.schema import INFERENCE_LOG_TABLE, LOG_COLUMNS, LOG_DICTIONARY
from fti.inference_log.summaries import SUMMARY_FOLDER, file_summary
from tests.inference_log_data import START, log_requests


def _summaries(project: fti.Project) -> dict[str, Path]:
    folder = _folder(project)
    return {path.name: path for path in folder.iterdir()} if folder.exists() else {}


def _folder(project: fti.Project) -> Path:
    return project.root / ".fti" / "offline" / INFERENCE_LOG_TABLE / SUMMARY_FOLDER


def _files(project: fti.Project) -> list[DataFile]:
    return data_files(project.offline_store.read(INFERENCE_LOG_TABLE), LOG_COLUMNS, LOG_DICTIONARY)


def test_each_commit_stores_the_summary_of_its_files_and_it_says_what_the_rows_say(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as project:
        log_requests(project, 0, 90, shadow_every=10, latency_cycle=50)
        log_requests(project, 90, 30, shadow_every=10, latency_cycle=50)
        files = _files(project)
        assert sorted(_summaries(project)) == sorted(f"{Path(file.path).name}.arrow" for file in files)
        for file in files:
            stored = file_summary(file)
            assert not file.is_read  # read from beside the file, not from its rows
            fresh = _files(project)[files.index(file)]
            assert stored.spans == file_spans(fresh)
            computed = file_rollup(fresh)
            assert stored.rollup.rollup.equals(computed.rollup)
            assert stored.rollup.edges == computed.edges
        assert sum(rows for file in files for rows, _, _ in file_summary(file).spans.values()) == 108  # no shadow


def test_a_missing_foreign_or_broken_summary_is_rebuilt_from_the_rows(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as project:
        for first, count in ((0, 60), (60, 30), (90, 20), (110, 10)):
            log_requests(project, first, count, shadow_every=10, latency_cycle=50)
        summaries = sorted(_summaries(project).values(), key=lambda path: path.stat().st_mtime_ns)
        summaries[0].unlink()  # missing
        summaries[1].write_bytes(summaries[2].read_bytes())  # another file's (20 rows, not 30)
        summaries[2].write_bytes(b"not an arrow file")  # broken
        with pa.OSFile(str(summaries[3])) as source:  # its own, in another layout (renamed columns)
            own = pa.ipc.open_file(source).read_all()
        renamed = own.rename_columns([f"old_{name}" for name in own.column_names])
        renamed = renamed.replace_schema_metadata(own.schema.metadata)  # what it says of itself still matches
        with pa.OSFile(str(summaries[3]), "wb") as sink, pa.ipc.new_file(sink, renamed.schema) as writer:
            writer.write_table(renamed)
        found = project.inference_log.traffic("fraud", START, START + timedelta(hours=2), timedelta(hours=1))
        served = [item for item in found.buckets if item["variant"] is None and not item["is_shadow"]]
        index = np.arange(120)
        shadow, challenger = index % 10 == 0, index % 4 == 0
        assert [item["requests"] for item in served] == [int((~shadow[:60]).sum()), int((~shadow[60:]).sum())]
        assert {item["variant"]: item["requests"] for item in found.variants if not item["is_shadow"]} == {
            None: int((~shadow).sum()),
            "fraud@champion": int((~shadow & ~challenger).sum()),
            "fraud@challenger": int((~shadow & challenger).sum()),
        }
        rebuilt = _files(project)
        assert len(_summaries(project)) == 4
        for file in rebuilt:  # the summaries stored on first use are the files' own
            assert file_summary(file).rollup.rollup.equals(file_rollup(_files(project)[rebuilt.index(file)]).rollup)
            assert not file.is_read


def test_a_table_that_cannot_take_summaries_is_still_summarized(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as project:
        log_requests(project, 0, 40, shadow_every=10, latency_cycle=50)
        for path in _summaries(project).values():
            path.unlink()
        folder = _folder(project)
        folder.rmdir()
        folder.write_text("a file where the folder would be")  # storing fails
        (file,) = _files(project)
        first = microseconds(START + timedelta(minutes=1))  # row 0 is the shadow's
        assert file_summary(file).spans == {"fraud": (36, first, file.last)}
        assert isinstance(file.filesystem, pafs.FileSystem) and folder.read_text().startswith("a file")
