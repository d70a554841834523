"""The dashboard's deployments and monitoring API against a real server: traffic split, traffic and latency
from the request log, A/B analysis, drift over a bounded and cached window, alert rules, stored reports."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

import fti
from fti.errors import NotFoundError, ValidationError
from fti.ui import create_app
from fti.ui.monitoring import CheckCache, drift_report, load_rules
from tests.e2e.ui.conftest import Dashboard, _Server
from tests.e2e.ui.project_data import MOVED_AFTER, MOVED_BEFORE, REQUESTS, SHIFTED_FROM, STORED_REPORT

pytestmark = pytest.mark.e2e


def test_deployments_list_variants_shadow_and_logged_traffic(client: httpx.Client) -> None:
    (item,) = [item for item in client.get("/api/deployments").json()["items"] if item["name"] == "fraud"]
    assert item["name"] == "fraud"
    assert [(v["reference"], v["share"], v["version"]) for v in item["variants"]] == [
        ("fraud-detector@champion", 0.8, 2),
        ("fraud-detector@challenger", 0.2, 1),
    ]
    assert item["shadow"] == {"reference": "fraud-detector:1", "model": "fraud-detector", "version": 1}
    assert item["logged_rows"] == REQUESTS
    assert item["last_request"] == "2026-01-05T23:57:00+00:00"


def test_traffic_is_bucketed_per_variant_with_latency_percentiles(client: httpx.Client) -> None:
    body = client.get("/api/deployments/fraud", params={"window": "24h"}).json()
    assert body["window"] == {
        "name": "24h",
        "start": "2026-01-05T00:00:00+00:00",
        "end": "2026-01-06T00:00:00+00:00",
        "bucket_seconds": 3600,
    }
    served = [item for item in body["buckets"] if item["variant"] is None]
    assert len(served) == 24 and sum(item["requests"] for item in served) == REQUESTS
    assert served[0]["start"] == "2026-01-05T00:00:00+00:00" and served[0]["requests"] == 20
    assert all(item["p50_ms"] <= item["p99_ms"] for item in served)
    totals = {(item["variant"], item["is_shadow"]): item["requests"] for item in body["totals"]}
    assert totals[("fraud-detector@champion", False)] + totals[("fraud-detector@challenger", False)] == REQUESTS
    assert totals[("fraud-detector:1", True)] == totals[(None, False)] == REQUESTS
    assert body["errors"] is None  # the request log has no error column
    last_hour = client.get("/api/deployments/fraud", params={"window": "1h"}).json()
    assert sum(item["requests"] for item in last_hour["buckets"] if item["variant"] is None) == 20


def test_the_default_window_is_fitted_to_the_logged_span(client: httpx.Client) -> None:
    # ten requests over 90 minutes: 2-minute buckets from the first request's to the last's, not a fixed day
    body = client.get("/api/deployments/moved").json()
    assert body["window"] == {
        "name": "all",
        "start": "2026-01-05T00:00:00+00:00",
        "end": "2026-01-05T01:32:00+00:00",
        "bucket_seconds": 120,
    }
    served = [item for item in body["buckets"] if item["variant"] is None]
    assert sum(item["requests"] for item in served) == MOVED_BEFORE + MOVED_AFTER


def test_a_bad_window_or_deployment_is_refused_with_a_message(client: httpx.Client) -> None:
    bad = client.get("/api/deployments/fraud", params={"window": "2h"})
    assert bad.status_code == 422
    assert bad.json()["detail"] == "Unknown window '2h': use one of all, 1h, 6h, 24h, 7d, 30d."
    missing = client.get("/api/deployments/nope")
    assert missing.status_code == 404
    assert missing.json()["detail"].startswith("Deployment 'nope' does not exist (deployments: fraud, moved)")
    metric = client.get("/api/deployments/fraud/ab", params={"metric": "f1"})
    assert metric.status_code == 422
    assert metric.json()["detail"] == (
        "Unknown A/B metric 'f1': use one of accuracy, error_rate, squared_error, absolute_error, roc_auc, "
        "average_precision."
    )


def test_ab_analysis_compares_the_variants_on_labelled_traffic(client: httpx.Client, dashboard: Dashboard) -> None:
    body = client.get("/api/deployments/fraud/ab").json()
    assert body["available"] is True and body["labelled_rows"] == REQUESTS
    assert body["control"] == "fraud-detector:2"
    assert sum(variant["rows"] for variant in body["variants"]) == REQUESTS
    (decision,) = body["decisions"]
    assert decision["treatment"] == "fraud-detector:1" and decision["test"] == "proportion"
    assert 0 <= decision["p_value"] <= 1
    assert decision["samples_needed"] > 0 and decision["is_sample_reached"] is False
    assert body["winner"] is None
    # the dashboard's join of the log and labels matches the SDK's report
    sdk = dashboard.project.ab_report("fraud", mde=0.05)
    assert [(v.model, v.rows) for v in sdk.variants] == [(v["model"], v["rows"]) for v in body["variants"]]
    assert sdk.decisions[0].p_value == pytest.approx(decision["p_value"])
    quiet = client.get("/api/deployments/fraud/ab", params={"window": "1h", "metric": "squared_error"}).json()
    assert quiet["metric"] == "squared_error" and quiet["labelled_rows"] == 20
    # by default the metric the deployment's stored A/B report decided on; accuracy where it has none
    assert body["metric"] == "accuracy"
    assert client.get("/api/deployments/moved/ab").json()["metric"] == "error_rate"
    # a ranking metric needs the scores a deployment answering class scores logs: this one logged labels only
    ranked = client.get("/api/deployments/fraud/ab", params={"metric": "roc_auc"}).json()
    assert ranked["available"] is False and "output_kind='both'" in ranked["message"]


def test_drift_report_shows_the_shifted_feature_and_is_kept(client: httpx.Client) -> None:
    body = client.get("/api/monitoring/fraud", params={"refresh": "true"}).json()
    assert body["is_cached"] is False
    assert body["reference"] == "training dataset of fraud-detector:2"
    assert body["window"]["checked"]["rows"] == REQUESTS and body["window"]["is_row_bounded"] is False
    feature = body["drift"]["features"]["amount_avg"]
    assert feature["drifted"] is True and feature["method"] == "ks"
    assert len(feature["bins"]) == len(feature["reference"]) == len(feature["current"])
    slices = body["over_time"]
    assert len(slices) >= 5
    assert slices[-1]["features"]["amount_avg"]["drifted"] and not slices[0]["features"]["amount_avg"]["drifted"]
    assert body["quality"]["rows"] == REQUESTS
    assert body["alert_rules"] == []
    assert [item["stamp"] for item in body["stored_reports"]] == [STORED_REPORT]
    again = client.get("/api/monitoring/fraud").json()
    assert again["is_cached"] is True and again["checked_at"] == body["checked_at"]


def test_a_check_reads_only_the_latest_rows_of_the_window(dashboard: Dashboard) -> None:
    body = drift_report(dashboard.project, CheckCache(max_rows=REQUESTS - SHIFTED_FROM), "fraud")
    assert body["window"]["is_row_bounded"] is True
    assert body["window"]["checked"]["rows"] == REQUESTS - SHIFTED_FROM
    assert body["window"]["checked"]["start"].startswith("2026-01-05T18:00:00")
    assert body["drift"]["features"]["amount_avg"]["drifted"] is True


def test_stored_reports_with_their_alerts(client: httpx.Client) -> None:
    overview = client.get("/api/monitoring").json()
    assert [item for item in overview["items"] if item["name"] == "fraud"] == [
        {
            "name": "fraud",
            "logged_rows": REQUESTS,
            "last_request": "2026-01-05T23:57:00+00:00",
            "stored_reports": 1,
            "last_report": STORED_REPORT,
        }
    ]
    stored = client.get(f"/api/monitoring/fraud/reports/{STORED_REPORT}").json()
    assert stored["window"]["rows"] == REQUESTS - SHIFTED_FROM
    assert [alert["rule"] for alert in stored["alerts"]] == ["drift_share"]
    missing = client.get("/api/monitoring/fraud/reports/nope")
    assert missing.status_code == 404
    assert missing.json()["detail"] == (
        "Deployment 'fraud' has no stored report 'nope': see /monitoring/fraud for its reports."
    )


def test_alert_rules_are_evaluated_on_the_check(ui_project: tuple[fti.Project, dict[str, str]], tmp_path: Path) -> None:
    project, _ = ui_project
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - {type: drift_share, threshold: 0.5}\n  - {type: quality, min_count: 5}\n"
        "  - {type: metric_below, metric: accuracy, bound: 0.99}\nactions:\n  - {type: log}\n"
    )
    with _Server(create_app(project, alerts=rules)) as url, httpx.Client(base_url=url, timeout=60) as client:
        states = client.get("/api/monitoring/fraud").json()["alert_rules"]
    assert [state["rule"]["type"] for state in states] == ["drift_share", "quality", "metric_below"]
    fired = [bool(state["fired"]) for state in states]
    assert fired[0] is True and fired[2] is True
    assert states[0]["fired"][0]["message"].startswith("100% of features drifted (alert at 50%)")


def test_alert_rules_files_are_checked(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="Alert rules file '.*nope.yaml' does not exist"):
        load_rules(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just a list\n")
    with pytest.raises(ValidationError, match="must be a mapping with a 'rules' list"):
        load_rules(bad)


def test_the_new_endpoints_are_in_the_openapi_schema(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/deployments",
        "/api/deployments/{name}",
        "/api/deployments/{name}/ab",
        "/api/monitoring",
        "/api/monitoring/{name}",
        "/api/monitoring/{name}/reports/{stamp}",
    ):
        assert path in paths


def test_an_old_check_is_shown_while_a_new_one_runs(dashboard: Dashboard) -> None:
    cache = CheckCache(ttl_seconds=0)
    first, was_kept = cache.get(dashboard.project, "fraud", "24h")
    assert was_kept is False
    stale, was_kept = cache.get(dashboard.project, "fraud", "24h")
    assert was_kept is True and stale is first
    for thread in threading.enumerate():
        if thread.name == "fti-ui-check":
            thread.join()
    renewed, _ = cache.get(dashboard.project, "fraud", "24h")
    assert renewed is not first and renewed.taken_at > first.taken_at
    for thread in threading.enumerate():
        if thread.name == "fti-ui-check":
            thread.join()
