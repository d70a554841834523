"""A SQL source's new rows split into ranges of its cursor column that read as the whole source (SQLite)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

import fti
from fti.sources import SqlSource


@pytest.fixture
def url(tmp_path: Path) -> str:
    address = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = sa.create_engine(address)
    start = datetime(2024, 1, 1)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE orders (id INTEGER, ts TIMESTAMP, code TEXT, amount REAL)"))
        connection.execute(
            sa.text("INSERT INTO orders VALUES (:id, :ts, :code, :amount)"),
            [{"id": i, "ts": start + timedelta(hours=i), "code": f"c{i:03d}", "amount": i / 2} for i in range(1, 101)],
        )
    engine.dispose()
    return address


def _ids(batches: list[pa.RecordBatch]) -> list[int]:
    return sorted(pa.Table.from_batches(batches).column("id").to_pylist())


def test_new_ids_split_into_ranges_of_equal_width_that_read_as_the_whole_source(url: str) -> None:
    source = SqlSource(url, table="orders", cursor="id", chunk_rows=7)
    whole = list(source.read(None))
    split = source.split(None, 4)
    assert split is not None
    ranges = [(part.after, part.through) for part in split.parts]  # type: ignore[attr-defined]
    assert ranges == [(None, 25), (25, 50), (50, 75), (75, 100)]
    assert _ids([item.data for part in split.parts for item in part.read(None)]) == _ids([i.data for i in whole])
    assert (split.cursor, split.span) == (whole[-1].cursor, whole[-1].span)

    later = source.split(whole[-1].cursor, 4)
    assert later is None  # nothing new


def test_a_split_starts_after_the_stored_value_and_text_cursors_do_not_split(url: str) -> None:
    source = fti.sources.sql(url, table="orders", cursor="id")
    split = source.split({"column": "id", "value": 51, "type": "int"}, 2)
    assert split is not None
    assert [(part.after, part.through) for part in split.parts] == [(51, 75), (75, 100)]  # type: ignore[attr-defined]
    assert _ids([item.data for part in split.parts for item in part.read(None)]) == list(range(52, 101))
    assert split.cursor == {"column": "id", "value": 100, "type": "int"}
    assert split.span == {"column": "id", "after": 51, "through": 100}
    # SQLite keeps times as text: like codes, they have no width to cut in equal ranges
    assert fti.sources.sql(url, table="orders", cursor="ts").split(None, 2) is None
    assert fti.sources.sql(url, table="orders", cursor="code").split(None, 2) is None
    assert fti.sources.sql(url, table="orders").split(None, 2) is None
