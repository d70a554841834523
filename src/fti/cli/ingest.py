"""``fti ingest SPEC --into NAME[:VERSION]``: read what is new in a source into a feature group, as one commit."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import filesize
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from fti.cli.console import err, out
from fti.cli.options import ProjectOption
from fti.errors import NotFoundError, ValidationError
from fti.project import Project, connect

__all__ = ["ingest"]

SpecArgument = Annotated[
    str,
    typer.Argument(
        help="A file, folder or glob (./data/*.csv, s3://bucket/events/*.parquet), a database table "
        "(postgresql://user@host/db/table?cursor=id), an API URL, or a YAML spec file."
    ),
]


def ingest(
    spec: SpecArgument,
    into: Annotated[str, typer.Option("--into", "-i", help="The feature group: NAME or NAME:VERSION.")],
    project: ProjectOption = Path(),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the schema and first rows; write nothing.")] = False,
    rows: Annotated[int, typer.Option("--rows", help="Rows --dry-run prints.")] = 10,
    primary_key: Annotated[
        list[str] | None, typer.Option("--primary-key", help="Create the group if absent, with this key (repeat).")
    ] = None,
    event_time: Annotated[str | None, typer.Option("--event-time", help="The event time of a group created.")] = None,
    rename: Annotated[list[str] | None, typer.Option("--rename", help="OLD=NEW, repeat for several columns.")] = None,
    normalize_names: Annotated[
        bool, typer.Option("--normalize-names", help="Make every column name an identifier.")
    ] = False,
    parse_dates: Annotated[
        list[str] | None, typer.Option("--parse-dates", help="A string column to parse as timestamps (repeat).")
    ] = None,
    pipeline: Annotated[str | None, typer.Option("--pipeline", help="Recorded in the commit's lineage.")] = None,
) -> None:
    """Read what is new in a source into a feature group as one commit, with a progress bar."""
    from fti.sources.spec import load_spec

    loaded = load_spec(spec)
    options = _options(loaded.ingest.model_dump(exclude_none=True), rename, normalize_names, parse_dates, pipeline)
    source = loaded.build()
    with connect(project) as opened:
        group = _group(opened, into, primary_key, event_time, dry_run)
        if dry_run:
            _print_preview(opened.preview(source, into=group, rows=rows, **options), source.info.name)
            return
        assert group is not None  # _group creates it unless dry_run
        result = _with_progress(lambda report: group.insert(source, progress=report, **options), source.info.name)
    where = f"feature group {group.name} v{group.version}"
    if result.commit is None:
        out.print(f"Nothing new in {escape(source.info.name)} for {where}.")
        return
    out.print(
        f"Committed {result.rows_inserted} new and {result.rows_replaced} replaced rows of "
        f"{escape(source.info.name)} to {where} as commit {result.commit}."
    )
    if result.online_error:
        err.print(escape(result.online_error))


def _options(
    spec: dict[str, Any], rename: list[str] | None, normalize: bool, dates: list[str] | None, pipeline: str | None
) -> dict[str, Any]:
    options = {key: value for key, value in spec.items() if value not in (None, False)}
    if rename:
        pairs = {}
        for item in rename:
            old, sep, new = item.partition("=")
            if not sep or not old or not new:
                raise ValidationError(f"Invalid --rename {item!r}: use OLD=NEW, e.g. --rename 'monthly spend=spend'.")
            pairs[old] = new
        options["rename"] = {**options.get("rename", {}), **pairs}
    if normalize:
        options["normalize_names"] = True
    if dates:
        options["parse_dates"] = list(dates)
    if pipeline:
        options["pipeline"] = pipeline
    return options


def _group(project: Project, into: str, primary_key: list[str] | None, event_time: str | None, dry_run: bool) -> Any:
    name, _, version_text = into.partition(":")
    if version_text and not version_text.isdigit():
        raise ValidationError(f"Invalid --into {into!r}: use NAME or NAME:VERSION, e.g. cards:2.")
    version = int(version_text) if version_text else None
    if primary_key and event_time:
        if dry_run:
            try:
                return project.get_feature_group(name, version)
            except NotFoundError:
                return None
        return project.get_or_create_feature_group(name, version or 1, primary_key=primary_key, event_time=event_time)
    if primary_key or event_time:
        raise ValidationError("--primary-key and --event-time go together: pass both to create the group if absent.")
    try:
        return project.get_feature_group(name, version)
    except NotFoundError as exc:
        if dry_run:
            return None
        raise NotFoundError(f"{exc} Create it with --primary-key and --event-time.") from None


def _with_progress(run: Any, name: str) -> Any:
    """Run ``run(report)`` under a progress line: rows, rows per second, input bytes and bytes per second."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.fields[rows]:,} rows ({task.fields[rate]:,.0f}/s)"),
        TextColumn("{task.fields[size]} ({task.fields[speed]}/s)"),
        TimeElapsedColumn(),
    )
    started = time.perf_counter()
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task(
            f"Reading {escape(name)}", total=None, rows=0, rate=0.0, size="0 bytes", speed="0 bytes"
        )

        def report(rows: int, read: int) -> None:
            seconds = max(time.perf_counter() - started, 1e-9)
            size, speed = filesize.decimal(read), filesize.decimal(int(read / seconds))
            progress.update(task, rows=rows, rate=rows / seconds, size=size, speed=speed)

        result = run(report)
        progress.update(task, description=f"Read {escape(name)}")
    return result


def _print_preview(table: Any, name: str) -> None:
    schema = Table("column", "type", title=f"Schema of {escape(name)}", title_justify="left")
    for field in table.schema:
        schema.add_row(escape(field.name), escape(str(field.type)))
    out.print(schema)
    rows = Table(
        *[escape(field.name) for field in table.schema], title=f"First {table.num_rows} rows", title_justify="left"
    )
    for row in table.to_pylist():
        rows.add_row(*["null" if value is None else escape(str(value)) for value in row.values()])
    out.print(rows)
