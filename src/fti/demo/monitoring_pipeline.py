"""Monitoring of the fraud demo's deployment: drift per window, alerts, retraining, labels and the A/B test.

- :func:`check_window` checks one window of the request log against the champion's training data, runs
  the alert rules (and their actions) and saves the JSON and HTML reports, as artifacts and as files;
- :func:`log_delayed_labels` records the ground truth of scored transactions when it arrives: by request
  id in the request log (for performance and the A/B analysis) and as a ``fraud_labels`` commit (for
  the next training dataset);
- :func:`ab_test` compares the champion with the challenger on labelled traffic (average precision of the
  logged fraud scores) and promotes the challenger when it wins significantly.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from fti.demo.feature_pipeline import insert_labels
from fti.errors import BackendError
from fti.monitoring.alerts import DriftShareRule, FeatureDriftRule
from fti.monitoring.stats.drift import DriftConfig

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    import fti
    from fti.monitoring import ABReport, MonitorResult
    from fti.monitoring.actions import AlertAction
    from fti.monitoring.alerts import Alert, AlertRule

__all__ = [
    "AB_METRIC",
    "DEPLOYMENT",
    "DRIFT_CONFIG",
    "DRIFT_RULES",
    "REPORTS_PREFIX",
    "WindowCheck",
    "ab_test",
    "check_window",
    "log_delayed_labels",
    "wait_for_log",
]

DEPLOYMENT = "fraud"
#: what the A/B test compares: fits a rare positive class, from the scores the request log keeps
AB_METRIC = "average_precision"
REPORTS_PREFIX = f"monitoring/reports/{DEPLOYMENT}"

#: a window of a few hundred requests is noisy: on the same data the scores stay near 0.1, so drift is
#: called at 0.2 (Wasserstein distance in reference standard deviations; Jensen-Shannon for categories)
DRIFT_CONFIG = DriftConfig(threshold=0.2)

#: a travel season moves cards away from home: alert on distance and amount drift, or on half the features
DRIFT_RULES: tuple[AlertRule, ...] = (
    FeatureDriftRule("km_from_home"),
    FeatureDriftRule("amount"),
    DriftShareRule(0.5),
)


@dataclass(frozen=True, slots=True)
class WindowCheck:
    """One checked window: the monitoring result (with its alerts) and where its reports were saved."""

    name: str
    result: MonitorResult
    alerts: list[Alert]
    files: dict[str, Path]


def wait_for_log(project: fti.Project, rows: int, timeout: float = 30.0) -> None:
    """Wait until the request log holds ``rows`` predictions of the deployment (the server flushes it in batches)."""
    deadline = time.monotonic() + timeout
    logged = 0
    while time.monotonic() < deadline:
        span = project.inference_log.spans().get(DEPLOYMENT)
        logged = 0 if span is None else span.rows
        if logged >= rows:
            return
        time.sleep(0.25)
    raise BackendError(
        f"The request log of deployment '{DEPLOYMENT}' holds {logged} of {rows} predictions after {timeout:.0f} s: "
        "is the model server still running?"
    )


def check_window(
    project: fti.Project,
    name: str,
    start: datetime,
    end: datetime,
    *,
    reports: Path,
    actions: tuple[AlertAction, ...] = (),
) -> WindowCheck:
    """Check the request log between ``start`` and ``end``, run the alert rules and save the reports.

    Args:
        project: the demo project.
        name: the window's name, used for the report files and artifacts (``clean``, ``travel-season``).
        start: the window's first request.
        end: the end of the window (exclusive).
        reports: the folder the JSON and HTML files are written to.
        actions: run when a rule fires (a retraining action runs once).
    """
    result = project.monitor(DEPLOYMENT, start=start, end=end, config=DRIFT_CONFIG)
    fired = project.check_alerts(DEPLOYMENT, list(DRIFT_RULES), actions, result=result)
    result = replace(result, alerts=tuple(fired))
    result.save(prefix=f"{REPORTS_PREFIX}/{name}")
    reports.mkdir(parents=True, exist_ok=True)
    files = {"json": reports / f"{name}.json", "html": reports / f"{name}.html"}
    files["json"].write_text(json.dumps(result.to_dict(), indent=1), encoding="utf-8")
    files["html"].write_text(result.to_html(), encoding="utf-8")
    return WindowCheck(name, result, fired, files)


def log_delayed_labels(project: fti.Project, served: pd.DataFrame, transactions: pd.DataFrame) -> int:
    """The fraud labels of the served transactions arrive: in the request log and in ``fraud_labels``."""
    labelled = transactions[transactions["tx_id"].isin(served["tx_id"])]
    truth = served[["request_id", "tx_id"]].merge(labelled[["tx_id", "is_fraud"]], on="tx_id")
    project.log_labels(DEPLOYMENT, pd.DataFrame({"request_id": truth["request_id"], "label": truth["is_fraud"]}))
    return insert_labels(project, labelled)


def ab_test(project: fti.Project, *, reports: Path) -> ABReport:
    """Champion against challenger on labelled traffic: the challenger is promoted if its average precision is
    significantly higher (bootstrap over requests at alpha 0.05).

    Fraud is rare: accuracy would mostly count false alarms, and a model that flags nothing would score 99%.
    Average precision ranks each variant's requests by the fraud score the request log keeps and averages the
    share of fraud among the alarms over every threshold, so it rewards catching fraud without false alarms."""
    report = project.ab_report(DEPLOYMENT, metric=AB_METRIC, promote=True)
    content: dict[str, Any] = report.to_dict()
    project.artifacts.put_json(f"{REPORTS_PREFIX}/ab/report.json", content)
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "ab.json").write_text(json.dumps(content, indent=1), encoding="utf-8")
    return report
