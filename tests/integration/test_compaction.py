"""Compaction rewrites many small commits into few files without changing any read; vacuum keeps pinned versions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

import fti
from tests.integration.ingest_data import events


def _files(project: fti.Project, table: str, version: int | None = None) -> int:
    uri = f"{project.offline_store.describe()}/{table}"  # type: ignore[attr-defined]
    return len(DeltaTable(uri, version=version).file_uris())


def test_compacting_200_small_commits_changes_no_read(project_dir: Path) -> None:
    with fti.connect(project_dir, overrides={"features.compact_after": None}) as project:
        group = project.create_feature_group("events", primary_key=["id"], event_time="ts")
        for commit in range(200):
            # every tenth commit rewrites an earlier row, so reads resolve replaced rows too
            rows = events(commit * 5, 5) if commit % 10 else events(max(commit * 5 - 3, 0), 5)
            group.insert(rows)
        view = project.create_feature_view("events_view", query=group.select_all())
        pinned = view.create_training_data()
        for commit in range(200, 210):
            group.insert(events(commit * 5, 5))
        before = {commit.commit: group.read(as_of=commit.commit) for commit in group.commits()}
        files_before = _files(project, group.record.table)
        done = group.compact()
        assert done.files_removed == files_before and done.files_added < 5
        assert _files(project, group.record.table) == done.files_added
        for commit, frame in before.items():
            pd.testing.assert_frame_equal(group.read(as_of=commit), frame)
        assert group.compact().version is None, "nothing left to compact"
        group.insert(events(5_000, 5))
        assert len(group.read()) == len(before[209]) + 5
        # the training dataset pinned commit 199: its 200 files stay, the ten later commits' files go
        assert group.vacuum(retain=timedelta(0)) == 10
        for commit, frame in list(before.items())[::10]:
            pd.testing.assert_frame_equal(group.read(as_of=commit), frame)
        rebuilt = pinned.rebuild()
        pd.testing.assert_frame_equal(rebuilt.read(), pinned.read())
        (pinned_commit,) = pinned.record.sources.values()
        (version,) = [item.table_version for item in group.commits() if item.commit == pinned_commit]
        assert _files(project, group.record.table, version=version) > 0, "the pinned version is still readable"


def test_inserts_compact_automatically_after_enough_small_files(project_dir: Path) -> None:
    with fti.connect(project_dir, overrides={"features.compact_after": 5}) as project:
        group = project.create_feature_group("events", primary_key=["id"], event_time="ts")
        for commit in range(4):
            group.insert(events(commit * 2, 2))
        assert _files(project, group.record.table) == 4
        group.insert(events(8, 2))
        assert _files(project, group.record.table) == 1
        assert len(group.read()) == 10


def test_compacted_files_store_floats_without_a_dictionary(project_dir: Path) -> None:
    # compaction writes with the insert's settings: a float column's dictionary would be built and thrown away
    with fti.connect(project_dir, overrides={"features.compact_after": None}) as project:
        group = project.create_feature_group("events", primary_key=["id"], event_time="ts")
        for commit in range(3):
            group.insert(events(commit * 5, 5))
        before = group.read()
        assert group.compact().files_added == 1
        uri = f"{project.offline_store.describe()}/{group.record.table}"  # type: ignore[attr-defined]
        (path,) = DeltaTable(uri).file_uris()
        metadata = pq.ParquetFile(path).metadata
        chunks = {metadata.schema.column(i).name: metadata.row_group(0).column(i) for i in range(metadata.num_columns)}
        floats = [field.name for field in pq.read_schema(path) if pa.types.is_floating(field.type)]
        assert floats and all(chunks[name].dictionary_page_offset is None for name in [*floats, "_fti_row"])
        assert chunks["_fti_commit"].dictionary_page_offset is not None
        pd.testing.assert_frame_equal(group.read(), before)
