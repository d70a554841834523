"""The demo's closing summary, read back from the catalog (never from the pipelines' own variables)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    import fti

__all__ = ["summary_tables"]


def summary_tables(project: fti.Project) -> list[Table]:
    """Feature groups, training datasets, runs and model versions as the catalog records them."""
    return [
        _feature_groups(project),
        _training_datasets(project),
        _runs(project),
        _models(project),
        _deployments(project),
    ]


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


def _deployments(project: fti.Project) -> Table:
    table = Table("deployment", "variant", "share", "sticky by", title="Deployments", title_justify="left")
    for deployment in project.deployments():
        for variant in deployment.variants:
            keys = ", ".join(deployment.entity_keys)
            table.add_row(deployment.name, variant.reference, f"{variant.share:.0%}", keys)
    return table
