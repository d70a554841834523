"""The demo's closing summary, read back from the catalog (never from the pipelines' own variables)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.table import Table

from fti.demo.monitoring_pipeline import REPORTS_PREFIX
from fti.demo.pipelines import SETTINGS_KEY
from fti.demo.training_pipeline import FEATURE_VIEW, MODEL_NAME

if TYPE_CHECKING:
    import fti

__all__ = ["report_files", "summary_tables"]


def summary_tables(project: fti.Project) -> list[Table]:
    """Feature groups, training datasets, runs, model versions, deployments, drift findings, the A/B test,
    the champion's history and the pipeline runs, as the catalog and the stored reports record them."""
    return [
        _feature_groups(project),
        _training_datasets(project),
        _runs(project),
        _models(project),
        _season(project),
        _deployments(project),
        _drift(project),
        _ab(project),
        _champion_history(project),
        _pipeline_runs(project),
    ]


def _pipeline_runs(project: fti.Project) -> Table:
    table = Table(
        "pipeline",
        "started by",
        "state",
        "seconds",
        "wrote",
        title="Pipeline runs (the scheduler's history)",
        title_justify="left",
    )
    for run in reversed(project.pipeline_runs(limit=100)):
        lineage = project.orchestration.lineage(run.id)
        why = lineage.trigger_event.describe() if lineage.trigger_event else run.trigger
        wrote = Counter(event.kind.replace("_", " ") for event in lineage.produced)
        duration = run.duration
        table.add_row(
            run.pipeline,
            why,
            run.state.value,
            "" if duration is None else f"{duration.total_seconds():.1f}",
            ", ".join(f"{count} {kind}" for kind, count in sorted(wrote.items())),
        )
    return table


def _feature_groups(project: fti.Project) -> Table:
    table = Table("feature group", "version", "commits", "rows", "online", title="Feature store", title_justify="left")
    for group in project.feature_groups():
        commits = group.commits()
        rows = sum(commit.rows_inserted for commit in commits)
        table.add_row(group.name, str(group.version), str(len(commits)), f"{rows:,}", "yes" if group.online else "")
    return table


def _training_datasets(project: fti.Project) -> Table:
    table = Table("feature view", "training dataset", "splits", "rows", title="Training data", title_justify="left")
    for view in project.feature_views():
        for dataset in view.training_datasets():
            split = ", ".join(f"{name} {share:.0%}" for name, share in (dataset.record.split or {}).items())
            rows = dataset.statistics.get("rows", dataset.statistics.get("count", ""))
            table.add_row(f"{view.name} v{view.version}", f"v{dataset.version}", split, f"{rows:,}" if rows else "")
    return table


def _runs(project: fti.Project) -> Table:
    runs = project.runs()
    table = Table("experiment", "runs", "finished", "failed", title="Experiments", title_justify="left")
    if len(runs):
        for experiment, group in runs.groupby("experiment"):
            statuses = group["status"].value_counts()
            table.add_row(
                str(experiment), str(len(group)), str(statuses.get("finished", 0)), str(statuses.get("failed", 0))
            )
    return table


def _models(project: fti.Project) -> Table:
    table = Table("model version", "flavor", "test ROC-AUC", "aliases", title="Model registry", title_justify="left")
    for model in project.models():
        for version in project.registry.list_versions(model.name):
            auc = version.metrics.get("test_roc_auc")
            table.add_row(
                f"{version.name}:{version.version}",
                version.flavor,
                "" if auc is None else f"{auc:.4f}",
                ", ".join(version.aliases),
            )
    return table


def _season(project: fti.Project) -> Table:
    """Every model version scored on the same rows: the A/B day's labelled requests, in the travel season, whose
    labels came after every version was trained. Each version's own test split is different (the first versions'
    is the week before the season, a retrained one's is drawn from every labelled day), so their offline test
    metrics cannot be compared; these can."""
    from sklearn.metrics import roc_auc_score

    table = Table(
        "version",
        "own test F1",
        "own test ROC-AUC",
        "false alarms",
        "fraud caught",
        "ROC-AUC",
        title=f"Every {MODEL_NAME} version on the A/B day's labelled requests (travel season, unseen by all)",
        title_justify="left",
    )
    has_settings = project.artifacts.exists(SETTINGS_KEY)
    settings: dict[str, Any] = project.artifacts.get_json(SETTINGS_KEY) if has_settings else {}
    if "season_start" not in settings or MODEL_NAME not in {model.name for model in project.models()}:
        return table
    view = project.get_feature_view(FEATURE_VIEW)
    ab_day = datetime.fromisoformat(settings["season_start"]) + timedelta(days=1)
    rows = view.get_batch_data(start=ab_day).dropna(subset=view.labels)
    if rows.empty:
        return table
    is_fraud = rows[view.labels[0]].astype(bool).to_numpy()
    frauds, legit = int(is_fraud.sum()), int((~is_fraud).sum())
    for version in project.registry.list_versions(MODEL_NAME):
        inputs = rows[[column.name for column in version.signature.inputs]] if version.signature else rows
        flagged = np.asarray(version.predict(inputs)).astype(bool)
        auc = roc_auc_score(is_fraud, version.predict_proba(inputs)[:, -1]) if 0 < frauds < len(rows) else None
        table.add_row(
            f"v{version.version}",
            *(_number(version.metrics.get(key)) for key in ("test_f1", "test_roc_auc")),
            f"{int((flagged & ~is_fraud).sum())} of {legit:,}",
            f"{int((flagged & is_fraud).sum())} of {frauds}",
            _number(auc),
        )
    table.caption = (
        "Each version's own test split is the newest 15% of its training data by time (the first versions': the "
        "days before the live traffic; a retrained one's: the live days labelled since, the season's first "
        "included), so their own test metrics are measured on different days and a handful of fraud cases moves "
        "F1 a lot: the other columns score every version on the same rows, labelled after all were trained. "
        "False alarms on the season's legitimate spending are what the drift costs the first champion."
    )
    table.caption_justify = "left"
    return table


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _deployments(project: fti.Project) -> Table:
    table = Table("deployment", "variant", "share", "sticky by", title="Deployments", title_justify="left")
    for deployment in project.deployments():
        for variant in deployment.variants:
            keys = ", ".join(deployment.entity_keys)
            table.add_row(deployment.name, variant.reference, f"{variant.share:.0%}", keys)
    return table


def _stored_reports(project: fti.Project) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for record in project.artifacts.list(f"{REPORTS_PREFIX}/"):
        window, _, file = record.key.removeprefix(f"{REPORTS_PREFIX}/").partition("/")
        if file == "report.json" and window != "ab":
            found.append((window, project.artifacts.get_json(record.key)))
    return sorted(found, key=lambda item: str(item[1].get("window", {}).get("start")))


def _drift(project: fti.Project) -> Table:
    table = Table(
        "window", "requests at", "requests", "drifted", "alerts", title="Drift findings", title_justify="left"
    )
    drifted_by_window = []
    for window, content in _stored_reports(project):
        bounds = content.get("window", {})
        drifted = content["drift"]["drifted_features"]
        table.add_row(
            window,
            f"{_time(bounds.get('start'))} - {_time(bounds.get('end'))}",
            f"{bounds.get('rows', 0):,}",
            f"{len(drifted)} of {len(content['drift']['features'])} features",
            str(len(content.get("alerts", []))),
        )
        if drifted:
            drifted_by_window.append(f"{window}: {', '.join(drifted)}")
    table.caption = "\n".join(drifted_by_window) or None
    table.caption_justify = "left"
    return table


_AB_CAPTIONS = {
    "accuracy": "Accuracy on each version's labelled requests: with fraud this rare, it mostly counts false alarms "
    "on legitimate spending (see every version on the A/B day above).",
    "average_precision": "Average precision of each version's fraud scores on its labelled requests (the share of "
    "fraud among the alarms, averaged over every threshold: accuracy would mostly count false alarms, fraud being "
    "rare); p-value of a bootstrap over requests.",
    "roc_auc": "ROC-AUC of each version's fraud scores on its labelled requests; p-value of a bootstrap over requests.",
}


def _ab(project: fti.Project) -> Table:
    key = f"{REPORTS_PREFIX}/ab/report.json"
    content = project.artifacts.get_json(key) if project.artifacts.exists(key) else {}
    metric = str(content.get("metric", "accuracy"))
    table = Table(
        "model version",
        "labelled requests",
        metric.replace("_", " "),
        "p-value",
        "",
        title="A/B test",
        title_justify="left",
    )
    if not content:
        return table
    if metric in _AB_CAPTIONS:
        table.caption = _AB_CAPTIONS[metric]
        table.caption_justify = "left"
    p_values = {decision["treatment"]: decision["p_value"] for decision in content.get("decisions", [])}
    for variant in content["variants"]:
        model = variant["model"]
        verdict = "control" if model == content["control"] else ""
        verdict = "winner, promoted" if model == content.get("promoted") else verdict
        p_value = p_values.get(model)
        table.add_row(
            model,
            f"{variant['rows']:,}",
            f"{variant['value']:.4f}",
            "" if p_value is None else f"{p_value:.2g}",
            verdict,
        )
    return table


def _champion_history(project: fti.Project) -> Table:
    table = Table("when", "champion", "reason", title="Champion history", title_justify="left")
    if MODEL_NAME not in {model.name for model in project.models()}:
        return table
    for move in project.registry.alias_history(MODEL_NAME, "champion"):
        before = "" if move.from_version is None else f"v{move.from_version} -> "
        table.add_row(f"{move.changed_at:%H:%M:%S}", f"{before}v{move.to_version}", move.reason or "")
    return table


def report_files(folder: Path) -> list[Path]:
    """The monitoring reports the demo wrote to ``folder``'s ``reports/`` (HTML pages and JSON)."""
    return sorted((folder / "reports").glob("*.*"))


def _time(value: str | None) -> str:
    return "" if not value else value[11:19]
