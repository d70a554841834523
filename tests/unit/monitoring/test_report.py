"""The HTML report is one self-contained page with every chart inline, drawn by the template the dashboard shows;
the JSON carries the same content, and says what kind of score each feature has."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import numpy as np
import pyarrow as pa

from fti.monitoring.report import render_body, render_html, report_to_dict, restore
from fti.monitoring.stats.ab import compare_variants
from fti.monitoring.stats.drift import DriftConfig, detect_drift
from fti.monitoring.stats.quality import check_quality
from fti.monitoring.stats.reference import build_reference
from fti.monitoring.stats.windows import drift_over_time

from .traffic import FEATURES, traffic

NOW = datetime(2026, 3, 1, tzinfo=UTC)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _inputs() -> dict[str, object]:
    reference = build_reference(traffic(3000, 1))
    current = traffic(4000, 2, shift=frozenset({"amount", "city"}))
    times = [NOW + timedelta(seconds=3.6 * index) for index in range(4000)]  # four hours
    logged = current.append_column("ts", pa.array(times, pa.timestamp("us", tz="UTC")))
    rng = np.random.default_rng(0)
    return {
        "drift": detect_drift(reference, current),
        "over_time": drift_over_time(
            reference, logged, every=timedelta(hours=1), timestamp="ts", columns=list(FEATURES)
        ),
        "quality": check_quality(reference, logged),
        "decisions": [compare_variants(rng.random(900) < 0.5, rng.random(900) < 0.6, names=("v1", "v2"))],
        "title": "fraud <monitor>",
        "generated_at": NOW,
    }


def test_page_is_self_contained_with_every_section() -> None:
    page = render_html(**_inputs())  # type: ignore[arg-type]
    parser = _Tags()
    parser.feed(page)
    tags = [tag for tag, _ in parser.tags]
    assert "script" not in tags and "link" not in tags and "img" not in tags
    assert not re.search(r"(src|href)=", page)
    assert tags.count("svg") >= 1 + len(FEATURES) * 2  # score bars + distributions + the time chart
    for heading in ("Drift per feature", "Reference vs current", "Drift over time", "Data quality", "A/B analysis"):
        assert f"<h2>{heading}" in page
    assert "<title>fraud &lt;monitor&gt;</title>" in page  # text is escaped
    assert "2026-03-01 03:00:00 UTC" in page  # the last hourly window
    assert "Column &#39;ts&#39; is not in the reference" in page
    assert page.count("<style>") == 1 and "svg.chart .reference" in page  # its own style sheet, inline


def test_minimal_page_and_json() -> None:
    inputs = _inputs()
    page = render_html(inputs["drift"], generated_at=NOW)  # type: ignore[arg-type]
    assert "Drift over time" not in page and "A/B analysis" not in page
    data = json.loads(json.dumps(report_to_dict(**inputs)))  # type: ignore[arg-type]
    assert data["drift"]["drifted_features"] == ["amount", "city"]
    assert len(data["over_time"]) == 4 and data["over_time"][0]["window"]["rows"] == 1000
    assert data["quality"]["findings"][0]["kind"] == "extra_column"
    assert data["ab"][0]["treatment"] == "v2" and data["generated_at"] == NOW.isoformat()


def test_the_data_says_whether_a_score_is_a_p_value_and_the_charts_read_it() -> None:
    data = report_to_dict(**_inputs())  # type: ignore[arg-type]
    kinds = {feature["method"]: feature["method_kind"] for feature in data["drift"]["features"].values()}
    assert kinds == {"wasserstein": "distance", "jensenshannon": "distance"}  # a reference of 3,000 rows
    assert "p = " not in render_body(data)
    tests = report_to_dict(detect_drift(build_reference(traffic(3000, 1)), traffic(4000, 2), config=_tests()))
    assert {feature["method_kind"] for feature in tests["drift"]["features"].values()} == {"test"}
    body = render_body(tests)
    assert "p = " in body and "(test)" in body


def test_a_report_stored_before_method_kinds_reads_back_with_them() -> None:
    data = json.loads(json.dumps(report_to_dict(**_inputs())))  # type: ignore[arg-type]
    for feature in [
        *data["drift"]["features"].values(),
        *(f for r in data["over_time"] for f in r["features"].values()),
    ]:
        del feature["method_kind"]
    restored = restore(data)
    assert restored == json.loads(json.dumps(report_to_dict(**_inputs())))  # type: ignore[arg-type]


def _tests() -> DriftConfig:
    return DriftConfig(numeric_method="ks", categorical_method="chisquare")
