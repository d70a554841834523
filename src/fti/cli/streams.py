"""``fti stream produce FILE --to STREAM``, ``fti stream run NAME [--workers N]`` and ``fti stream predict
DEPLOYMENT --from STREAM --to STREAM``."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from fti.cli.console import err, out
from fti.cli.options import ProjectOption
from fti.errors import FtiError, ValidationError
from fti.project import Project, connect

if TYPE_CHECKING:
    from fti.streams import JobProgress, PredictionJob, StreamJob
    from fti.streams.status import JobKind

__all__ = ["app"]

app = typer.Typer(help="Streams: publish events, run stream jobs, score events.", no_args_is_help=True)


@app.command("produce")
def produce(
    file: Annotated[str, typer.Argument(help="Events to publish: a CSV, Parquet or JSON file, folder or glob.")],
    to: Annotated[str, typer.Option("--to", help="The stream to publish to.")],
    key: Annotated[
        list[str] | None, typer.Option("--key", help="Key column: its events stay on one partition (repeat).")
    ] = None,
    partitions: Annotated[
        int | None, typer.Option("--partitions", help="Create the stream with this many partitions.")
    ] = None,
    project: ProjectOption = Path(),
) -> None:
    """Publish every event of FILE to a stream, each key's events to one partition."""
    from fti.sources import open_source

    source = open_source(file)
    with connect(project) as opened:
        count = opened.publish(to, (batch.data for batch in source.read(None)), key=key, partitions=partitions)
    out.print(f"Published {count} events from {escape(source.info.name)} to stream {escape(to)}.")


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="The aggregation group: NAME or NAME:VERSION.")],
    workers: Annotated[int, typer.Option("--workers", help="Worker processes, consumers of one group.")] = 1,
    worker: Annotated[int | None, typer.Option("--worker", help="Run only this worker (0 to N-1).")] = None,
    exit_when_idle: Annotated[
        float | None, typer.Option("--exit-when-idle", help="Stop after this many seconds without events.")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Most events per partition and read.")] = 5_000,
    commit_seconds: Annotated[float, typer.Option("--commit-seconds", help="Seconds between checkpoints.")] = 1.0,
    live: Annotated[
        bool | None, typer.Option("--live/--no-live", help="Show a live view (default: on a terminal).")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option("--metrics-port", help="Serve Prometheus metrics here (worker i: PORT + i).")
    ] = None,
    project: ProjectOption = Path(),
) -> None:
    """Keep an aggregation group up to date from its stream until stopped (Ctrl-C, SIGTERM: checkpoint, then exit)."""
    command = ["run", name, "--commit-seconds", str(commit_seconds)]
    if _fanned_out(command, workers, worker, project, batch_size, exit_when_idle, metrics_port):
        return
    group_name, _, version = name.partition(":")
    with connect(project) as opened:
        job = opened.stream_job(
            group_name,
            int(version) if version else None,
            worker=worker or 0,
            workers=workers,
            batch_size=batch_size,
            commit_seconds=commit_seconds,
        )
        stream = opened.get_aggregation_group(group_name, int(version) if version else None).spec.stream or ""
        target = _Target("aggregation", name, stream, worker or 0, f"Stream job {name}")
        err.print(f"Stream job {escape(name)}: worker {worker or 0} of {workers}, partitions {job.partitions}")
        progress, seconds = _run_job(opened, job, target, live=live, metrics_port=metrics_port, idle=exit_when_idle)
    out.print(_summary(progress, seconds))


@app.command("predict")
def predict(
    deployment: Annotated[str, typer.Argument(help="The deployment that scores the events.")],
    source: Annotated[str, typer.Option("--from", help="The stream of events (entity keys, passed features).")],
    to: Annotated[str, typer.Option("--to", help="The stream the predictions are appended to.")],
    workers: Annotated[int, typer.Option("--workers", help="Worker processes, consumers of one group.")] = 1,
    worker: Annotated[int | None, typer.Option("--worker", help="Run only this worker (0 to N-1).")] = None,
    exit_when_idle: Annotated[
        float | None, typer.Option("--exit-when-idle", help="Stop after this many seconds without events.")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Most events per partition and read.")] = 1_000,
    live: Annotated[
        bool | None, typer.Option("--live/--no-live", help="Show a live view (default: on a terminal).")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option("--metrics-port", help="Serve Prometheus metrics here (worker i: PORT + i).")
    ] = None,
    project: ProjectOption = Path(),
) -> None:
    """Score each event of a stream with a deployment (features from its feature view, as /predict with
    entities) into another stream and the request log, until stopped (Ctrl-C, SIGTERM). Malformed events go to
    the stream <to>:dead with the reason."""
    command = ["predict", deployment, "--from", source, "--to", to]
    if _fanned_out(command, workers, worker, project, batch_size, exit_when_idle, metrics_port):
        return
    with connect(project) as opened:
        job = opened.prediction_job(
            deployment, source=source, to=to, worker=worker or 0, workers=workers, batch_size=batch_size
        )
        target = _Target("prediction", deployment, source, worker or 0, f"Predictions of {deployment}")
        err.print(
            f"Predictions of {escape(deployment)}: worker {worker or 0} of {workers}, "
            f"from stream {escape(source)} to {escape(to)}"
        )
        progress, seconds = _run_job(opened, job, target, live=live, metrics_port=metrics_port, idle=exit_when_idle)
    out.print(
        f"Scored {progress.rows_out} of {progress.events_in} events ({progress.replayed} replayed) from "
        f"{escape(source)} into {escape(to)} in {seconds:.1f} s; {progress.dead_letters} dead letters."
    )


@dataclass(frozen=True, slots=True)
class _Target:
    kind: JobKind
    name: str
    stream: str
    worker: int
    title: str


def _run_job(
    opened: Project,
    job: StreamJob | PredictionJob,
    target: _Target,
    *,
    live: bool | None,
    metrics_port: int | None,
    idle: float | None,
) -> tuple[JobProgress, float]:
    """Run ``job`` until SIGTERM or Ctrl-C (or ``idle`` seconds without events), with its live view, metrics
    and the status it records for the dashboard; close it; return its progress and the seconds it ran."""
    from fti.streams import record_status
    from fti.streams.metrics import JobMetrics

    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    broker = opened.stream_broker
    show = sys.stdout.isatty() if live is None else live
    metrics = None
    if metrics_port is not None:
        metrics = JobMetrics(target.name, worker=target.worker)
        metrics.serve(metrics_port + target.worker)
    started = time.monotonic()
    with (
        Live(_view(target.title, job.progress, 0.0, None), console=err, refresh_per_second=2)
        if show
        else nullcontext() as view
    ):

        def report(progress: JobProgress) -> None:
            lag = job.lag()
            if view is not None:
                view.update(_view(target.title, progress, time.monotonic() - started, lag))
            if metrics is not None:
                metrics.update(progress, lag=lag)
            record_status(broker, target.kind, target.name, target.stream, progress, worker=target.worker, lag=lag)

        try:
            progress = job.run(stop.is_set, exit_when_idle=idle, on_progress=report, on_error=_report)
        finally:
            job.close()
    lag = job.lag()
    if metrics is not None:
        metrics.update(progress, lag=lag)
    record_status(
        broker, target.kind, target.name, target.stream, progress, worker=target.worker, lag=lag, is_stopped=True
    )
    return progress, time.monotonic() - started


def _fanned_out(
    command: list[str],
    workers: int,
    worker: int | None,
    project: Path,
    batch_size: int,
    exit_when_idle: float | None,
    metrics_port: int | None,
) -> bool:
    """Check ``--workers``; with several and no ``--worker``, run one process per worker (``command``: the
    subcommand with its own arguments, the shared options added here) until all have exited, and return True."""
    if workers < 1:
        raise ValidationError(f"--workers must be 1 or more, got {workers}.")
    if workers == 1 or worker is not None:
        return False
    arguments = [*command, "--workers", str(workers), "--project", str(project), "--batch-size", str(batch_size)]
    arguments.append("--no-live")
    if exit_when_idle is not None:
        arguments += ["--exit-when-idle", str(exit_when_idle)]
    if metrics_port is not None:
        arguments += ["--metrics-port", str(metrics_port)]
    _run_workers(workers, arguments)
    return True


def _run_workers(workers: int, arguments: list[str]) -> None:
    """Start one process per worker (``arguments``: the subcommand and its options) and pass SIGTERM and Ctrl-C
    on to them; exit when all have."""
    base = [sys.executable, "-m", "fti", "stream", *arguments]
    children = [subprocess.Popen([*base, "--worker", str(index)]) for index in range(workers)]

    def _forward(signum: int, frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    codes = [child.wait() for child in children]
    if any(codes):
        raise typer.Exit(max(codes))


def _report(error: FtiError, delay: float) -> None:
    err.print(f"[yellow]{escape(str(error))}[/yellow] Retrying in {delay:.1f} s from the last checkpoint.")


def _view(title: str, progress: JobProgress, seconds: float, lag: int | None) -> Table:
    table = Table(title=escape(title), show_header=False)
    rate = progress.events_in / seconds if seconds else 0.0
    p99 = progress.freshness(99)
    for label, value in (
        ("events in", f"{progress.events_in:,} ({rate:,.0f}/s)"),
        ("rows out", f"{progress.rows_out:,}"),
        ("lag", "—" if lag is None else f"{lag:,}"),
        ("watermark", progress.watermark or "—"),
        ("late or malformed", f"{progress.dead_letters:,}"),
        ("freshness p99", "—" if p99 is None else f"{p99:,.0f} ms"),
    ):
        table.add_row(label, value)
    return table


def _summary(progress: JobProgress, seconds: float) -> str:
    return (
        f"Processed {progress.events_in} events ({progress.replayed} replayed) in {seconds:.1f} s: "
        f"{progress.rows_out} rows, {progress.duplicates} duplicates, {progress.dead_letters} dead letters, "
        f"{progress.commits} checkpoints."
    )
