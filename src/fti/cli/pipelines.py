"""``fti pipelines`` (list, show, run, history, logs) and ``fti scheduler``."""

from __future__ import annotations

import logging
import signal
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from fti.cli.console import err, listing, out
from fti.cli.options import ProjectOption
from fti.core.pipelines import PipelineRunRecord, RunState
from fti.errors import ValidationError
from fti.orchestration import SchedulerSettings
from fti.project import connect

__all__ = ["app", "scheduler"]

app = typer.Typer(help="Pipelines: list, show, run by hand, run history and logs.", no_args_is_help=True)


@app.command("list")
def list_pipelines(project: ProjectOption = Path()) -> None:
    """List the project's pipelines with their schedule, triggers, next run and last run."""
    with connect(project) as opened:
        pipelines = opened.orchestration.pipelines()
        last = {run.pipeline: run for run in reversed(opened.pipeline_runs(limit=500))}
        rows = []
        for pipeline in pipelines:
            spec = pipeline.spec
            next_run = opened.orchestration.next_run(spec.name)
            previous = last.get(spec.name)
            rows.append(
                (
                    escape(spec.name),
                    escape(f"{spec.schedule} ({spec.timezone})") if spec.schedule else "—",
                    escape(", ".join(str(trigger) for trigger in spec.triggers)) or "—",
                    f"{next_run:%Y-%m-%d %H:%M:%S %Z}" if next_run else "—",
                    f"{previous.state.value} {previous.created_at:%Y-%m-%d %H:%M:%S}" if previous else "—",
                    escape(spec.description),
                )
            )
    if not pipelines:
        out.print("No pipelines: list modules defining @fti.pipeline under 'pipelines:' in fti.yaml.")
        return
    headers = ("name", "schedule", "triggers", "next run", "last run", "description")
    out.print(listing(headers, rows, title=f"Pipelines ({len(pipelines)})"))


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The pipeline's name.")],
    project: ProjectOption = Path(),
) -> None:
    """Show one pipeline: its definition, next run and recent runs."""
    with connect(project) as opened:
        spec = opened.orchestration.get(name).spec
        next_run = opened.orchestration.next_run(name)
        runs = opened.pipeline_runs(name, limit=10)
    facts = spec.to_dict()
    out.print(f"[bold]{spec.name}[/] {spec.description}", soft_wrap=True)
    for key in ("steps", "schedule", "timezone", "catchup", "triggers", "retries", "retry_delay_seconds"):
        out.print(f"  {key}: {facts[key]}", soft_wrap=True)
    for key in ("timeout_seconds", "concurrency", "params", "defined_at"):
        out.print(f"  {key}: {facts[key]}", soft_wrap=True)
    out.print(f"  next run: {next_run:%Y-%m-%d %H:%M:%S %Z}" if next_run else "  next run: on triggers or by hand")
    out.print(_runs_table(runs, f"Recent runs of {name}") if runs else "No runs yet.")


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="The pipeline's name.")],
    param: Annotated[list[str] | None, typer.Option("--param", help="KEY=VALUE (repeatable).")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Run it here and wait, or queue it.")] = True,
    project: ProjectOption = Path(),
) -> None:
    """Run a pipeline by hand now (recorded in its history); exit 1 when it fails."""
    params = _params(param or [])
    with connect(project) as opened:
        ended = opened.run_pipeline(name, params, wait=wait)
    if not wait:
        out.print(f"Queued run {ended.id} of {name}: a running `fti scheduler` starts it.")
        return
    out.print(_runs_table([ended], f"Run of {name}"))
    if ended.state is not RunState.SUCCEEDED:
        err.print(f"Pipeline '{name}' {ended.state.value}: see `fti pipelines logs {ended.id}`.", soft_wrap=True)
        raise typer.Exit(1)


@app.command("history")
def history(
    name: Annotated[str | None, typer.Argument(help="Only this pipeline.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many runs.")] = 50,
    project: ProjectOption = Path(),
) -> None:
    """List pipeline runs, newest first: state, trigger, attempt, start and duration."""
    with connect(project) as opened:
        if name is not None:
            opened.orchestration.get(name)
        runs = opened.pipeline_runs(name, limit=limit)
    if not runs:
        out.print("No pipeline runs yet.")
        return
    out.print(_runs_table(runs, f"Pipeline runs ({len(runs)})"))


@app.command("logs")
def logs(
    run_id: Annotated[str, typer.Argument(help="The pipeline run's id (see `fti pipelines history`).")],
    project: ProjectOption = Path(),
) -> None:
    """Print the output of a pipeline run (live while it runs)."""
    with connect(project) as opened:
        text = opened.orchestration.logs(run_id)
        record = opened.orchestration.get_run(run_id)
    out.print(text.rstrip() or "(no output)", markup=False, highlight=False, soft_wrap=True)
    if record.error:
        err.print(record.error.rstrip(), markup=False, soft_wrap=True)


def scheduler(
    once: Annotated[bool, typer.Option("--once", help="Run what is due now and its consequences, then exit.")] = False,
    poll: Annotated[float | None, typer.Option("--poll", help="Seconds between looks for work.")] = None,
    lease: Annotated[float | None, typer.Option("--lease", help="Seconds a run's lease lasts.")] = None,
    max_runs: Annotated[int | None, typer.Option("--max-runs", help="Runs at once in this scheduler.")] = None,
    project: ProjectOption = Path(),
) -> None:
    """Run pipelines on their schedules and triggers until stopped (Ctrl-C, SIGTERM), or once with --once."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    logging.getLogger("fti.scheduler").setLevel(logging.INFO)
    with connect(project) as opened:
        defaults = opened.orchestration.settings
        settings = SchedulerSettings(
            poll_interval=_positive(poll, "--poll") or defaults.poll_interval,
            lease=timedelta(seconds=lease) if lease is not None and _positive(lease, "--lease") else defaults.lease,
            max_runs=int(_positive(max_runs, "--max-runs") or defaults.max_runs),
        )
        running = opened.orchestration.scheduler(settings=settings)
        names = ", ".join(pipeline.name for pipeline in opened.orchestration.pipelines()) or "none"
        err.print(f"Scheduler {running.owner}: pipelines {names}", soft_wrap=True)
        if once:
            ended = running.run_once()
            out.print(_runs_table(ended, f"Pipeline runs ({len(ended)})") if ended else "Nothing was due.")
            return

        def _stop(signum: int, frame: FrameType | None) -> None:
            running.stop()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        running.run_forever()
    err.print("Scheduler stopped.")


def _runs_table(runs: list[PipelineRunRecord], title: str) -> Table:
    table = Table(title=title)
    for column in ("run id", "pipeline", "state", "trigger", "attempt", "started", "duration", "error"):
        table.add_column(column, no_wrap=column == "run id")
    for item in runs:
        duration = item.duration
        error = (item.error or "").strip().splitlines()
        table.add_row(
            item.id,
            item.pipeline,
            item.state.value,
            item.trigger + (f" ({item.scheduled_for:%Y-%m-%d %H:%M})" if item.scheduled_for else ""),
            str(item.attempt),
            f"{item.started_at:%Y-%m-%d %H:%M:%S}" if item.started_at else "—",
            f"{duration.total_seconds():.1f} s" if duration is not None else "—",
            error[-1][:80] if error else "",
        )
    return table


def _params(values: list[str]) -> dict[str, str]:
    params = {}
    for value in values:
        key, equals, text = value.partition("=")
        if not equals or not key:
            raise ValidationError(f"--param '{value}' is not KEY=VALUE: write e.g. --param days=7.")
        params[key] = text
    return params


def _positive(value: float | None, option: str) -> float | None:
    if value is not None and value <= 0:
        raise ValidationError(f"{option} must be positive, got {value}.")
    return value
