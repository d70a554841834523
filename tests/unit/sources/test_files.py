"""File sources on the local disk: formats and options, incremental reads by file, and clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

import fti
from fti.errors import NotFoundError, ValidationError
from fti.sources import FileSource


def _rows(source: FileSource, cursor: dict[str, object] | None = None) -> tuple[pa.Table, dict[str, object] | None]:
    batches = list(source.read(cursor))
    if not batches:
        return pa.table({}), cursor
    return pa.Table.from_batches([item.data for item in batches]), batches[-1].cursor


def test_csv_options_delimiter_nulls_types_formats_and_time_zone(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id;when;amount\n1;01/05/2024 12:00;n/a\n2;02/05/2024 13:30;2.5\n")
    source = fti.sources.csv(
        str(tmp_path / "a.csv"),
        delimiter=";",
        null_values=["n/a"],
        column_types={"amount": "double"},
        timestamp_formats=["%d/%m/%Y %H:%M"],
        timezone="Europe/Berlin",
    )
    table, _ = _rows(source)
    assert table.column("amount").to_pylist() == [None, 2.5]
    when = table.column("when")
    assert when.type.tz == "Europe/Berlin"
    assert when.cast(pa.timestamp("us", tz="UTC"))[0].as_py().isoformat() == "2024-05-01T10:00:00+00:00"


def test_csv_without_header_takes_column_names(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("1,x\n2,y\n")
    source = fti.sources.csv(str(tmp_path / "a.csv"), header=False, column_names=["id", "name"])
    table, _ = _rows(source)
    assert table.to_pydict() == {"id": [1, 2], "name": ["x", "y"]}


def test_a_glob_is_read_file_by_file_and_only_new_files_next_time(tmp_path: Path) -> None:
    for name, first in (("a.csv", 1), ("b.csv", 3)):
        (tmp_path / name).write_text(f"id,v\n{first},1.5\n{first + 1},2\n")
    source = fti.sources.csv(str(tmp_path / "*.csv"))
    batches = list(source.read(None))
    assert [item.span for item in batches] == [
        {"files": [str(tmp_path / "a.csv")]},
        {"files": [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]},
    ]
    assert list(batches[0].cursor["files"]) == [str(tmp_path / "a.csv")]
    assert pa.Table.from_batches([item.data for item in batches]).column("v").type == pa.float64()
    (tmp_path / "c.csv").write_text("id,v\n5,3\n")
    table, cursor = _rows(source, batches[-1].cursor)
    assert table.column("id").to_pylist() == [5]
    assert _rows(source, cursor)[0].num_rows == 0


def test_a_changed_file_is_an_error_or_read_again(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id\n1\n")
    _, cursor = _rows(fti.sources.csv(str(path)))
    path.write_text("id\n1\n2\n")
    os.utime(path, ns=(1, 1))
    with pytest.raises(ValidationError, match=r"a\.csv changed since it was read .*on_change='reingest'"):
        _rows(fti.sources.csv(str(path)), cursor)
    table, _ = _rows(fti.sources.csv(str(path), on_change="reingest"), cursor)
    assert table.column("id").to_pylist() == [1, 2]


def test_parquet_and_json_lines(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": [1, 2], "v": [0.5, 1.5]}), tmp_path / "a.parquet")
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps({"id": i, "v": i / 2}) for i in (3, 4)) + "\n")
    assert _rows(fti.sources.parquet(str(tmp_path / "*.parquet")))[0].to_pydict() == {"id": [1, 2], "v": [0.5, 1.5]}
    table, _ = _rows(fti.sources.files(str(tmp_path / "b.jsonl")))
    assert table.to_pydict() == {"id": [3, 4], "v": [1.5, 2.0]}
    assert fti.sources.files(str(tmp_path / "a.parquet")).info.kind == "parquet"


def test_a_malformed_line_is_named_with_its_number(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,v\n1,2\n3,4,5\n")
    with pytest.raises(ValidationError, match=r"a\.csv line 3 is malformed: Expected 2 columns, got 3"):
        _rows(fti.sources.csv(str(tmp_path / "a.csv")))


def test_a_value_of_another_type_names_its_column_and_value(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,amount\n1,2.5\n2,abc\n")
    with pytest.raises(ValidationError, match=r"column 'amount' has the value 'abc', which is not a valid double"):
        _rows(fti.sources.csv(str(tmp_path / "a.csv"), column_types={"amount": "double"}))


def test_files_with_other_columns_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,v\n1,2\n")
    (tmp_path / "b.csv").write_text("id,w\n1,2\n")
    with pytest.raises(ValidationError, match=r"b\.csv lacks column\(s\) 'v' and has extra column\(s\) 'w'"):
        _rows(fti.sources.csv(str(tmp_path / "*.csv")))


def test_missing_files_and_bad_options(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"File .*nope\.csv does not exist"):
        _rows(fti.sources.csv(str(tmp_path / "nope.csv")))
    with pytest.raises(NotFoundError, match=r"No file matches .*\*\.csv"):
        _rows(fti.sources.csv(str(tmp_path / "*.csv")))
    with pytest.raises(ValidationError, match="Unknown time zone 'Mars/Base'"):
        fti.sources.csv("x.csv", timezone="Mars/Base")
    with pytest.raises(ValidationError, match="delimiter must be one character"):
        fti.sources.csv("x.csv", delimiter=";;")
    with pytest.raises(ValidationError, match="Cannot tell the format of 'x.xlsx'"):
        fti.sources.files("x.xlsx")
    with pytest.raises(ValidationError, match="Column type 'decimal-ish' of column 'v' is not an Arrow type"):
        fti.sources.csv("x.csv", column_types={"v": "decimal-ish"})


def test_new_files_split_into_runs_of_about_equal_bytes_that_read_as_the_whole_source(tmp_path: Path) -> None:
    sizes = [1, 8, 1, 1, 1, 1, 1]
    for number, lines in enumerate(sizes):
        rows = "".join(f"{number * 100 + line},{line}.5\n" for line in range(lines * 50))
        (tmp_path / f"part_{number}.csv").write_text("code,amount\n" + rows)
    source = fti.sources.csv(str(tmp_path / "*.csv"))
    first, cursor = _rows(source, None)

    assert source.split(None, 1) is None
    split = source.split(None, 3)
    assert split is not None
    runs = [[Path(item.shown).name for item in part.files] for part in split.parts]  # type: ignore[attr-defined]
    assert runs == [
        ["part_0.csv"],
        ["part_1.csv"],
        ["part_2.csv", "part_3.csv", "part_4.csv", "part_5.csv", "part_6.csv"],
    ]
    read = pa.Table.from_batches([item.data for part in split.parts for item in part.read(None)])
    assert read.equals(first)
    assert split.cursor == cursor
    assert split.span == {"files": sorted(str(path) for path in tmp_path.glob("*.csv"))}

    (tmp_path / "part_7.csv").write_text("code,amount\n7,1.5\n")
    assert source.split(cursor, 3) is None  # one new file: nothing to split


@pytest.mark.parametrize("header", [True, False])
def test_a_csv_of_many_blocks_reads_as_arrow_reads_it_whole(tmp_path: Path, header: bool) -> None:
    # blocks are parsed several at a time: rows, order, types and a last line without its line end all survive
    rows = 400_000
    lines = [f"{i},2024-01-01T00:00:{i % 60:02d},{i * 0.25},name {i % 7}" for i in range(rows)]
    text = ("id,ts,amount,label\n" if header else "") + "\n".join(lines)
    path = tmp_path / "big.csv"
    path.write_text(text)
    assert path.stat().st_size > 2 * (8 << 20)
    names = None if header else ["id", "ts", "amount", "label"]
    table, _ = _rows(fti.sources.csv(str(path), header=header, column_names=names))
    expected = pcsv.read_csv(path, read_options=pcsv.ReadOptions(column_names=names))
    assert table.schema == expected.schema
    assert table.num_rows == rows and table.equals(expected)


def test_a_malformed_line_after_the_first_block_is_named_with_its_number(tmp_path: Path) -> None:
    lines = [f"{i},{i * 0.5}" for i in range(600_000)]
    lines[500_000] = "500000"
    (tmp_path / "a.csv").write_text("id,amount\n" + "\n".join(lines) + "\n")
    with pytest.raises(ValidationError, match=r"a\.csv line 500002 is malformed: Expected 2 columns, got 1"):
        _rows(fti.sources.csv(str(tmp_path / "a.csv")))
