"""``fti demo``: the whole FTI loop on generated card transactions, in a project left for you to explore."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fti.cli.console import out

__all__ = ["RichReporter", "app", "demo"]

app = typer.Typer(help="Demos: the FTI loop on card transactions (`fti demo`), or the LLM workflow (`fti demo llm`).")


class RichReporter:
    """Stages as headed lines with their time, notes under them, progress bars for request streams."""

    def __init__(self) -> None:
        self._current: tuple[str, float] | None = None

    def stage(self, name: str, description: str) -> None:
        self.finish()
        out.print(f"[bold cyan]▶[/] {description}")
        self._current = (description, time.perf_counter())

    def note(self, message: str) -> None:
        out.print(f"  [dim]·[/] {message}")

    @contextlib.contextmanager
    def progress(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        bar = Progress(
            TextColumn(f"  {description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("requests"),
            TimeElapsedColumn(),
            console=out,
            refresh_per_second=4,
        )
        with bar:
            task = bar.add_task(description, total=total)
            yield lambda count: bar.advance(task, count)

    def finish(self) -> None:
        if self._current is not None:
            description, started = self._current
            out.print(f"[green]✓[/] {description} [dim]({time.perf_counter() - started:.1f} s)[/]")
            self._current = None


@app.callback(invoke_without_command=True)
def demo(
    context: typer.Context,
    keep: Annotated[
        Path, typer.Option("--keep", help="Folder for the demo project (replaced if it holds a demo).")
    ] = Path("fti-demo"),
    fast: Annotated[bool, typer.Option("--fast", help="Small data and few trials: under a minute, for CI.")] = False,
) -> None:
    """Run the FTI loop on generated card-fraud data: features, training, serving, monitoring, A/B, promotion."""
    if context.invoked_subcommand is not None:
        return
    import optuna  # the demo's study summarizes itself; Optuna's per-trial log lines would drown the stages

    from fti.demo.loop import DemoSettings, run_demo  # the demo's pipelines pull sklearn and scipy
    from fti.demo.summary import report_files, summary_tables
    from fti.project import connect

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    settings = DemoSettings.fast() if fast else DemoSettings()
    started = time.perf_counter()
    reporter = RichReporter()
    timing = run_demo(keep, settings, reporter)
    reporter.finish()
    with connect(keep) as project:
        for table in summary_tables(project):
            out.print(table)
    out.print("[bold]Monitoring reports[/] (open the HTML pages in a browser):")
    for path in report_files(keep):
        out.print(f"  {path}", soft_wrap=True)
    stages = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timing.seconds.items())
    out.print(f"\nDone in {time.perf_counter() - started:.1f} s ({stages}).")
    out.print(
        f"The demo project is in [bold]{keep}[/]. Explore it:\n"
        f"  fti ui -p {keep}            # the dashboard\n"
        f"  fti serve -p {keep}         # the model server\n"
        f"  fti runs list -p {keep}     # and fti models list, fti features list, fti deployments list"
    )
