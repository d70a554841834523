"""The pipeline pages in headless Chromium: the list with next and last runs, one pipeline's runs, and a run's
lineage graph and logs (screenshots under test-artifacts/ui/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import fti
from fti.ui import create_app
from tests.e2e.ui.conftest import Dashboard, _Server
from tests.e2e.ui.test_browser import Browser, chromium  # noqa: F401  (the shared browser fixture)
from tests.e2e.ui.ui_pipelines import populate

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pipelines_dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    folder: Path = tmp_path_factory.mktemp("ui-pipelines")
    module = Path(__file__).with_name("ui_pipelines.py")
    (folder / "fti.yaml").write_text(f"project: pipelines_ui\npipelines: [{module}]\n")
    with fti.connect(folder) as project:
        populate(project)
        with _Server(create_app(project)) as url:
            yield Dashboard(url, project, {})


@pytest.fixture
def browser(chromium: object, pipelines_dashboard: Dashboard) -> Iterator[Browser]:  # noqa: F811
    context = chromium.new_context(viewport={"width": 1360, "height": 900}, bypass_csp=True)  # type: ignore[attr-defined]
    opened = Browser(context.new_page(), pipelines_dashboard.url)
    yield opened
    context.close()
    assert [url for url in opened.requests if not url.startswith(pipelines_dashboard.url + "/")] == []
    assert opened.errors == []


def test_pipelines_list_and_a_pipelines_runs(browser: Browser) -> None:
    page = browser.open("/pipelines")
    rows = page.locator("#pipelines tbody tr")  # type: ignore[attr-defined]
    assert rows.count() == 2
    text = page.inner_text("#pipelines")  # type: ignore[attr-defined]
    assert "0 6 * * *" in text and "Europe/Paris" in text and "commit:raw" in text
    assert "succeeded" in text and "failed" in text
    browser.shot("pipelines")
    page.click("#pipelines >> text=daily_features")  # type: ignore[attr-defined]
    page.wait_for_selector("#pipeline-runs")  # type: ignore[attr-defined]
    assert "next run" in page.inner_text("#pipeline-facts")  # type: ignore[attr-defined]
    assert page.locator("#pipeline-runs tbody tr").count() == 1  # type: ignore[attr-defined]
    browser.shot("pipeline")


def test_a_runs_lineage_and_logs(browser: Browser, pipelines_dashboard: Dashboard) -> None:
    [run] = pipelines_dashboard.project.pipeline_runs("daily_features")
    page = browser.open(f"/pipelines/daily_features/runs/{run.id}")
    graph = page.locator("#lineage svg.lineage")  # type: ignore[attr-defined]
    assert graph.count() == 1
    labels = page.inner_text("#lineage")  # type: ignore[attr-defined]
    assert "raw:v1#0" in labels and "doubled v1 #0" in labels and "daily_features #1" in labels
    assert "doubled 3 rows" in page.inner_text("#run-logs")  # type: ignore[attr-defined]
    browser.shot("pipeline-run")
    [failed] = pipelines_dashboard.project.pipeline_runs("broken")
    page = browser.open(f"/pipelines/broken/runs/{failed.id}")
    assert "RuntimeError: broken on purpose (a demo)" in page.inner_text("#run-error")  # type: ignore[attr-defined]
    assert "about to fail: a demo" in page.inner_text("#run-logs")  # type: ignore[attr-defined]
    browser.shot("pipeline-run-failed")
