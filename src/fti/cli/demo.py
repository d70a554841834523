"""``fti demo``: the whole FTI loop on generated card transactions, in a project left for you to explore."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from fti.cli.console import out
from fti.demo.loop import DemoSettings, run_demo
from fti.demo.summary import summary_tables
from fti.project import connect

__all__ = ["demo"]


def demo(
    keep: Annotated[
        Path, typer.Option("--keep", help="Folder for the demo project (replaced if it holds a demo).")
    ] = Path("fti-demo"),
    fast: Annotated[bool, typer.Option("--fast", help="Small data and few trials: under a minute, for CI.")] = False,
) -> None:
    """Run the FTI loop on generated card-fraud data: features, training, registry, batch predictions, deployment."""
    import optuna  # the demo's study summarizes itself; Optuna's per-trial log lines would drown the stages

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    settings = DemoSettings.fast() if fast else DemoSettings()
    started = time.perf_counter()
    current: list[str] = []

    def on_stage(name: str, description: str) -> None:
        if current:
            out.print(f"[green]✓[/] {current[-1]}")
        current.append(description)
        out.print(f"[bold cyan]▶[/] {description} ...")

    timing = run_demo(keep, settings, on_stage)
    if current:
        out.print(f"[green]✓[/] {current[-1]}")
    with connect(keep) as project:
        for table in summary_tables(project):
            out.print(table)
    stages = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timing.seconds.items())
    out.print(f"\nDone in {time.perf_counter() - started:.1f} s ({stages}).")
    out.print(
        f"The demo project is in [bold]{keep}[/]. Explore it:\n"
        f"  fti status -p {keep}\n  fti features list -p {keep}\n  fti runs list -p {keep}\n"
        f"  fti models list -p {keep}\n  fti deployments list -p {keep}\n  fti serve -p {keep}\n  fti ui -p {keep}"
    )
