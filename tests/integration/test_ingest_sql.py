"""Ingesting database tables and queries: PostgreSQL (ADBC and SQLAlchemy paths) and SQLite, by a cursor column."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import fti
from fti.errors import BackendError, NotFoundError
from fti.sources import SqlSource
from tests.integration.ingest_data import assert_exactly_once, events


@pytest.fixture
def orders(postgres_url: str) -> Iterator[sa.Engine]:
    """An empty ``orders`` table on PostgreSQL."""
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("CREATE TABLE orders (id BIGINT PRIMARY KEY, ts TIMESTAMP WITH TIME ZONE, amount DOUBLE PRECISION)")
        )
    yield engine
    engine.dispose()


def add_orders(engine: sa.Engine, start: int, rows: int) -> None:
    """Insert orders ``start`` to ``start + rows - 1`` (the rows of :func:`events`)."""
    with engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO orders (id, ts, amount) VALUES (:id, :ts, :amount)"), events(start, rows).to_pylist()
        )


def _group(project: fti.Project) -> fti.features.FeatureGroup:
    return project.get_or_create_feature_group("orders", primary_key=["id"], event_time="ts")


@pytest.mark.parametrize("fast_path", [True, False], ids=["adbc", "sqlalchemy"])
def test_postgresql_first_and_incremental_runs(
    project: fti.Project, postgres_url: str, orders: sa.Engine, fast_path: bool
) -> None:
    engine = orders
    add_orders(engine, 0, 250)
    group = _group(project)
    source = SqlSource(postgres_url, table="orders", cursor="id", chunk_rows=100, fast_path=fast_path)
    first = group.insert(source)
    assert (first.commit, first.rows_inserted) == (0, 250)
    add_orders(engine, 250, 30)
    second = group.insert(source)
    assert (second.commit, second.rows_inserted) == (1, 30)
    assert group.insert(source).commit is None
    assert_exactly_once(group, range(280))
    lineage = group.commits()[1].lineage
    assert lineage is not None and lineage.span == {"column": "id", "after": 249, "through": 279}
    assert lineage.describe_span() == "id after 249 through 279"
    assert group.read()["ts"].dt.tz is not None
    (cursor,) = group.source_cursors()
    assert cursor.cursor == {"column": "id", "value": 279, "type": "int"}


def test_a_query_with_a_timestamp_cursor(project: fti.Project, postgres_url: str, orders: sa.Engine) -> None:
    engine = orders
    add_orders(engine, 0, 20)
    group = _group(project)
    source = fti.sources.sql(postgres_url, query="SELECT id, ts, amount FROM orders WHERE amount >= 0", cursor="ts")
    group.insert(source)
    add_orders(engine, 20, 5)
    assert group.insert(source).rows_inserted == 5
    assert_exactly_once(group, range(25))
    assert group.source_cursors()[0].cursor["type"] == "timestamp"


def test_sqlite_table_in_chunks(project: fti.Project, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE orders (id INTEGER, ts TEXT, amount REAL)"))
    rows = [{**row, "ts": row["ts"].isoformat()} for row in events(0, 45).to_pylist()]
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO orders VALUES (:id, :ts, :amount)"), rows)
    engine.dispose()
    source = fti.sources.sql(url, table="orders", cursor="id", chunk_rows=10)
    assert sum(1 for _ in source.read(None)) == 5
    group = _group(project)
    group.insert(source, parse_dates=["ts"])
    assert_exactly_once(group, range(45))


def test_missing_table_and_unreachable_database(project: fti.Project, postgres_url: str) -> None:
    group = _group(project)
    with pytest.raises(NotFoundError, match=r"Database postgresql.* table nope: .*relation \"nope\" does not exist"):
        group.insert(fti.sources.sql(postgres_url, table="nope", cursor="id"))
    with pytest.raises(
        BackendError, match=r"Database postgresql://app:\*\*\*@127\.0\.0\.1:9/shop table orders cannot be read"
    ):
        group.insert(fti.sources.sql("postgresql://app:pw@127.0.0.1:9/shop", table="orders", cursor="id"))
    assert project.feature_groups() == []
