"""The dashboard's JSON API against a real server: pagination, run filters, errors, artifacts, lineage."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.ui.conftest import Dashboard
from tests.e2e.ui.project_data import RUNS

pytestmark = pytest.mark.e2e


def test_runs_are_paginated_with_a_total(client: httpx.Client) -> None:
    first = client.get("/api/runs", params={"experiment": "fraud", "limit": 5, "order_by": "-metrics.f1"}).json()
    second = client.get(
        "/api/runs", params={"experiment": "fraud", "limit": 5, "offset": 5, "order_by": "-metrics.f1"}
    ).json()
    assert first["total"] == second["total"] == RUNS + 2
    assert len(first["items"]) == len(second["items"]) == 5
    f1 = [item["metrics.f1"] for item in first["items"] + second["items"]]
    assert f1 == sorted(f1, reverse=True)
    assert {item["run_id"] for item in first["items"]}.isdisjoint(item["run_id"] for item in second["items"])
    assert "params.max_depth" in first["columns"]


def test_runs_filter_uses_the_sdk_syntax(client: httpx.Client, dashboard: Dashboard) -> None:
    text = "metrics.f1 > 0.8 and params.model = 'xgb'"
    body = client.get("/api/runs", params={"filter": text, "limit": 100}).json()
    expected = dashboard.project.runs(filter=text)
    assert body["total"] == len(expected) > 0
    assert {item["run_id"] for item in body["items"]} == set(expected["run_id"])


def test_a_malformed_filter_is_a_422_with_the_parser_message(client: httpx.Client) -> None:
    response = client.get("/api/runs", params={"filter": "metrics.f1 >"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("Invalid run filter at position 12, near 'end of filter'")


def test_page_size_is_bounded(client: httpx.Client) -> None:
    assert client.get("/api/runs", params={"limit": 0}).status_code == 422
    assert client.get("/api/runs", params={"limit": 501}).status_code == 422
    assert client.get("/api/feature-groups", params={"offset": -1}).status_code == 422


def test_feature_groups_search_schema_commits_and_statistics(client: httpx.Client) -> None:
    found = client.get("/api/feature-groups", params={"search": "spending"}).json()
    assert found["total"] == 1 and found["items"][0]["name"] == "card_activity"
    group = client.get("/api/feature-groups/card_activity/1").json()
    assert [column["name"] for column in group["schema"]] == ["cc_num", "ts", "amount_avg", "merchant"]
    assert [commit["rows_inserted"] for commit in group["commits"]] == [40, 40]
    latest, first_commit = group["commits"]
    assert latest["lineage"]["source"]["kind"] == "parquet" and latest["lineage"]["pipeline"] == "card_features"
    assert latest["lineage"]["read"].startswith("1 file(s): ") and first_commit["lineage"]["source"] is None
    statistics = client.get("/api/feature-groups/card_activity/1/statistics").json()
    assert statistics["rows"] == 80
    assert sum(statistics["columns"]["amount_avg"]["histogram"]["counts"]) == 80
    first = client.get(
        "/api/feature-groups/card_activity/1/statistics",
        params={"commit": group["commits"][1]["commit"], "scope": "commit"},
    )
    assert first.json()["rows"] == 40


def test_missing_objects_are_404_with_a_message(client: httpx.Client) -> None:
    response = client.get("/api/feature-groups/nope/1")
    assert response.status_code == 404
    assert "Feature group 'nope'" in response.json()["detail"]
    assert client.get("/api/runs/unknown").json()["detail"] == (
        "Run 'unknown' does not exist: list runs with `fti runs list`."
    )
    assert client.get("/api/models/nope").json()["detail"] == ("No model 'nope' is registered.")


def test_feature_view_lists_training_datasets_with_splits_and_sources(client: httpx.Client) -> None:
    views = client.get("/api/feature-views").json()
    assert [item["name"] for item in views["items"]] == ["fraud"]
    view = client.get("/api/feature-views/fraud/1").json()
    (dataset,) = view["training_datasets"]
    assert [split["name"] for split in dataset["splits"]] == ["train", "test"]
    assert dataset["rows"] > 0
    assert {source["feature_group"] for source in dataset["sources"]} == {"card_activity", "fraud_labels"}


def test_run_detail_compare_and_metric_history(client: httpx.Client, dashboard: Dashboard) -> None:
    best, other = dashboard.ids["best_run"], dashboard.ids["other_run"]
    run = client.get(f"/api/runs/{best}").json()
    assert run["params"]["model"] == "xgb" and run["metrics"]["f1"] == pytest.approx(0.885)
    assert run["training_data"]["feature_view"] == "fraud"
    assert run["environment"]["python_version"]
    history = client.get(f"/api/runs/{best}/metrics/loss").json()
    assert history["steps"] == [0, 1, 2, 3, 4]
    compared = client.get("/api/runs/compare", params={"ids": f"{best},{other}"}).json()
    differs = {item["key"]: item["differs"] for item in compared["params"]}
    assert differs["max_depth"] is False and differs["learning_rate"] is True
    assert [len(series["steps"]) for series in compared["curves"]["loss"]] == [5, 5]
    too_few = client.get("/api/runs/compare", params={"ids": best})
    assert too_few.status_code == 422
    assert too_few.json()["detail"] == "Compare between 2 and 20 runs, got 1: select runs in the runs table."


def test_artifacts_download_and_images_show_inline(client: httpx.Client, dashboard: Dashboard) -> None:
    run_id = dashboard.project.runs(filter="attributes.name = 'trial-00'")["run_id"].iloc[0]
    image = client.get(f"/api/runs/{run_id}/artifacts/roc.png", params={"inline": "true"})
    assert image.headers["content-type"] == "image/png" and image.headers["content-disposition"] == "inline"
    assert image.content.startswith(b"\x89PNG")
    download = client.get(f"/api/runs/{run_id}/artifacts/config/threshold.json")
    assert download.headers["content-disposition"] == 'attachment; filename="threshold.json"'
    assert download.json() == {"threshold": 0.5}


def test_models_aliases_history_and_lineage(client: httpx.Client) -> None:
    models = client.get("/api/models").json()
    assert models["items"][0]["aliases"] == {"challenger": 1, "champion": 2}
    model = client.get("/api/models/fraud-detector").json()
    moves = [(item["alias"], item["from_version"], item["to_version"]) for item in model["alias_history"]]
    assert moves == [("champion", 1, 2), ("champion", 2, 1), ("champion", None, 2), ("challenger", None, 1)]
    lineage = client.get("/api/models/fraud-detector/versions/2/lineage").json()
    kinds = sorted({node["kind"] for node in lineage["nodes"]})
    assert kinds == ["feature group commit", "feature view", "model version", "run", "training dataset"]
    assert len(lineage["edges"]) == len(lineage["nodes"]) - 1


def test_docs_and_schema_are_served_locally(client: httpx.Client) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/api/runs" in docs.text
    assert "cdn" not in docs.text.lower() and "https://" not in docs.text
    assert "/api/runs" in client.get("/openapi.json").json()["paths"]
    assert client.get("/redoc").status_code == 404
    assert "default-src 'self'" in docs.headers["content-security-policy"]
