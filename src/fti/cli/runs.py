"""``fti runs``: list, show, compare and delete runs, and mark killed ones failed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from fti.cli.console import out
from fti.cli.options import ProjectOption
from fti.errors import ValidationError
from fti.project import connect

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["app"]

app = typer.Typer(help="List, show and compare runs.", no_args_is_help=True)

#: the fewest characters of a run id shown; more when the listed ids need them to stay unique
_SHORT_ID = 8
_ATTRIBUTES = {
    "run_id": "run_id",
    "experiment": "experiment",
    "name": "name",
    "status": "status",
    "started": "start_time",
    "ended": "end_time",
    "parent": "parent_run_id",
}


@app.command("list")
def list_runs(
    experiment: Annotated[str | None, typer.Option("--experiment", "-e", help="Only this experiment.")] = None,
    filter_text: Annotated[
        str | None, typer.Option("--filter", "-f", help="For example: \"metrics.f1 > 0.8 and params.model = 'xgb'\".")
    ] = None,
    order_by: Annotated[
        list[str] | None, typer.Option("--order-by", "-o", help="For example: -metrics.f1 (repeatable).")
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            "-c",
            help="Comma-separated columns, for example: name,status,f1,params.model. Run attributes: run_id, "
            "experiment, name, status, started, ended, parent; a bare name is a metric, else a param.",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many runs.")] = 50,
    project: ProjectOption = Path(),
) -> None:
    """List runs, newest first unless ordered.

    By default: a short run id (any unique prefix is accepted where a run id is asked for), the experiment when
    several are listed, name, status, start time and the key metric: the metric most of the runs have, test
    metrics first. Values too long for the terminal are cut, never the column names.
    """
    with connect(project) as opened:
        frame = opened.runs(experiment, filter=filter_text, order_by=order_by, limit=limit)
    if frame.empty:
        out.print("No runs match.")
        return
    chosen = _chosen_columns(frame, columns) if columns else _default_columns(frame)
    width = _id_width(frame["run_id"])
    cells = [_cell(frame[source], source, width) for _, source in chosen]
    table = Table(title=f"Runs ({len(frame)})", title_justify="left")
    for (header, _), width in zip(chosen, _widths(chosen, cells, out.width), strict=True):
        table.add_column(header, width=width, no_wrap=True, overflow="ellipsis")
    for row in zip(*cells, strict=True):
        table.add_row(*row)
    out.print(table)


def _widths(chosen: list[tuple[str, str]], cells: list[list[str]], total: int) -> list[int]:
    """Column widths that fit ``total`` characters: names and free text give way (cut with an ellipsis),
    never ids, times, statuses, numbers or any header."""
    widths = [
        max(len(header), *(len(value) for value in values)) for (header, _), values in zip(chosen, cells, strict=True)
    ]
    flexible = [
        index
        for index, (_, source) in enumerate(chosen)
        if source in ("name", "experiment") or source.startswith(("params.", "tags."))
    ]
    spare = total - (3 * len(chosen) + 1) - sum(width for index, width in enumerate(widths) if index not in flexible)
    spare -= sum(len(chosen[index][0]) for index in flexible)
    # the columns needing least keep all they need; the rest share what is left
    by_need = sorted(flexible, key=lambda index: widths[index] - len(chosen[index][0]))
    for position, index in enumerate(by_need):
        header = len(chosen[index][0])
        given = min(widths[index] - header, max(spare // (len(by_need) - position), 0))
        widths[index] = header + given
        spare -= given
    return widths


def _default_columns(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """``(header, frame column)``: id, experiment (when several), name, status, start and the key metric."""
    chosen = [("run_id", "run_id")]
    if frame["experiment"].nunique() > 1:
        chosen.append(("experiment", "experiment"))
    chosen += [("name", "name"), ("status", "status"), ("started", "start_time")]
    key = _key_metric(frame)
    if key is not None:
        chosen.append((key.removeprefix("metrics."), key))
    return chosen


def _key_metric(frame: pd.DataFrame) -> str | None:
    """The metric most runs have; among those, test metrics first, then by name."""
    metrics = [column for column in frame.columns if column.startswith("metrics.")]
    if not metrics:
        return None
    present = frame[metrics].notna().sum()
    return min(metrics, key=lambda column: (-int(present[column]), not column.startswith("metrics.test"), column))


def _chosen_columns(frame: pd.DataFrame, text: str) -> list[tuple[str, str]]:
    chosen = []
    for name in (part.strip() for part in text.split(",")):
        if not name:
            continue
        candidates = [_ATTRIBUTES.get(name, name), f"metrics.{name}", f"params.{name}"]
        source = next((item for item in candidates if item in frame.columns), None)
        if source is None:
            known = [*_ATTRIBUTES, *(c for c in frame.columns if c.startswith(("metrics.", "params.", "tags.")))]
            shown = ", ".join(known[:30]) + (", ..." if len(known) > 30 else "")
            raise ValidationError(f"--columns: no column {name!r} in the listed runs. Choose from: {shown}.")
        chosen.append((name, source))
    if not chosen:
        raise ValidationError("--columns is empty: name at least one column, e.g. --columns name,status,f1.")
    return chosen


def _id_width(ids: pd.Series) -> int:
    """The fewest characters (at least ``_SHORT_ID``) that keep every listed id unique."""
    longest = int(ids.str.len().max())
    for width in range(_SHORT_ID, longest):
        if ids.str[:width].nunique() == len(ids):
            return width
    return longest


def _cell(values: pd.Series, source: str, id_width: int) -> list[str]:
    import pandas as pd

    if source in ("run_id", "parent_run_id"):
        return [_text(value)[:id_width] for value in values]
    if source in ("start_time", "end_time"):
        return ["" if pd.isna(value) else f"{value:%Y-%m-%d %H:%M}" for value in values]
    return [_text(value) for value in values]


@app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="The run's id, or any unique prefix of it.")],
    project: ProjectOption = Path(),
) -> None:
    """Show a run: attributes, code version, params, metrics, tags, artifacts, lineage and models."""
    with connect(project) as opened:
        run = opened.get_run(run_id)
        info = run.info
        params, metrics, tags, artifacts = run.params, run.metrics, run.tags, run.artifacts
        lineage = opened.registry.run_lineage(info.id)
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


@app.command("delete")
def delete(
    run_id: Annotated[str, typer.Argument(help="The run's id, or any unique prefix of it.")],
    force: Annotated[bool, typer.Option("--force", help="Also delete the run's nested runs (tuning trials).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    project: ProjectOption = Path(),
) -> None:
    """Delete a run with its params, metrics, tags and files; refused while model versions it logged exist."""
    with connect(project) as opened:
        info = opened.get_run(run_id).info
        if not yes:
            typer.confirm(
                f"Delete run {info.id} ({info.experiment}, {info.name or 'unnamed'}) and its files?", abort=True
            )
        deleted = opened.delete_run(info.id, force=force)
    nested = f" and {len(deleted.run_ids) - 1} nested run(s)" if len(deleted.run_ids) > 1 else ""
    out.print(f"Deleted run {info.id}{nested} ({deleted.files} file(s)).")


@app.command("gc")
def gc(
    grace: Annotated[
        str,
        typer.Option("--grace", help="Keep the files of unfinished registrations newer than this (30s, 10m, 1h)."),
    ] = "10m",
    project: ProjectOption = Path(),
) -> None:
    """Mark failed the runs left running by processes killed on this host (listing runs does it too), then remove
    the files of model registrations that never finished, of runs that ended."""
    from fti.core.durations import parse_duration

    kept = parse_duration(grace, what="--grace")
    with connect(project) as opened:
        killed = opened.fail_killed_runs()
        collected = opened.collect_unregistered_files(kept)
    if killed:
        out.print(f"Marked {len(killed)} killed run(s) failed: {', '.join(killed)}.")
    else:
        out.print("No killed runs: every running run's process on this host still lives.")
    if collected.folders:
        out.print(
            f"Removed {collected.files} file(s) of {len(collected.folders)} registration(s) that never finished: "
            f"{', '.join(collected.folders)}."
        )
    else:
        out.print(f"No files of unfinished registrations older than {grace}.")


@app.command("delete-experiment")
def delete_experiment(
    name: Annotated[str, typer.Argument(help="The experiment's name.")],
    force: Annotated[bool, typer.Option("--force", help="Delete its runs (and their nested runs) too.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    project: ProjectOption = Path(),
) -> None:
    """Delete an experiment, with its runs and their files when --force; refused while its runs logged models."""
    with connect(project) as opened:
        if not yes:
            extra = " with its runs and their files" if force else ""
            typer.confirm(f"Delete experiment {name}{extra}?", abort=True)
        deleted = opened.delete_experiment(name, force=force)
    out.print(
        f"Deleted experiment {deleted.name} and {len(deleted.runs.run_ids)} run(s) ({deleted.runs.files} file(s))."
    )


@app.command("compare")
def compare(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids (or unique prefixes).")],
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
