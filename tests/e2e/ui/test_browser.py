"""The dashboard in headless Chromium (the system browser, no download): every page, the runs filter,
a comparison, a model's lineage, a deployment and its drift report; screenshots are kept under
test-artifacts/ui/, and no request the pages make leaves the server's own address."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import fti
from fti.cli.main import app
from fti.ui import create_app
from tests.e2e.ui.conftest import Dashboard, _Server
from tests.e2e.ui.project_data import LOG_START, REQUESTS, STORED_REPORT

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "ui"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not Path(CHROMIUM).exists():
    # `make test` installs Chromium and sets FTI_REQUIRE_BROWSER: there a missing browser is a failure, not a skip
    if os.environ.get("FTI_REQUIRE_BROWSER"):
        pytest.fail(f"Chromium is required but not found at {CHROMIUM}: apt-get install chromium", pytrace=False)
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


class Browser:
    """One page of headless Chromium that records every request it makes."""

    def __init__(self, page: object, url: str) -> None:
        self.page = page
        self.url = url
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))  # type: ignore[attr-defined]
        page.on("pageerror", lambda error: self.errors.append(str(error)))  # type: ignore[attr-defined]

    def open(self, path: str) -> object:
        response = self.page.goto(self.url + path)  # type: ignore[attr-defined]
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        return self.page

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        return path


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser(chromium: object, dashboard: Dashboard) -> Iterator[Browser]:
    # bypass the Content-Security-Policy so that the check below sees every request the markup would make,
    # not only those the policy lets through
    context = chromium.new_context(viewport={"width": 1360, "height": 900}, bypass_csp=True)  # type: ignore[attr-defined]
    page = context.new_page()
    opened = Browser(page, dashboard.url)
    yield opened
    context.close()
    foreign = [
        url for url in opened.requests if not url.startswith(dashboard.url + "/") and not url.startswith("data:")
    ]
    assert foreign == [], f"requests left the server: {foreign}"
    assert opened.requests, "the page made no request at all"
    assert opened.errors == [], f"JavaScript errors: {opened.errors}"


def test_feature_store_pages(browser: Browser) -> None:
    page = browser.open("/")
    assert page.locator(".card").count() >= 5  # type: ignore[attr-defined]
    fraud = page.locator("#home-deployments tr", has_text="fraud-detector@champion").first  # type: ignore[attr-defined]
    text = fraud.inner_text()
    assert "fraud-detector v2" in text and "drifted" in text and "1 fired" in text and "amount_avg" in text
    moved = page.locator("#home-deployments tr", has_text="moved").inner_text()  # type: ignore[attr-defined]
    assert "2026-01-06 00:00:00 UTC" in moved and STORED_REPORT not in moved  # the time it was checked, readable
    assert page.locator("#recent-runs tbody tr").count() == 5  # type: ignore[attr-defined]
    assert "crashed" in page.inner_text("#failures")  # type: ignore[attr-defined]
    browser.shot("overview")
    page = browser.open("/feature-groups")
    page.fill("#fg-search", "spending")  # type: ignore[attr-defined]
    page.click("form.toolbar button")  # type: ignore[attr-defined]
    page.wait_for_url("**/feature-groups?search=spending")  # type: ignore[attr-defined]
    assert page.locator("#feature-groups tbody tr").count() == 1  # type: ignore[attr-defined]
    browser.shot("feature-groups")
    page.click("text=card_activity")  # type: ignore[attr-defined]
    page.wait_for_selector("#statistics svg.histogram")  # type: ignore[attr-defined]
    assert page.locator("#schema tbody tr").count() == 4  # type: ignore[attr-defined]
    assert page.locator("#commits tbody tr").count() == 2  # type: ignore[attr-defined]
    lineage = page.locator("#commits tbody tr").first.inner_text()  # type: ignore[attr-defined]
    assert "parquet" in lineage and "card_activity_later.parquet" in lineage and "pipeline card_features" in lineage
    assert page.locator("#statistics .stat").count() == 4  # type: ignore[attr-defined]
    browser.shot("feature-group")
    page = browser.open("/feature-views")
    page.click("#feature-views >> text=fraud")  # type: ignore[attr-defined]
    page.wait_for_selector("#training-datasets .splitbar")  # type: ignore[attr-defined]
    assert "card_activity v1 @" in page.inner_text("#training-datasets")  # type: ignore[attr-defined]
    browser.shot("feature-view")


def test_runs_filter_sort_and_compare(browser: Browser) -> None:
    page = browser.open("/runs")
    page.wait_for_selector("#runs tbody tr")  # type: ignore[attr-defined]
    assert page.locator("#runs tbody tr:not([hidden])").count() == 24  # type: ignore[attr-defined]
    page.fill("#filter", "metrics.f1 > 0.8 and params.model = 'xgb'")  # type: ignore[attr-defined]
    page.fill("#order-by", "-metrics.f1")  # type: ignore[attr-defined]
    page.click("#run-query button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_function("document.querySelectorAll('#runs tbody tr').length === 3")  # type: ignore[attr-defined]
    assert page.inner_text("#run-count") == "3 matching"  # type: ignore[attr-defined]
    names = page.locator("#runs tbody tr td:nth-child(2)").all_inner_texts()  # type: ignore[attr-defined]
    assert names[0] == "trial-19"
    browser.shot("runs")
    page.fill("#filter", "metrics.f1 >")  # type: ignore[attr-defined]
    page.click("#run-query button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_selector("#run-error:not([hidden])")  # type: ignore[attr-defined]
    assert "Invalid run filter" in page.inner_text("#run-error")  # type: ignore[attr-defined]
    browser.shot("runs-bad-filter")
    page.fill("#filter", "params.model = 'xgb'")  # type: ignore[attr-defined]
    page.click("#run-query button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_function("document.querySelectorAll('#runs tbody tr').length === 10")  # type: ignore[attr-defined]
    boxes = page.locator("#runs .select-run")  # type: ignore[attr-defined]
    boxes.nth(0).check()
    boxes.nth(3).check()
    page.click("#compare")  # type: ignore[attr-defined]
    page.wait_for_selector("#curves svg")  # type: ignore[attr-defined]
    assert page.locator("#compare-table tr.differs").count() >= 1  # type: ignore[attr-defined]
    assert page.locator("#curves polyline").count() >= 2  # type: ignore[attr-defined]
    browser.shot("compare")


def test_runs_table_shows_metrics_first_rounded_with_remembered_columns_and_nested_trials(browser: Browser) -> None:
    page = browser.open("/runs?experiment=tuning")
    page.wait_for_selector("#runs tbody tr")  # type: ignore[attr-defined]
    headers = page.locator("#runs thead th").evaluate_all("ths => ths.map(th => th.dataset.column || '')")  # type: ignore[attr-defined]
    assert "metrics.roc_auc" in headers, f"30 params pushed the metric out: {headers}"
    assert headers.index("metrics.roc_auc") < min(i for i, c in enumerate(headers) if c.startswith("params."))
    search = page.locator("#runs tbody tr:not([hidden])")  # type: ignore[attr-defined]
    assert search.count() == 1, "the trials are nested under their parent, collapsed"
    assert "0.9123" in search.first.inner_text() and "0.912345678" not in search.first.inner_text()
    browser.shot("runs-nested-collapsed")
    page.click("#runs .expand-trials")  # type: ignore[attr-defined]
    assert page.locator("#runs tbody tr.trial:not([hidden])").count() == 3  # type: ignore[attr-defined]
    browser.shot("runs-nested-expanded")
    page.click("#columns summary")  # type: ignore[attr-defined]
    page.uncheck("#column-list input[value='params.p00']")  # type: ignore[attr-defined]
    page.check("#column-list input[value='params.p29']")  # type: ignore[attr-defined]
    page.reload()  # type: ignore[attr-defined]
    page.wait_for_selector("#runs tbody tr")  # type: ignore[attr-defined]
    headers = page.locator("#runs thead th").evaluate_all("ths => ths.map(th => th.dataset.column || '')")  # type: ignore[attr-defined]
    assert "params.p29" in headers and "params.p00" not in headers, "the chosen columns are remembered"
    browser.shot("runs-chosen-columns")


def test_run_page_shows_charts_images_and_downloads(browser: Browser, dashboard: Dashboard) -> None:
    run_id = dashboard.project.runs(filter="attributes.name = 'trial-00'")["run_id"].iloc[0]
    page = browser.open(f"/runs/{run_id}")
    page.wait_for_selector("#metric-charts svg")  # type: ignore[attr-defined]
    width = page.eval_on_selector(".images img", "image => image.naturalWidth")  # type: ignore[attr-defined]
    assert width > 100
    with page.expect_download() as download:  # type: ignore[attr-defined]
        page.click("#artifacts >> text=download >> nth=0")  # type: ignore[attr-defined]
    assert download.value.suggested_filename == "threshold.json"
    assert "git commit" in page.inner_text("main")  # type: ignore[attr-defined]
    browser.shot("run")


def test_models_and_lineage(browser: Browser) -> None:
    page = browser.open("/models")
    page.click("#models >> text=fraud-detector")  # type: ignore[attr-defined]
    page.wait_for_selector("#alias-history tbody tr")  # type: ignore[attr-defined]
    assert page.locator("#alias-history tbody tr").count() == 4  # type: ignore[attr-defined]
    # 31 metrics are rows of their own table: the page is no wider than the window
    assert page.evaluate("document.documentElement.scrollWidth") <= 1360  # type: ignore[attr-defined]
    assert page.locator("#version-metrics tbody tr").count() == 31  # type: ignore[attr-defined]
    assert page.locator("#version-metrics td.best").count() == 31  # type: ignore[attr-defined]  # v2 is better
    browser.shot("model")
    page.click("#versions >> text=v2 >> nth=0")  # type: ignore[attr-defined]
    page.wait_for_selector("#lineage svg")  # type: ignore[attr-defined]
    nodes = page.locator("#lineage .node").count()  # type: ignore[attr-defined]
    assert nodes == 6  # two feature-group commits, view, dataset, run, model version
    browser.shot("lineage")
    page.click("#lineage .run")  # type: ignore[attr-defined]
    page.wait_for_selector("#params")  # type: ignore[attr-defined]


def test_api_docs(browser: Browser) -> None:
    page = browser.open("/docs")
    assert "/api/runs" in page.inner_text("main")  # type: ignore[attr-defined]
    assert "/api/monitoring/{name}" in page.inner_text("main")  # type: ignore[attr-defined]
    browser.shot("api-docs")


def test_deployments_and_a_deployment(browser: Browser) -> None:
    page = browser.open("/deployments")
    assert page.locator("#deployments tbody tr").count() == 2  # type: ignore[attr-defined]
    assert "fraud-detector@champion (v2) 80%" in page.inner_text("#deployments .splitbar")  # type: ignore[attr-defined]
    browser.shot("deployments")
    page.click("#deployments >> text=fraud >> nth=0")  # type: ignore[attr-defined]
    page.wait_for_selector("#traffic svg polyline")  # type: ignore[attr-defined]
    variants = page.inner_text("#variants")  # type: ignore[attr-defined]
    assert "fraud-detector v2" in variants and "shadow" in variants
    assert page.locator("#traffic figure").count() == 2  # type: ignore[attr-defined]
    assert "Every logged request" in page.inner_text("#traffic-window")  # type: ignore[attr-defined]
    assert page.locator("#ab-decisions tbody tr").count() == 1  # type: ignore[attr-defined]
    assert "not reached" in page.inner_text("#ab-decisions")  # type: ignore[attr-defined]
    browser.shot("deployment")
    page.select_option("#ab-metric", "error_rate")  # type: ignore[attr-defined]
    page.click("form.toolbar button")  # type: ignore[attr-defined]
    page.wait_for_url("**metric=error_rate")  # type: ignore[attr-defined]
    assert "error_rate" in page.inner_text("#ab-variants")  # type: ignore[attr-defined]
    page.click(".switch >> text=6h")  # type: ignore[attr-defined]
    page.wait_for_url("**/deployments/fraud?window=6h")  # type: ignore[attr-defined]
    assert "6h up to the last logged request" in page.inner_text("#traffic-window")  # type: ignore[attr-defined]


def test_monitoring_and_a_drift_report(browser: Browser) -> None:
    page = browser.open("/monitoring")
    browser.shot("monitoring")
    page.click("#monitoring .drift-link")  # type: ignore[attr-defined]
    page.wait_for_selector("#distributions svg.distribution")  # type: ignore[attr-defined]
    assert page.inner_text("#verdict").startswith("Dataset drift")  # type: ignore[attr-defined]
    assert "drift" in page.inner_text("#drift-scores")  # type: ignore[attr-defined]
    assert page.locator("#distributions .stat").count() == 2  # type: ignore[attr-defined]  # amount_avg, prediction
    assert page.locator("#over-time polyline").count() >= 1  # type: ignore[attr-defined]
    assert "at most 5,000 rows are read" in page.inner_text("#check-window")  # type: ignore[attr-defined]
    browser.shot("drift-report")
    page.click("#stored-reports a")  # type: ignore[attr-defined]
    page.wait_for_selector("#fired-alerts")  # type: ignore[attr-defined]
    assert "drift_share" in page.inner_text("#fired-alerts")  # type: ignore[attr-defined]
    browser.shot("stored-drift-report")


def test_a_deployment_whose_split_changed_explains_its_counts_and_sizes_the_ab_test(browser: Browser) -> None:
    page = browser.open("/deployments/moved")
    former = page.locator("#variants tr.former")  # type: ignore[attr-defined]
    assert former.count() == 1 and "no longer in the split" in former.inner_text()
    assert "fraud-detector:1" in former.inner_text()
    assert "served traffic in this window before the split changed" in page.inner_text("#variants-note")  # type: ignore[attr-defined]
    # the default analysis (mde 0.05) on a perfect champion: the sample size is sized for a fall, not refused
    assert page.locator("#ab-decisions tbody tr").count() == 1, page.inner_text("#ab")  # type: ignore[attr-defined]
    assert "rate test needs" not in page.inner_text("#ab")  # type: ignore[attr-defined]
    # the analysis starts from the metric its stored A/B report decided on, not from accuracy
    assert page.input_value("#ab-metric") == "error_rate"  # type: ignore[attr-defined]
    assert "error_rate" in page.inner_text("#ab-variants")  # type: ignore[attr-defined]
    browser.shot("deployment-moved")


def test_a_stored_ab_report_is_drawn_as_an_ab_report(browser: Browser) -> None:
    page = browser.open("/monitoring/moved/reports/ab")
    assert page.inner_text("h1").startswith("A/B report: moved")  # type: ignore[attr-defined]
    assert "control fraud-detector:2" in page.inner_text("#ab-facts")  # type: ignore[attr-defined]
    assert page.locator("#ab-variants tbody tr").count() == 2  # type: ignore[attr-defined]
    assert page.locator("#ab-decisions tbody tr").count() == 1  # type: ignore[attr-defined]
    assert "(mde" not in page.inner_text("#ab-decisions thead")  # type: ignore[attr-defined]  # not stored
    browser.shot("stored-ab-report")


def test_time_charts_fit_the_traffic_draw_gaps_and_keep_the_legend_off_the_plot(browser: Browser) -> None:
    page = browser.open("/deployments/moved")
    requests, latency = page.locator("#traffic figure svg").all()  # type: ignore[attr-defined]
    # ten requests in 90 minutes fill the fitted window from its left edge, not one spike at the right
    assert "0 UTC – 2026-01-05 01:32:00 UTC, one point per 2 min bucket" in page.inner_text("#traffic-window")  # type: ignore[attr-defined]
    # latency exists only in the ten buckets with requests: dots, no line drawn across the empty buckets
    assert latency.locator("polyline").count() == 0 and latency.locator("circle").count() == 20
    plot = requests.locator("rect.plot").bounding_box()
    for item in requests.locator("text.legend").all():
        box = item.bounding_box()
        assert box["y"] >= plot["y"] + plot["height"], "the legend is drawn below the plot"
    browser.shot("deployment-fitted-window")
    page = browser.open("/monitoring/fraud")
    chart = page.locator("#over-time svg")  # type: ignore[attr-defined]
    plot = chart.locator("rect.plot").bounding_box()
    styles = chart.locator(".legend-swatch").evaluate_all(
        "lines => lines.map(l => l.getAttribute('stroke') + ' ' + (l.getAttribute('stroke-dasharray') || ''))"
    )
    assert len(styles) == len(set(styles)) >= 2, f"every series looks different: {styles}"
    assert all(item.bounding_box()["y"] >= plot["y"] + plot["height"] for item in chart.locator("text.legend").all())
    # a slice table with a column per feature scrolls inside the page instead of widening it
    assert page.evaluate("document.documentElement.scrollWidth") <= 1360  # type: ignore[attr-defined]
    browser.shot("drift-over-time-legend")


def test_compare_highlights_only_differing_params_and_draws_only_stepped_metrics(
    browser: Browser, dashboard: Dashboard
) -> None:
    runs = dashboard.project.runs(filter="attributes.name = 'search' or attributes.name = 'search-trial-1'")
    page = browser.open("/runs/compare?ids=" + ",".join(runs["run_id"]))
    assert page.locator("#compare-table tr.differs th").all_inner_texts() == ["p00"]  # type: ignore[attr-defined]
    assert page.locator("#compare-table tr.partial").count() == 29  # type: ignore[attr-defined]
    assert page.locator("#curves svg").count() == 0, "roc_auc was logged once per run: a number, not a chart"  # type: ignore[attr-defined]
    browser.shot("compare-partial-params")


def test_run_page_tables_single_values_and_charts_only_stepped_metrics(browser: Browser, dashboard: Dashboard) -> None:
    run_id = dashboard.project.runs(filter="attributes.name = 'trial-00'")["run_id"].iloc[0]
    page = browser.open(f"/runs/{run_id}")
    assert page.locator("#metric-charts svg").count() == 1  # type: ignore[attr-defined]  # loss, not f1
    assert "f1" in page.inner_text("#metrics")  # type: ignore[attr-defined]
    figures = page.locator("#figures figcaption").all_inner_texts()  # type: ignore[attr-defined]
    assert figures[0] == "roc.png"
    # the figures come before the charts
    assert page.locator("#figures").bounding_box()["y"] < page.locator("#metric-charts").bounding_box()["y"]  # type: ignore[attr-defined]
    browser.shot("run-figures-first")


def test_feature_statistics_bin_heavy_tails_show_keys_as_keys_a_preview_and_join_keys(browser: Browser) -> None:
    page = browser.open("/feature-groups/payments/1")
    cards = {
        card.locator("h3").inner_text().split()[0]: card
        for card in page.locator("#statistics .stat").all()  # type: ignore[attr-defined]
    }
    assert "primary key, not profiled as a number" in cards["tx_id"].locator("h3").inner_text()
    assert "id, not profiled as a number" in cards["cc_num"].locator("h3").inner_text()
    for key in ("tx_id", "cc_num"):
        assert "min" not in cards[key].locator("dl").inner_text() and cards[key].locator("svg").count() == 0
    amount = cards["amount"]
    assert "log-spaced bins" in amount.inner_text()
    heights = amount.locator("svg.histogram rect.bar").evaluate_all(
        "bars => bars.map(b => Number(b.getAttribute('height')))"
    )
    assert sum(height > 1 for height in heights) >= 5, f"the tail spreads over the bars: {heights}"
    assert page.locator("#preview tbody tr").count() == 10  # type: ignore[attr-defined]
    assert page.locator("#preview thead th").all_inner_texts() == ["tx_id", "cc_num", "amount", "ts"]  # type: ignore[attr-defined]
    browser.shot("feature-group-heavy-tail")
    page = browser.open("/feature-views/fraud/1")
    joined = page.inner_text("#query")  # type: ignore[attr-defined]
    assert "cc_num = card_activity.cc_num" in joined and "spine" in joined
    legend = page.locator("#training-datasets .split-legend li")  # type: ignore[attr-defined]
    assert legend.all_inner_texts() == ["train 80% · ≈64 rows", "test 20% · ≈16 rows"]
    clipped = legend.evaluate_all("items => items.filter(i => i.scrollWidth > i.clientWidth).length")
    assert clipped == 0, "no split label is cut off"
    browser.shot("feature-view-joins")


def test_the_live_drift_page_decides_with_the_rules_of_the_stored_reports(browser: Browser) -> None:
    page = browser.open("/monitoring/moved")
    page.wait_for_selector("#drift-scores")  # type: ignore[attr-defined]
    thresholds = page.locator("#drift-scores tbody tr td:nth-child(5)").all_inner_texts()  # type: ignore[attr-defined]
    assert thresholds and set(thresholds) == {"0.345"}, thresholds
    assert STORED_REPORT in page.inner_text("#drift-rules")  # type: ignore[attr-defined]
    # the entity key the log keeps beside the features is not an extra column
    assert "cc_num" not in page.inner_text("main")  # type: ignore[attr-defined]
    browser.shot("drift-report-configured-rules")
    page = browser.open("/monitoring/fraud")
    assert "latest stored report" in page.inner_text("#drift-rules")  # type: ignore[attr-defined]


def test_an_empty_project_suggests_a_command_that_exists(chromium: object, tmp_path: Path) -> None:
    with fti.connect(tmp_path / "empty") as project, _Server(create_app(project)) as url:
        context = chromium.new_context(viewport={"width": 1360, "height": 900})  # type: ignore[attr-defined]
        page = context.new_page()
        assert page.goto(url + "/deployments").status == 200
        hint = page.inner_text("#no-deployments")
        assert "fti deployments create NAME --variant MODEL@champion" in hint
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "deployments-empty.png"), full_page=True)
        context.close()
    # the suggested command is there, with the option the hint names
    result = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"}).invoke(app, ["deployments", "create", "--help"])
    assert result.exit_code == 0 and "--variant" in result.output


def test_a_deployment_charts_its_feedback_per_model_version(browser: Browser, dashboard: Dashboard) -> None:
    # feedback on every 4th request, rated a minute after it was answered: the champion's answers liked more
    indexes = list(range(0, REQUESTS, 4))
    logged = dashboard.project.inference_log.read("fraud", columns=["request_id", "model_version"]).to_pandas()
    versions = logged.drop_duplicates("request_id").set_index("request_id")["model_version"]
    ids = [f"req-{index:04d}" for index in indexes]
    dashboard.project.log_feedback(
        "fraud",
        {
            "request_id": ids,
            "rating": [0.9 if versions[request_id] == 2 else 0.3 for request_id in ids],
            "timestamp": [LOG_START + pd.Timedelta(minutes=3 * index + 1) for index in indexes],
        },
    )
    page = browser.open("/deployments/fraud")
    page.wait_for_selector("#feedback figure svg")  # type: ignore[attr-defined]
    assert page.locator("#feedback svg polyline").count() >= 2  # type: ignore[attr-defined]
    text = page.inner_text("#feedback")  # type: ignore[attr-defined]
    assert f"{len(ids)} feedback row(s)" in text and "fraud-detector:2" in text
    browser.shot("deployment-feedback")


def test_the_activity_page_filters_changes_and_links_their_targets(browser: Browser, dashboard: Dashboard) -> None:
    page = browser.open("/activity")
    actions = page.locator("#activity tbody tr td:nth-child(3)").all_inner_texts()  # type: ignore[attr-defined]
    assert "feature_group.create" in actions and "run.create" in actions and "model_version.register" in actions
    assert page.locator("header nav >> text=Activity").count() == 1  # type: ignore[attr-defined]
    page.select_option("#activity-action", "model_version.")  # type: ignore[attr-defined]
    page.click("form.toolbar button")  # type: ignore[attr-defined]
    page.wait_for_url("**/activity?actor=&action=model_version.")  # type: ignore[attr-defined]
    registered = page.locator("#activity tbody tr td:nth-child(3)").all_inner_texts()  # type: ignore[attr-defined]
    assert registered and set(registered) == {"model_version.register"}
    browser.shot("activity")
    page.click("#activity tbody tr >> nth=-1 >> a")  # the first version registered
    page.wait_for_url("**/models/fraud-detector/versions/1")  # type: ignore[attr-defined]
    page = browser.open("/activity?actor=nobody")
    assert "No change matches" in page.inner_text("#activity")  # type: ignore[attr-defined]
