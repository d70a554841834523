"""Alerts from Python rules or a YAML file, firing a webhook to a real local HTTP server and a shell command."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

import fti
from fti.errors import ValidationError
from fti.monitoring import DriftShareRule, FeatureDriftRule, ShellAction, WebhookAction, load_alerts
from tests.integration.monitoring_loop.loop_data import DEPLOYMENT, build_project, log_rows, traffic


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alerts", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_drift_fires_a_webhook_and_a_shell_command(
    project: fti.Project, webhook: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    url, received = webhook
    champion = build_project(project)
    log_rows(project, champion, traffic(500, seed=7, shift={"x2": 1.5, "x5": 1.5}))
    written = tmp_path / "alert.json"
    shell = ShellAction([sys.executable, "-c", f"import sys; open({str(written)!r}, 'w').write(sys.stdin.read())"])

    fired = project.check_alerts(
        DEPLOYMENT, [FeatureDriftRule("x2"), DriftShareRule(0.9)], [WebhookAction(url), shell], window=500
    )

    assert [(alert.rule, alert.subject) for alert in fired] == [("feature_drift", "x2")]
    assert [item["subject"] for item in received] == ["x2"]
    assert json.loads(written.read_text())["rule"] == "feature_drift"


def test_rules_and_actions_from_yaml(
    project: fti.Project, webhook: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    url, received = webhook
    champion = build_project(project)
    log_rows(project, champion, traffic(500, seed=8, shift={"x1": 2.0}))
    rules = tmp_path / "rules.yaml"
    marker = tmp_path / "fired.txt"
    rules.write_text(
        yaml.safe_dump(
            {
                "rules": [{"type": "feature_drift", "feature": "x1"}, {"type": "quality", "min_count": 1000}],
                "actions": [
                    {"type": "log"},
                    {"type": "webhook", "url": url},
                    {"type": "shell", "command": f"cat > {marker}"},
                ],
            }
        )
    )

    fired = project.check_alerts(DEPLOYMENT, rules, window=500)

    assert [alert.subject for alert in fired] == ["x1"]
    assert len(received) == 1 and json.loads(marker.read_text())["subject"] == "x1"


def test_bad_rule_files_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {type: sideways}\n")
    with pytest.raises(ValidationError, match="Alert rule type 'sideways' is unknown"):
        load_alerts(bad)
    bad.write_text("rules: []\nactions:\n  - {type: pager}\n")
    with pytest.raises(ValidationError, match=r"actions\[0\] has type 'pager': use log, webhook, shell or retrain"):
        load_alerts(bad)
    bad.write_text("rules: []\nactions:\n  - {type: retrain, pipeline: 'x:y'}\n")
    with pytest.raises(ValidationError, match="a retrain action needs a project"):
        load_alerts(bad)
    bad.write_text("alerts: []\n")
    with pytest.raises(ValidationError, match="must be a mapping with a 'rules' list"):
        load_alerts(bad)
