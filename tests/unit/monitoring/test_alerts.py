"""Alert rules fire on the reports they watch; actions log, POST to a real local server, run a command, call."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from fti.errors import BackendError, ValidationError
from fti.monitoring.actions import CallableAction, LogAction, ShellAction, WebhookAction, notify
from fti.monitoring.alerts import (
    Alert,
    DriftShareRule,
    FeatureDriftRule,
    MetricBelowRule,
    QualityRule,
    evaluate_rules,
    rule_from_dict,
    rule_to_dict,
)
from fti.monitoring.stats.drift import detect_drift
from fti.monitoring.stats.performance import PerformancePoint
from fti.monitoring.stats.quality import check_quality
from fti.monitoring.stats.reference import build_reference

from .traffic import traffic

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def drift_report() -> Any:
    return detect_drift(build_reference(traffic(5000, 1)), traffic(5000, 2, shift=frozenset({"amount", "city"})))


def test_drift_rules(drift_report: Any) -> None:
    rules = [
        DriftShareRule(0.25),
        DriftShareRule(0.5),
        FeatureDriftRule("amount"),
        FeatureDriftRule("income"),
        FeatureDriftRule("income", threshold=0.0),
        FeatureDriftRule("city", threshold=0.9),
    ]
    fired = evaluate_rules(rules, drift=drift_report, now=NOW)
    assert [(a.rule, a.subject) for a in fired] == [
        ("drift_share", "dataset"),
        ("feature_drift", "amount"),
        ("feature_drift", "income"),
    ]
    assert fired[0].message == "25% of features drifted (alert at 25%): amount, city."
    assert fired[1].message.startswith("Feature 'amount' drifted: wasserstein score ")


def test_feature_rule_on_a_p_value(drift_report: Any) -> None:
    small = detect_drift(build_reference(traffic(500, 1)), traffic(500, 2, shift=frozenset({"amount"})))
    (alert,) = evaluate_rules([FeatureDriftRule("amount", threshold=0.01)], drift=small, now=NOW)
    assert "ks p-value" in alert.message and alert.value <= 0.01


def test_metric_rule_checks_the_latest_bucket_per_version() -> None:
    hour = timedelta(hours=1)
    points = [
        PerformancePoint("3", NOW, NOW + hour, 100, {"f1": 0.70}),
        PerformancePoint("3", NOW - hour, NOW, 100, {"f1": 0.95}),
        PerformancePoint("4", NOW, NOW + hour, 100, {"f1": 0.90}),
    ]
    fired = evaluate_rules([MetricBelowRule("f1", 0.8)], performance=points, now=NOW)
    assert [(a.subject, a.value) for a in fired] == [("f1@3", 0.70)]
    assert fired[0].message == "Metric 'f1' of model version 3 is 0.7, below 0.8."
    assert evaluate_rules([MetricBelowRule("f1", 0.8, version="4")], performance=points) == []
    assert len(evaluate_rules([MetricBelowRule("mae", 0.8)], performance={"mae": 0.1})) == 1


def test_quality_rule_counts_findings() -> None:
    profile = build_reference(pa.table({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}))
    report = check_quality(profile, pa.table({"x": [9.0, None, None], "y": [1, 2, 3]}))
    assert report.count() == 3
    assert len(evaluate_rules([QualityRule(3)], quality=report)) == 1
    assert evaluate_rules([QualityRule(4)], quality=report) == []
    (alert,) = evaluate_rules([QualityRule(1, kind="extra_column")], quality=report)
    assert alert.message.startswith("1 'extra_column' findings (alert at 1): Column 'y' is not in the reference")


def test_rules_are_data() -> None:
    for rule in [DriftShareRule(0.5), FeatureDriftRule("x", 0.2), MetricBelowRule("f1", 0.8, "3"), QualityRule(2)]:
        assert rule_from_dict(json.loads(json.dumps(rule_to_dict(rule)))) == rule
    assert rule_from_dict({"type": "drift_share", "threshold": 0.3}) == DriftShareRule(0.3)
    with pytest.raises(ValidationError, match=r"Alert rule type 'pager' is unknown. Use one of: drift_share"):
        rule_from_dict({"type": "pager"})
    with pytest.raises(ValidationError, match=r"has bad fields: .*See DriftShareRule"):
        rule_from_dict({"type": "drift_share", "limit": 0.3})


def _alert() -> Alert:
    return Alert("drift_share", "dataset", 0.5, 0.5, "warning", "50% of features drifted", NOW)


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real HTTP server on 127.0.0.1 that records the JSON bodies it receives."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "type": self.headers["Content-Type"], "body": json.loads(body)})
            self.send_response(500 if self.path == "/broken" else 204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_webhook_posts_the_alert_json(webhook: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = webhook
    notify([_alert()], [WebhookAction(f"{url}/hooks/fti", headers={"X-Token": "t"})])
    assert received == [{"path": "/hooks/fti", "type": "application/json", "body": _alert().to_dict()}]


def test_webhook_failures_name_the_url(webhook: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = webhook
    with pytest.raises(BackendError, match=rf"Alert webhook {url}/broken answered HTTP 500"):
        WebhookAction(f"{url}/broken")(_alert())
    with pytest.raises(ValidationError, match=r"Alert webhook URL 'file:///etc/passwd' must start with http://"):
        WebhookAction("file:///etc/passwd")


def test_shell_command_gets_the_alert_on_stdin(tmp_path: Path) -> None:
    target = tmp_path / "alert.json"
    notify([_alert()], [ShellAction(["sh", "-c", f"cat > {target}"])])
    assert json.loads(target.read_text()) == _alert().to_dict()


def test_log_and_callable_actions(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[Alert] = []
    with caplog.at_level(logging.WARNING, logger="fti.monitoring.alerts"):
        notify([_alert()], [LogAction(), CallableAction(seen.append)])
    assert seen == [_alert()]
    assert caplog.records[0].getMessage() == "50% of features drifted"
    assert caplog.records[0].alert == _alert().to_dict()  # type: ignore[attr-defined]


def test_one_failing_action_does_not_stop_the_others(tmp_path: Path) -> None:
    seen: list[Alert] = []
    failing = ShellAction([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"])
    with pytest.raises(
        BackendError,
        match=r"1 alert action\(s\) failed: ShellAction on 'drift_share' \(dataset\): "
        r"Alert command .* exited with 3: boom",
    ):
        notify([_alert()], [failing, CallableAction(seen.append)])
    assert seen == [_alert()]
