"""Ingesting a paginated JSON API served by a real uvicorn: pagination, retries on 429, a broken page, cursors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import fti
from fti.errors import BackendError, ValidationError
from fti.sources import HttpSource
from tests.integration.ingest_data import assert_exactly_once
from tests.integration.orders_api import OrdersApi, orders_api


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[OrdersApi]:
    monkeypatch.setenv("ORDERS_TOKEN", "secret")
    with orders_api() as served:
        yield served


def _orders(api: OrdersApi, **options: object) -> HttpSource:
    return fti.sources.http(
        f"{api.url}/orders",
        headers={"Authorization": "Bearer ${ORDERS_TOKEN}"},
        records="data",
        pagination=fti.sources.page_number("page", size_param="per_page", size=10),
        cursor_field="id",
        cursor_param="since_id",
        backoff=0.01,
        **options,  # type: ignore[arg-type]
    )


def _group(project: fti.Project) -> fti.features.FeatureGroup:
    return project.get_or_create_feature_group("orders", primary_key=["id"], event_time="ts")


def test_pages_then_only_new_records_with_a_429_honoured(project: fti.Project, api: OrdersApi) -> None:
    api.add(0, 25)
    api.throttled = {2}
    group = _group(project)
    first = group.insert(_orders(api), parse_dates=["ts"])
    assert (first.commit, first.rows_inserted) == (0, 25)
    retried = [at for at, path, page in api.requests if page == 2]
    assert len(retried) == 2 and retried[1] - retried[0] >= 1.0, "the retry waited as Retry-After said"
    api.add(25, 7)
    second = group.insert(_orders(api), parse_dates=["ts"])
    assert (second.commit, second.rows_inserted) == (1, 7)
    assert_exactly_once(group, range(32))
    lineage = group.commits()[1].lineage
    assert lineage is not None and lineage.source is not None
    assert lineage.span == {"pages": 1, "column": "id", "after": 24, "through": 31}
    assert "secret" not in str(lineage) and "secret" not in str(group.source_cursors())
    assert group.insert(_orders(api), parse_dates=["ts"]).commit is None


def test_a_broken_page_commits_nothing_and_keeps_the_cursor(project: fti.Project, api: OrdersApi) -> None:
    api.add(0, 10)
    group = _group(project)
    group.insert(_orders(api), parse_dates=["ts"])
    (before,) = group.source_cursors()
    api.add(10, 30)
    api.failing_page = 2
    with pytest.raises(BackendError, match=r"answered 500 to page 2 after 3 tries: .*Nothing was committed"):
        group.insert(_orders(api, retries=2), parse_dates=["ts"])
    assert [commit.commit for commit in group.commits()] == [0]
    assert group.source_cursors() == [before]
    api.failing_page = None
    group.insert(_orders(api), parse_dates=["ts"])
    assert_exactly_once(group, range(40))


def test_token_and_link_pagination_and_the_errors(
    project: fti.Project, api: OrdersApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.add(0, 10)
    token = fti.sources.http(
        f"{api.url}/events", records="items", pagination=fti.sources.cursor_token("cursor", "next")
    )
    assert sum(batch.data.num_rows for batch in token.read(None)) == 10
    linked = fti.sources.http(f"{api.url}/linked", pagination=fti.sources.link_header(), rate_limit=50)
    assert [batch.data.num_rows for batch in linked.read(None)] == [4, 4, 2]
    monkeypatch.delenv("ORDERS_TOKEN")
    with pytest.raises(ValidationError, match="Header 'Authorization' needs the environment variable ORDERS_TOKEN"):
        list(_orders(api).read(None))
    monkeypatch.setenv("ORDERS_TOKEN", "wrong")
    with pytest.raises(ValidationError, match="refused page 1 with 401"):
        list(_orders(api).read(None))
    with pytest.raises(
        ValidationError, match=r"expected a list of JSON objects at 'nothing.here .*', got int. Set records="
    ):
        list(fti.sources.http(f"{api.url}/events", records="nothing.here || `3`").read(None))


def test_an_unreachable_api(project: fti.Project) -> None:
    source = fti.sources.http("http://127.0.0.1:9/orders", retries=1, backoff=0.01)
    with pytest.raises(BackendError, match=r"is unreachable \(page 1, 2 tries\)"):
        _group(project).insert(source)
    assert project.feature_groups() == []


def test_an_api_that_ignores_the_cursor_makes_no_empty_commit(project: fti.Project, api: OrdersApi) -> None:
    api.add(0, 10)
    source = fti.sources.http(
        f"{api.url}/events", records="items", pagination=fti.sources.cursor_token("cursor", "next"), cursor_field="id"
    )
    group = _group(project)
    assert group.insert(source, parse_dates=["ts"]).rows_inserted == 10
    assert group.insert(source, parse_dates=["ts"]).commit is None, "every record is at or before the cursor"
    api.add(10, 3)
    assert group.insert(source, parse_dates=["ts"]).rows_inserted == 3
    assert [commit.commit for commit in group.commits()] == [0, 1]
