"""Ingesting files into feature groups: first and incremental runs, lineage, preparation, bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fti
from fti.errors import ConflictError, NotFoundError, ValidationError
from tests.integration.ingest_data import assert_exactly_once, events, write_csv


def _events_group(project: fti.Project) -> fti.features.FeatureGroup:
    return project.get_or_create_feature_group("events", primary_key=["id"], event_time="ts")


def test_first_and_incremental_runs_record_cursor_and_lineage(project: fti.Project, tmp_path: Path) -> None:
    write_csv(tmp_path / "in" / "a.csv", 0, 50)
    write_csv(tmp_path / "in" / "b.csv", 50, 50)
    group = _events_group(project)
    first = project.ingest(str(tmp_path / "in" / "*.csv"), into="events", pipeline="hourly")
    assert (first.commit, first.rows_inserted, first.bytes_read > 0) == (0, 100, True)
    write_csv(tmp_path / "in" / "c.csv", 100, 20)
    second = group.insert(fti.sources.csv(str(tmp_path / "in" / "*.csv")))
    assert (second.commit, second.rows_inserted) == (1, 20)
    nothing = project.ingest(fti.sources.csv(str(tmp_path / "in" / "*.csv")), into=group)
    assert (nothing.commit, nothing.rows_inserted) == (None, 0)
    assert_exactly_once(group, range(120))
    lineage = [commit.lineage for commit in group.commits()]
    assert lineage[0] is not None and lineage[1] is not None
    assert lineage[0].source is not None and lineage[0].source.kind == "csv"
    assert lineage[0].span == {"files": [str(tmp_path / "in" / "a.csv"), str(tmp_path / "in" / "b.csv")]}
    assert lineage[1].describe_span() == f"1 file(s): {tmp_path / 'in' / 'c.csv'}"
    assert lineage[0].pipeline == "hourly" and lineage[0].code is not None
    (cursor,) = group.source_cursors()
    assert cursor.commit == 1 and len(cursor.cursor["files"]) == 3


def test_dataframe_inserts_record_lineage_without_a_source(project: fti.Project) -> None:
    group = _events_group(project)
    with project.start_run("lineage") as run:
        group.insert(events(0, 3))
    lineage = group.commits()[0].lineage
    assert lineage is not None and lineage.source is None and lineage.run_id == run.id


def test_names_and_string_dates_are_prepared(project: fti.Project, tmp_path: Path) -> None:
    (tmp_path / "spend.csv").write_text("id,ts,Monthly Spend\n1,01/05/2024 12:00,10.5\n2,02/05/2024 13:00,11\n")
    group = project.create_feature_group("spend", primary_key=["id"], event_time="ts")
    source = fti.sources.csv(str(tmp_path / "spend.csv"), column_types={"ts": "string"})
    with pytest.raises(ValidationError, match=r"'Monthly Spend' are not identifiers .*normalize_names=True"):
        group.insert(source)
    assert project.feature_groups() == [], "a failed first insert leaves no empty group"
    result = group.insert(source, normalize_names=True, parse_dates={"ts": "%d/%m/%Y %H:%M"})
    assert result.rows_inserted == 2
    frame = group.read()
    assert list(frame.columns) == ["id", "ts", "monthly_spend"]
    assert frame["ts"].tolist() == [pd.Timestamp("2024-05-01 12:00"), pd.Timestamp("2024-05-02 13:00")]


def test_a_transform_in_sql_or_python(project: fti.Project, tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv", 0, 10)
    group = _events_group(project)
    group.insert(fti.sources.csv(str(tmp_path / "a.csv")), transform="SELECT * FROM source WHERE id % 2 = 0")
    assert group.read()["id"].tolist() == [0, 2, 4, 6, 8]

    def keep_odd(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["id"] % 2 == 1]

    write_csv(tmp_path / "b.csv", 10, 4)
    group.insert(fti.sources.csv(str(tmp_path / "b.csv")), transform=keep_odd)
    assert group.read()["id"].tolist() == [0, 2, 4, 6, 8, 11, 13]


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (
            "id,ts,amount\n5,2024-01-01T00:00:00Z,1\n6,2024-01-01T00:01:00Z\n",
            ValidationError,
            r"b\.csv line 3 is malformed",
        ),
        (
            "id,ts,amount\n5,2024-01-01T00:00:00Z,1.5\n6,2024-01-01T00:01:00Z,lots\n",
            ValidationError,
            r"Column 'amount' cannot be stored as double: its value 'lots' does not fit .* \(reading .*b\.csv\)",
        ),
    ],
)
def test_bad_input_commits_nothing_and_keeps_the_cursor(
    project: fti.Project, tmp_path: Path, content: str, error: type[Exception], message: str
) -> None:
    write_csv(tmp_path / "in" / "a.csv", 0, 5)
    group = _events_group(project)
    group.insert(fti.sources.csv(str(tmp_path / "in" / "*.csv")))
    (before,) = group.source_cursors()
    (tmp_path / "in" / "b.csv").write_text(content)
    write_csv(tmp_path / "in" / "c.csv", 10, 5)
    with pytest.raises(error, match=message):
        group.insert(fti.sources.csv(str(tmp_path / "in" / "*.csv")))
    assert [commit.commit for commit in group.commits()] == [0]
    assert group.source_cursors() == [before]
    assert_exactly_once(group, range(5))


def test_a_column_of_another_type_than_the_group_names_the_first_bad_value(
    project: fti.Project, tmp_path: Path
) -> None:
    group = _events_group(project)
    group.insert(events(0, 2))
    (tmp_path / "a.csv").write_text("id,ts,amount\n5,2024-01-01T00:00:00Z,n/a\n")
    with pytest.raises(
        ValidationError, match=r"Column 'amount' cannot be stored as double: its value 'n/a' does not fit"
    ):
        group.insert(fti.sources.csv(str(tmp_path / "a.csv"), null_values=[]))
    assert [commit.commit for commit in group.commits()] == [0]


def test_a_bad_value_after_the_first_block_is_named_and_nothing_committed(project: fti.Project, tmp_path: Path) -> None:
    # the reader fixes each column's type from its first 8 MiB block: a value further down that does not fit
    # that type is still named with its column, and nothing is committed
    rows = 300_000
    path = write_csv(tmp_path / "big.csv", 0, rows)
    with path.open("a") as out:
        out.write(f"{rows},2024-06-01T00:00:00Z,lots\n")
    assert path.stat().st_size > 9 << 20
    group = _events_group(project)
    with pytest.raises(ValidationError, match=r"column 'amount' has the value 'lots', which is not a valid double"):
        group.insert(fti.sources.csv(str(path)))
    assert group.commits() == [] and group.source_cursors() == []


def test_float_columns_are_stored_without_a_dictionary(project: fti.Project, project_dir: Path, tmp_path: Path) -> None:
    # floats rarely repeat: a dictionary for them costs the writer most of its time and is thrown away
    write_csv(tmp_path / "a.csv", 0, 1000)
    group = _events_group(project)
    group.insert(fti.sources.csv(str(tmp_path / "a.csv")))
    (data,) = [path for path in project_dir.rglob("*.parquet") if "events" in str(path)]
    metadata = pq.ParquetFile(data).metadata
    chunks = {metadata.schema.column(i).name: metadata.row_group(0).column(i) for i in range(metadata.num_columns)}
    assert chunks["amount"].dictionary_page_offset is None and chunks["_fti_row"].dictionary_page_offset is None
    assert chunks["_fti_commit"].dictionary_page_offset is not None
    assert_exactly_once(group, range(1000))


def test_a_missing_file(project: fti.Project, tmp_path: Path) -> None:
    group = _events_group(project)
    with pytest.raises(NotFoundError, match=r"File .*missing\.csv does not exist"):
        group.insert(str(tmp_path / "missing.csv"))
    assert project.feature_groups() == []


def test_get_or_create_refuses_another_definition(project: fti.Project) -> None:
    group = project.get_or_create_feature_group("events", primary_key=["id"], event_time="ts", tags={"a": "b"})
    group.insert(events(0, 2))
    again = project.get_or_create_feature_group("events", primary_key=["id"], event_time="ts", tags={"a": "b"})
    assert again.record.id == group.record.id
    message = r"exists with another definition: primary_key is \['id'\], not \['id', 'amount'\]; tags is"
    with pytest.raises(ConflictError, match=message):
        project.get_or_create_feature_group("events", primary_key=["id", "amount"], event_time="ts")
    other = pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us", tz="UTC")), ("amount", pa.string())])
    with pytest.raises(ConflictError, match=r"schema differs: 'amount' double -> string"):
        project.get_or_create_feature_group(
            "events", primary_key=["id"], event_time="ts", tags={"a": "b"}, schema=other
        )


def test_a_failed_first_insert_removes_the_group_and_the_next_creates_it(project: fti.Project) -> None:
    group = project.create_feature_group("events", primary_key=["id"], event_time="ts", description="e")
    with pytest.raises(ValidationError, match="key column 'id' is null"):
        group.insert(pa.table({"id": pa.array([None], pa.int64()), "ts": events(0, 1).column("ts")}))
    assert project.feature_groups() == []
    result = group.insert(events(0, 3))
    assert result.commit == 0
    assert project.get_feature_group("events").description == "e"
    assert_exactly_once(group, range(3))
