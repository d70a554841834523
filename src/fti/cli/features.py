"""``fti features`` and ``fti views``: feature groups and feature views in the catalog."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from fti.cli.console import listing, out
from fti.cli.options import ProjectOption
from fti.core.sources import CommitLineage, describe_cursor
from fti.errors import ValidationError
from fti.project import connect

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["features_app", "lineage_cells", "parse_entity", "parse_ref", "views_app"]

features_app = typer.Typer(help="List and inspect feature groups.", no_args_is_help=True)
views_app = typer.Typer(help="List and inspect feature views.", no_args_is_help=True)

SearchOption = Annotated[
    str | None, typer.Option("--search", "-s", help="Only those whose name, description, features or tags match.")
]
RefArgument = Annotated[str, typer.Argument(help="NAME or NAME:VERSION (default: the latest version).")]


def parse_ref(ref: str) -> tuple[str, int | None]:
    """Split ``name[:version]``; the version must be a whole number."""
    name, sep, version = ref.partition(":")
    if not sep:
        return name, None
    if not version.isdigit():
        raise ValidationError(f"Invalid reference {ref!r}: use NAME or NAME:VERSION, e.g. card_activity:2.")
    return name, int(version)


@features_app.command("list")
def list_features(project: ProjectOption = Path(), search: SearchOption = None) -> None:
    """List feature groups with their keys, features and number of commits."""
    with connect(project) as opened:
        rows = [
            (
                escape(group.name),
                str(group.version),
                escape(", ".join(group.primary_key)),
                escape(group.event_time),
                str(len(group.features)),
                str(len(group.commits())),
                escape(group.description),
            )
            for group in opened.feature_groups(search)
        ]
    headers = ("name", "version", "primary key", "event time", "features", "commits", "description")
    out.print(listing(headers, rows))


TimeOption = Annotated[
    datetime | None, typer.Option(help="Only rows with event time from (--start) or before (--end) this time (UTC).")
]
KeyOption = Annotated[
    list[str],
    typer.Option("--key", "-k", help="An entity key as COLUMN=VALUE, e.g. cc_num=42; repeat for several columns."),
]


@features_app.command("materialize")
def materialize(
    ref: RefArgument, project: ProjectOption = Path(), start: TimeOption = None, end: TimeOption = None
) -> None:
    """Load an online feature group's latest rows per key into the online store (idempotent)."""
    name, version = parse_ref(ref)
    with connect(project) as opened:
        group = opened.get_feature_group(name, version)
        written = group.materialize(start=start, end=end)
        out.print(f"Materialized {written} keys of feature group {group.name} v{group.version}.")


@features_app.command("get")
def get_vector(ref: RefArgument, key: KeyOption, project: ProjectOption = Path()) -> None:
    """Print a feature view's feature vector for one entity, read from the online store."""
    name, version = parse_ref(ref)
    with connect(project) as opened:
        view = opened.get_feature_view(name, version)
        entity = parse_entity(key, view.serving_keys(), f"feature view '{view.name}' v{view.version}")
        vector = view.get_feature_vector(entity)
        table = Table("feature", "value", title=f"Feature vector of {view.name} v{view.version}", title_justify="left")
        for feature, value in vector.items():
            table.add_row(feature, "null" if value is None else escape(str(value)))
        out.print(table)


def parse_entity(pairs: list[str], types: dict[str, pa.DataType], what: str) -> dict[str, Any]:
    """``COLUMN=VALUE`` pairs as an entity, each value parsed to its key column's type."""
    import pyarrow as pa

    entity: dict[str, Any] = {}
    for pair in pairs:
        column, sep, text = pair.partition("=")
        if not sep or not column:
            raise ValidationError(f"Invalid --key {pair!r}: use COLUMN=VALUE, e.g. cc_num=42.")
        if column not in types:
            raise ValidationError(f"--key {column!r} is not a key of {what}; its keys are: {', '.join(types)}.")
        try:
            entity[column] = pa.array([text]).cast(types[column])[0].as_py()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise ValidationError(
                f"--key {column}={text!r} of {what}: expected a value of type {types[column]}."
            ) from None
    return entity


@features_app.command("delete")
def delete_feature_group(
    ref: Annotated[str, typer.Argument(help="NAME:VERSION of the feature group version to delete.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    project: ProjectOption = Path(),
) -> None:
    """Delete a feature group version with its commits and data; refused while a feature view reads it."""
    name, version = parse_ref(ref)
    if version is None:
        raise ValidationError(f"Name the version to delete: '{name}:VERSION', not '{name}' alone.")
    with connect(project) as opened:
        if not yes:
            typer.confirm(f"Delete feature group {name} v{version} with its commits and data?", abort=True)
        deleted = opened.delete_feature_group(name, version)
    online = " and its online rows" if deleted.was_online else ""
    out.print(f"Deleted feature group {deleted.name} v{deleted.version}: {deleted.commits} commit(s){online}.")


@features_app.command("show")
def show_feature_group(ref: RefArgument, project: ProjectOption = Path()) -> None:
    """Show a feature group's schema, commits and the statistics of its latest commit."""
    name, version = parse_ref(ref)
    with connect(project) as opened:
        group = opened.get_feature_group(name, version)
        ttl = str(group.ttl) if group.ttl is not None else "none"
        out.print(f"[bold]Feature group[/] {group.name} v{group.version}  {escape(group.description)}")
        out.print(f"primary key: {', '.join(group.primary_key)}; event time: {group.event_time}; ttl: {ttl}")
        if group.tags:
            out.print(escape("tags: " + ", ".join(f"{key}={value}" for key, value in group.tags.items())))
        for expectation in group.expectations:
            out.print(escape(f"expects {expectation.describe()}"))
        schema = Table("column", "type", title="Schema", title_justify="left")
        for column, arrow_type in group.schema or []:
            schema.add_row(column, escape(arrow_type))
        out.print(schema)
        commits = group.commits()
        history = Table(
            "commit",
            "time",
            "rows inserted",
            "rows replaced",
            "source",
            "read",
            "code",
            title="Commits",
            title_justify="left",
        )
        for commit in commits:
            history.add_row(
                str(commit.commit),
                commit.committed_at.isoformat(),
                str(commit.rows_inserted),
                str(commit.rows_replaced),
                *(escape(text) for text in lineage_cells(commit.lineage)),
            )
        out.print(history)
        cursors = group.source_cursors()
        if cursors:
            sources = Table(
                "source", "kind", "location", "last commit", "cursor", title="Sources", title_justify="left"
            )
            for cursor in cursors:
                shown = describe_cursor(cursor.cursor)
                sources.add_row(
                    escape(cursor.source), cursor.kind, escape(cursor.location), str(cursor.commit), escape(shown)
                )
            out.print(sources)
        if commits:
            out.print(_preview_table(group.head(_PREVIEW_ROWS), f"First {_PREVIEW_ROWS} rows (by event time)"))
            latest = commits[-1].commit
            whole = group.statistics(scope="feature_group")
            if len(commits) > 1:  # with one commit, its rows are the whole group: one table says it all
                out.print(_statistics_table(commits[-1].statistics, f"Statistics of the rows commit {latest} wrote"))
            out.print(_statistics_table(whole, f"Statistics of the feature group at commit {latest}"))


def lineage_cells(lineage: CommitLineage | None) -> tuple[str, str, str]:
    """A commit's source, what it read, and its code version (git commit, ``+dirty``, pipeline or run), as text."""
    if lineage is None:
        return "", "", ""
    source = "in memory" if lineage.source is None else f"{lineage.source.kind} {lineage.source.location}"
    code = lineage.code
    parts = []
    if code is not None and code.git_commit:
        parts.append(code.git_commit[:10] + ("+dirty" if code.is_dirty else ""))
    if lineage.pipeline:
        parts.append(f"pipeline {lineage.pipeline}")
    if lineage.run_id:
        parts.append(f"run {lineage.run_id[:12]}")
    if code is not None and code.entry_point and not lineage.pipeline:
        parts.append(code.entry_point)
    return source, lineage.describe_span(), ", ".join(parts)


_PREVIEW_ROWS = 5


def _preview_table(frame: pd.DataFrame, title: str) -> Table:
    table = Table(*(escape(str(column)) for column in frame.columns), title=title, title_justify="left")
    for row in frame.itertuples(index=False):  # a handful of rows, for the eye
        table.add_row(*(_cell(None if _is_missing(value) else value) for value in row))
    return table


def _is_missing(value: Any) -> bool:
    import pandas as pd

    return value is None or value is pd.NaT or (isinstance(value, float) and value != value)


def _statistics_table(statistics: dict[str, Any], title: str) -> Table:
    table = Table("column", "count", "nulls", "min", "max", "mean", "distinct", title=title, title_justify="left")
    for column, stats in statistics.get("columns", {}).items():
        table.add_row(
            column,
            *(_cell(stats.get(key)) for key in ("count", "nulls", "min", "max", "mean", "distinct")),
        )
    return table


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else escape(str(value))


@views_app.command("list")
def list_views(project: ProjectOption = Path(), search: SearchOption = None) -> None:
    """List feature views with the groups they join and their labels."""
    with connect(project) as opened:
        table = Table("name", "version", "feature groups", "labels", "description")
        for view in opened.feature_views(search):
            groups = ", ".join(f"{part.group.name}:{part.group.version}" for part in view.query.parts)
            table.add_row(view.name, str(view.version), groups, ", ".join(view.labels), escape(view.description))
        out.print(table)


@views_app.command("show")
def show_view(ref: RefArgument, project: ProjectOption = Path()) -> None:
    """Show a feature view's query, labels and training datasets."""
    name, version = parse_ref(ref)
    with connect(project) as opened:
        view = opened.get_feature_view(name, version)
        out.print(f"[bold]Feature view[/] {view.name} v{view.version}  {escape(view.description)}")
        out.print(f"labels: {', '.join(view.labels) or 'none'}")
        query = Table("feature group", "features", "joined on", "prefix", title="Query", title_justify="left")
        for part in view.query.parts:
            query.add_row(
                f"{part.group.name}:{part.group.version}", ", ".join(part.features), ", ".join(part.on), part.prefix
            )
        out.print(query)
        datasets = Table(
            "version", "rows", "split", "sources", "created", title="Training datasets", title_justify="left"
        )
        for dataset in view.training_datasets():
            split = ", ".join(f"{key} {value:g}" for key, value in (dataset.record.split or {}).items()) or "none"
            sources = ", ".join(f"{key}@{commit}" for key, commit in dataset.sources.items())
            datasets.add_row(
                str(dataset.version),
                str(dataset.statistics.get("rows", "")),
                f"{split} ({dataset.record.split_by})",
                sources,
                dataset.record.created_at.isoformat(timespec="seconds"),
            )
        out.print(datasets)


@views_app.command("delete")
def delete_view(
    ref: Annotated[str, typer.Argument(help="NAME:VERSION of the feature view version.")],
    training_dataset: Annotated[
        int | None,
        typer.Option("--training-dataset", "-t", help="Delete only this training dataset version of the view."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Delete the view's training datasets too, even those runs read.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    project: ProjectOption = Path(),
) -> None:
    """Delete a feature view version (or one of its training datasets) with the data; refused while lineage
    needs it: a deployment's lookups, a model version's training data, or (without --force) runs and datasets."""
    name, version = parse_ref(ref)
    if version is None:
        raise ValidationError(f"Name the version to delete: '{name}:VERSION', not '{name}' alone.")
    what = f"training dataset {training_dataset} of feature view {name} v{version}"
    with connect(project) as opened:
        if training_dataset is None:
            if not yes:
                typer.confirm(f"Delete feature view {name} v{version}?", abort=True)
            deleted = opened.delete_feature_view(name, version, force=force)
            datasets = deleted.training_datasets
            out.print(
                f"Deleted feature view {name} v{version} and {len(datasets.training_datasets)} training dataset(s)."
            )
        else:
            if not yes:
                typer.confirm(f"Delete {what} and its data?", abort=True)
            datasets = opened.delete_training_dataset(name, version, training_dataset, force=force)
            out.print(f"Deleted {what}.")
    if datasets.run_ids:
        out.print(f"{len(datasets.run_ids)} run(s) that read them keep their record of it.")
