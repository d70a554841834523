"""The stream jobs page in headless Chromium: workers of real stream jobs with their lag, freshness and state, as
they recorded themselves in the broker (screenshot under test-artifacts/ui/), and a broker it cannot reach."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import fti
from fti.cli.main import app as cli
from fti.streams import list_statuses
from fti.ui import create_app
from tests.e2e.ui.conftest import Dashboard, _Server
from tests.e2e.ui.test_browser import Browser, chromium  # noqa: F401  (the shared browser fixture)
from tests.integration.streaming.conftest import create_group, transactions

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def streams_dashboard(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Dashboard]:
    """A project whose stream job ran through `fti stream run` (and stopped), beside a worker gone silent."""
    folder: Path = tmp_path_factory.mktemp("ui-streams")
    (folder / "fti.yaml").write_text(f"project: streams_ui\nstream_broker:\n  url: {redis_url}\n")
    stream = f"ui_{folder.name}"[-30:].replace("-", "_")
    with fti.connect(folder) as project:
        create_group(project, "cards", stream)
        project.publish(stream, transactions(400, cards=20), key=["cc_num"], partitions=2)
    command = ["stream", "run", "cards", "-p", str(folder), "--exit-when-idle", "1", "--no-live"]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0, result.output
    with fti.connect(folder) as project:
        [stopped] = [status for status in list_statuses(project.stream_broker) if status.name == "cards"]
        long_ago = (datetime.now(UTC) - timedelta(minutes=2)).isoformat()
        gone = replace(stopped, worker=1, state="running", updated_at=long_ago)
        project.stream_broker.record_status(gone.job, json.dumps(asdict(gone)).encode())
        with _Server(create_app(project)) as url:
            yield Dashboard(url, project, {})


@pytest.fixture
def browser(chromium: object, streams_dashboard: Dashboard) -> Iterator[Browser]:  # noqa: F811
    context = chromium.new_context(viewport={"width": 1360, "height": 900}, bypass_csp=True)  # type: ignore[attr-defined]
    opened = Browser(context.new_page(), streams_dashboard.url)
    yield opened
    context.close()
    assert [url for url in opened.requests if not url.startswith(streams_dashboard.url + "/")] == []
    assert opened.errors == []


def test_the_streams_page_lists_each_worker_with_its_lag_and_freshness(browser: Browser) -> None:
    page = browser.open("/streams")
    rows = page.locator("#streams tbody tr")  # type: ignore[attr-defined]
    assert rows.count() == 2
    first, second = rows.nth(0).inner_text(), rows.nth(1).inner_text()
    assert "cards" in first and "aggregation" in first and "stopped" in first and "400" in first and " ms" in first
    assert "silent" in second
    assert page.locator("#streams td.num").nth(1).inner_text() == "0"  # type: ignore[attr-defined]  # its lag
    browser.shot("streams")
    page.click("#streams >> text=cards >> nth=0")  # type: ignore[attr-defined]
    page.wait_for_url("**/feature-groups/cards/1")  # type: ignore[attr-defined]


def test_an_unreachable_broker_is_said_on_the_page(tmp_path: Path) -> None:
    overrides = {"stream_broker.url": "redis://127.0.0.1:1/0"}
    with fti.connect(tmp_path, overrides=overrides) as project, _Server(create_app(project)) as url:
        page = httpx.get(f"{url}/streams", timeout=30)
        api = httpx.get(f"{url}/api/streams", timeout=30).json()
    assert page.status_code == 200
    assert "The stream broker could not be read: Stream broker redis://127.0.0.1:1/0 could not" in page.text
    assert api["jobs"] == [] and "redis://127.0.0.1:1/0" in api["error"]
