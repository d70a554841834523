"""Data quality of live inputs against the reference: schema, null rates, ranges, unseen categories."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from fti.errors import ValidationError
from fti.monitoring.stats.quality import QualityConfig, check_quality
from fti.monitoring.stats.reference import build_reference


@pytest.fixture
def reference() -> pa.Table:
    rng = np.random.default_rng(1)
    return pa.table(
        {
            "amount": rng.uniform(0.0, 100.0, 1000),
            "city": rng.choice(["paris", "rome", "oslo"], 1000),
            "tier": rng.integers(0, 3, 1000),
            "request_id": np.arange(1000),
        }
    )


def test_clean_traffic_has_no_findings(reference: pa.Table) -> None:
    profile = build_reference(reference, columns=["amount", "city", "tier"])
    report = check_quality(profile, reference.slice(0, 500))
    assert report.findings == () and report.rows == 500


def test_schema_violations(reference: pa.Table) -> None:
    profile = build_reference(reference, columns=["amount", "city", "tier"])
    current = pa.table({"amount": pa.array(["1.0"] * 10), "tier": pa.array([1] * 10), "session": pa.array([0] * 10)})
    report = check_quality(profile, current)
    found = {(finding.column, finding.kind) for finding in report.findings}
    assert found == {("city", "missing_column"), ("session", "extra_column"), ("amount", "wrong_type")}
    messages = {finding.kind: finding.message for finding in report.findings}
    assert messages["missing_column"] == "Column 'city' is missing from the current data: log it as in training."
    assert messages["wrong_type"] == (
        "Column 'amount' is string (string), but training had double (numeric): cast it before logging."
    )
    assert "add it to the reference or to QualityConfig.ignore" in messages["extra_column"]
    ignored = check_quality(profile, current, config=QualityConfig(ignore=("session", "city")))
    assert {finding.kind for finding in ignored.findings} == {"wrong_type"}


def test_null_rates_above_training(reference: pa.Table) -> None:
    profile = build_reference(reference, columns=["amount", "city"])
    amount = np.random.default_rng(2).uniform(0, 100, 100)
    amount[:20] = np.nan
    city = pa.array(["paris"] * 97 + [None] * 3)
    report = check_quality(profile, pa.table({"amount": amount, "city": city}))
    assert [(f.column, f.kind, f.count, f.rate) for f in report.findings] == [("amount", "null_rate", 20, 0.2)]
    assert report.findings[0].message.startswith("Column 'amount' is null in 20.0% of rows (training: 0.0%)")


def test_out_of_range_values(reference: pa.Table) -> None:
    profile = build_reference(reference, columns=["amount"])
    current = pa.table({"amount": [-5.0, 50.0, 50.0, 150.0, 200.0]})
    (finding,) = check_quality(profile, current).findings
    assert (finding.kind, finding.count, finding.rate) == ("out_of_range", 3, 0.6)
    assert "(1 below, 2 above; seen -5 to 200)" in finding.message
    tolerant = check_quality(profile, current, config=QualityConfig(out_of_range_rate=0.6))
    assert tolerant.findings == ()


def test_unseen_categories(reference: pa.Table) -> None:
    profile = build_reference(reference, columns=["city", "tier"])
    current = pa.table({"city": ["paris", "kyiv", "kyiv", "lima"], "tier": [0, 1, 2, 7]})
    report = check_quality(profile, current)
    found = {finding.column: finding for finding in report.findings}
    assert found["city"].count == 3 and found["city"].rate == 0.75
    assert "never seen in training ('kyiv', 'lima')" in found["city"].message
    assert found["tier"].count == 1 and "('7')" in found["tier"].message
    # a reference that kept only its top values cannot tell what is unseen
    partial = build_reference(reference, columns=["city"], top_k=2)
    assert check_quality(partial, current.select(["city"])).findings == ()


def test_report_to_json(reference: pa.Table) -> None:
    profile = build_reference(reference, columns=["amount"])
    report = check_quality(profile, pa.table({"amount": [500.0]}))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["rows"] == 1 and data["findings"][0]["kind"] == "out_of_range"
    assert report.count("out_of_range") == 1 and report.count("null_rate") == 0 and report.count() == 1


def test_config_errors() -> None:
    with pytest.raises(ValidationError, match=r"QualityConfig.null_rate_tolerance must be a share in \[0, 1\], got 2"):
        QualityConfig(null_rate_tolerance=2)
