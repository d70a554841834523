"""Ingesting a folder of files on a cluster executor reads and prepares its files in parts on the cluster, and
commits what the ingestion in one process commits, with the same cursor."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import fti
from fti.backends.ports import Executor
from fti.errors import ValidationError
from fti.features import FeatureGroup, FeatureStore
from fti.features.ingestion import IngestResult
from tests.integration.ingest_data import events
from tests.integration.ray.recording import RecordingExecutor

pytestmark = pytest.mark.xdist_group("ray")


def _write_files(folder: Path, first: int, count: int) -> None:
    """``count`` CSV files of card spend, of different sizes, numbered from ``first``."""
    folder.mkdir(exist_ok=True)
    for number in range(first, first + count):
        rng = np.random.default_rng(number)
        rows = 40 + 30 * number
        pd.DataFrame(
            {
                "Card": rng.integers(0, 50, rows),
                "When": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, rows), unit="s"),
                "Amount": rng.gamma(2, 20, rows).round(2),
            }
        ).to_csv(folder / f"spend_{number:02d}.csv", index=False)


def _group(features: FeatureStore) -> FeatureGroup:
    return features.create_feature_group("spend", primary_key=["card"], event_time="when")


def _ingest(features: FeatureStore, folder: Path) -> IngestResult:
    group = features.get_feature_group("spend")
    return group.insert(
        fti.sources.csv(str(folder / "*.csv")), rename={"Card": "card", "When": "when"}, normalize_names=True
    )


def _read(features: FeatureStore) -> pd.DataFrame:
    return features.get_feature_group("spend").read().sort_values(["card", "when"]).reset_index(drop=True)


def test_files_ingested_on_ray_commit_what_one_process_commits_with_the_same_cursor(
    tmp_path: Path, ray_executor: Executor
) -> None:
    files = tmp_path / "files"
    _write_files(files, 0, 7)
    recording = RecordingExecutor(ray_executor)
    with fti.connect(tmp_path / "local") as local, fti.connect(tmp_path / "ray") as on_ray:
        cluster = FeatureStore(on_ray.catalog, on_ray.offline_store, executor=lambda: recording)
        _group(local.features)
        _group(cluster)
        here, there = _ingest(local.features, files), _ingest(cluster, files)

        assert recording.mapped == [("read_part", 1)] * 4  # 2 workers x 2 parts, each a task of its own
        assert (there.commit, there.rows_inserted, there.cursor) == (0, here.rows_inserted, here.cursor)
        assert there.bytes_read == here.bytes_read == sum(path.stat().st_size for path in files.iterdir())
        pd.testing.assert_frame_equal(_read(cluster), _read(local.features))
        assert list(_read(cluster).columns[:3]) == ["card", "when", "amount"]

        # the cursor moved with the commit: only the new files are read next time
        _write_files(files, 7, 3)
        recording.mapped.clear()
        here, there = _ingest(local.features, files), _ingest(cluster, files)
        assert recording.mapped == [("read_part", 1)] * 3  # 3 new files: one part each
        assert (there.commit, there.rows_inserted, there.cursor) == (1, here.rows_inserted, here.cursor)
        assert there.rows_inserted == sum(40 + 30 * number for number in range(7, 10)) - there.rows_replaced
        pd.testing.assert_frame_equal(_read(cluster), _read(local.features))
        assert _ingest(cluster, files).commit is None  # nothing new


def test_a_part_that_fails_on_ray_names_its_file_and_part_and_nothing_is_committed(
    tmp_path: Path, ray_executor: Executor
) -> None:
    files = tmp_path / "files"
    _write_files(files, 0, 6)
    (files / "spend_05.csv").write_text("Card,When,Amount\n1,2024-01-02 00:00:00,not a number\n")
    with fti.connect(tmp_path / "ray") as project:
        cluster = FeatureStore(project.catalog, project.offline_store, executor=lambda: ray_executor)
        _group(cluster).insert(pd.DataFrame({"card": [1], "when": [pd.Timestamp("2023-01-01")], "amount": [1.0]}))
        with pytest.raises(ValidationError, match=r"spend_05\.csv") as raised:
            _ingest(cluster, files)
        assert any("of the ingestion" in note for note in raised.value.__notes__)
        group = cluster.get_feature_group("spend")
        assert [commit.commit for commit in group.commits()] == [0]  # nothing committed, the cursor not moved

        _write_files(files, 5, 1)  # the file mended: every file is read, as none was recorded
        result = _ingest(cluster, files)
        assert result.rows_inserted == sum(40 + 30 * number for number in range(6)) - result.rows_replaced


def lose_the_worker_once(marker: str, frame: pd.DataFrame) -> pd.DataFrame:
    """An insert's transform whose first call anywhere kills its worker process, as a lost worker would."""
    if not Path(marker).exists():
        Path(marker).touch()
        os._exit(1)
    return frame


def test_a_worker_lost_while_ingesting_is_retried_and_the_commit_is_exact(
    tmp_path: Path, ray_executor: Executor
) -> None:
    files = tmp_path / "files"
    _write_files(files, 0, 5)
    marker = tmp_path / "lost"
    with fti.connect(tmp_path / "local") as local, fti.connect(tmp_path / "ray") as on_ray:
        cluster = FeatureStore(on_ray.catalog, on_ray.offline_store, executor=lambda: ray_executor)
        _group(local.features)
        _group(cluster)
        here = _ingest(local.features, files)
        group = cluster.get_feature_group("spend")
        there = group.insert(
            fti.sources.csv(str(files / "*.csv")),
            rename={"Card": "card", "When": "when"},
            normalize_names=True,
            transform=functools.partial(lose_the_worker_once, str(marker)),
        )

        assert marker.exists()  # a worker was lost
        assert (there.commit, there.rows_inserted, there.cursor) == (0, here.rows_inserted, here.cursor)
        pd.testing.assert_frame_equal(_read(cluster), _read(local.features))


def add_orders(engine: sa.Engine, start: int, rows: int) -> None:
    """Insert orders ``start`` to ``start + rows - 1``."""
    with engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO orders (id, ts, amount) VALUES (:id, :ts, :amount)"), events(start, rows).to_pylist()
        )


@pytest.mark.parametrize("cursor", ["id", "ts"])
def test_a_table_ingested_on_ray_in_ranges_of_its_cursor_commits_what_one_process_commits(
    tmp_path: Path, ray_executor: Executor, postgres_url: str, cursor: str
) -> None:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE orders (id BIGINT PRIMARY KEY, ts TIMESTAMPTZ, amount FLOAT8)"))
    add_orders(engine, 0, 250)
    source = fti.sources.sql(postgres_url, table="orders", cursor=cursor, chunk_rows=40)
    recording = RecordingExecutor(ray_executor)
    with fti.connect(tmp_path / "local") as local, fti.connect(tmp_path / "ray") as on_ray:
        cluster = FeatureStore(on_ray.catalog, on_ray.offline_store, executor=lambda: recording)
        groups = [
            features.create_feature_group("orders", primary_key=["id"], event_time="ts")
            for features in (local.features, cluster)
        ]
        after = None
        for start, rows in ((0, 250), (250, 30)):
            if start:
                add_orders(engine, start, rows)
            recording.mapped.clear()
            here, there = (group.insert(source) for group in groups)
            assert here.cursor is not None
            here_span = {"column": cursor, "after": None if start == 0 else after, "through": here.cursor["value"]}
            after = here.cursor["value"]

            assert recording.mapped == [("read_part", 1)] * 4  # 2 workers x 2 ranges of the cursor column
            assert (there.commit, there.rows_inserted, there.cursor) == (here.commit, rows, here.cursor)
            lineages = [group.commits()[-1].lineage for group in groups]
            assert [(item.source, item.span) for item in lineages if item] == [(source.info, here_span)] * 2
            read = [group.read().sort_values("id").reset_index(drop=True) for group in groups]
            pd.testing.assert_frame_equal(read[1], read[0])
        assert groups[1].insert(source).commit is None
    engine.dispose()
