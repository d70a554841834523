"""``fti monitor check``, ``fti monitor report`` and ``fti ab report`` on a real project's inference log."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

import fti
from tests.e2e.conftest import RunCli
from tests.integration.monitoring_loop.loop_data import DEPLOYMENT, MODEL, build_project, log_rows, traffic, true_labels


def _logged_project(folder: Path) -> None:
    with fti.connect(folder) as project:
        champion = build_project(project)
        inputs = traffic(400, seed=61, shift={"x4": 2.0})
        truth = true_labels(inputs, seed=61)
        ids = log_rows(
            project, champion, inputs, prefix="c1", predictions=np.where(np.arange(400) % 3 == 0, 1 - truth, truth)
        )
        with project.start_run(MODEL) as run:
            from sklearn.linear_model import LogisticRegression

            challenger = run.log_model(LogisticRegression().fit(inputs, truth), MODEL)
        more = traffic(400, seed=62)
        more_truth = true_labels(more, seed=62)
        ids += log_rows(project, challenger, more, prefix="c2", predictions=more_truth)
        project.log_labels(DEPLOYMENT, {"request_id": ids, "label": [*truth, *more_truth]})


def test_monitor_check_report_and_ab_report(project_dir: Path, run_cli: RunCli, tmp_path: Path) -> None:
    _logged_project(project_dir)
    rules = tmp_path / "rules.yaml"
    marker = tmp_path / "alert.json"
    rules.write_text(
        yaml.safe_dump(
            {
                "rules": [{"type": "feature_drift", "feature": "x4"}],
                "actions": [{"type": "shell", "command": f"cat > {marker}"}],
            }
        )
    )

    checked = run_cli("monitor", "check", DEPLOYMENT, "--window", "800", "--rules", str(rules), cwd=project_dir)
    assert checked.returncode == 0, checked.stderr
    assert "x4" in checked.stdout and "features drifted" in checked.stdout
    assert "Alert (warning) feature_drift" in checked.stdout
    assert json.loads(marker.read_text())["subject"] == "x4"
    failing = run_cli("monitor", "check", DEPLOYMENT, "--window", "800", "--fail-on-drift", cwd=project_dir)
    assert failing.returncode == 3 and "features drifted" in failing.stdout  # a scheduled check alerts on it

    html, report_json = tmp_path / "out.html", tmp_path / "out.json"
    written = run_cli(
        "monitor", "report", DEPLOYMENT, "--html", str(html), "--json", str(report_json), "--save", cwd=project_dir
    )
    assert written.returncode == 0, written.stderr
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert json.loads(report_json.read_text())["deployment"] == DEPLOYMENT
    assert "Stored the html report as artifact monitoring/reports/scoring/" in written.stdout

    analysed = run_cli("ab", "report", DEPLOYMENT, "--metric", "accuracy", "--promote", cwd=project_dir)
    assert analysed.returncode == 0, analysed.stderr
    assert f"Promoted {MODEL}:2 to champion." in analysed.stdout
    with fti.connect(project_dir) as project:
        assert project.get_model(f"{MODEL}@champion").version == 2


def test_monitor_errors_are_one_line(project_dir: Path, run_cli: RunCli) -> None:
    (project_dir / "fti.yaml").write_text("project: monitor_errors\n")
    missing = run_cli("monitor", "check", "ghost", "--window", "1h", cwd=project_dir)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        "Error: Deployment 'ghost' has no logged predictions in the window: send traffic to it or widen the window "
        "(--window / window=)."
    ]
    bad = run_cli("monitor", "check", "ghost", "--window", "soon", cwd=project_dir)
    assert bad.returncode == 2 and "The window 'soon' is not a duration" in bad.stderr
    for command in (["monitor", "check"], ["monitor", "report"], ["ab", "report"]):
        helped = run_cli(*command, "--help", cwd=project_dir)
        assert helped.returncode == 0 and "DEPLOYMENT" in helped.stdout
