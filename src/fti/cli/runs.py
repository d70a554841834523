"""``fti runs``: list, show and compare runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fti.cli.console import out
from fti.cli.options import ProjectOption
from fti.project import connect

__all__ = ["app"]

app = typer.Typer(help="List, show and compare runs.", no_args_is_help=True)

_MAX_VALUE_COLUMNS = 8


@app.command("list")
def list_runs(
    experiment: Annotated[str | None, typer.Option("--experiment", "-e", help="Only this experiment.")] = None,
    filter_text: Annotated[
        str | None, typer.Option("--filter", "-f", help="For example: \"metrics.f1 > 0.8 and params.model = 'xgb'\".")
    ] = None,
    order_by: Annotated[
        list[str] | None, typer.Option("--order-by", "-o", help="For example: -metrics.f1 (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many runs.")] = 50,
    project: ProjectOption = Path(),
) -> None:
    """List runs, newest first unless ordered, with their latest metrics."""
    with connect(project) as opened:
        frame = opened.runs(experiment, filter=filter_text, order_by=order_by, limit=limit)
    if frame.empty:
        out.print("No runs match.")
        return
    metrics = [column for column in frame.columns if column.startswith("metrics.")][:_MAX_VALUE_COLUMNS]
    table = Table(title=f"Runs ({len(frame)})")
    table.add_column("run_id", no_wrap=True)
    for column in ("experiment", "name", "status", "started", *metrics):
        table.add_column(column)
    for values in frame.to_dict("records"):
        table.add_row(
            str(values["run_id"]),
            str(values["experiment"]),
            _text(values["name"]),
            str(values["status"]),
            f"{values['start_time']:%Y-%m-%d %H:%M:%S}",
            *(_text(values[column]) for column in metrics),
        )
    out.print(table)


@app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    project: ProjectOption = Path(),
) -> None:
    """Show a run: attributes, code version, params, metrics, tags, artifacts, lineage and models."""
    with connect(project) as opened:
        run = opened.get_run(run_id)
        info = run.info
        params, metrics, tags, artifacts = run.params, run.metrics, run.tags, run.artifacts
        lineage = opened.registry.run_lineage(run_id)
    attributes = Table("attribute", "value", title=f"Run {info.id}", title_justify="left")
    rows: list[tuple[str, Any]] = [
        ("experiment", info.experiment),
        ("name", info.name),
        ("status", info.status.value),
        ("error", info.error),
        ("started", info.start_time),
        ("ended", info.end_time),
        ("parent run", info.parent_run_id),
        ("nested runs", ", ".join(lineage.child_run_ids)),
        ("git commit", info.code.git_commit),
        ("uncommitted changes", info.code.is_dirty),
        ("entry point", info.code.entry_point),
        ("python", info.python_version),
        ("packages", len(info.packages)),
        ("model versions", ", ".join(str(item) for item in lineage.model_versions)),
    ]
    if lineage.training_data is not None:
        data = lineage.training_data
        rows.append(
            (
                "training data",
                f"feature view {data.feature_view_name} v{data.feature_view_version}, "
                f"training dataset v{data.training_dataset_version}",
            )
        )
        rows.extend(
            (f"  feature group {item.name} v{item.version}", f"commit {item.commit}")
            for item in data.feature_group_commits
        )
    for name, value in rows:
        attributes.add_row(name, _text(value))
    out.print(attributes)
    for title, values in (("Params", params), ("Metrics (latest)", metrics), ("Tags", tags), ("Artifacts", artifacts)):
        if values:
            table = Table("key", "value", title=title, title_justify="left")
            for key, value in sorted(values.items()):
                table.add_row(key, _text(value))
            out.print(table)


@app.command("compare")
def compare(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids.")],
    project: ProjectOption = Path(),
) -> None:
    """Show params and latest metrics of several runs side by side."""
    with connect(project) as opened:
        frame = opened.compare_runs(run_ids)
    table = Table("", *[str(column) for column in frame.columns], title="Run comparison")
    for key, row in frame.iterrows():
        table.add_row(str(key), *(_text(value) for value in row))
    out.print(table)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
