"""``fti demo``: build a demo project and walk through what exists of the FTI loop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fti.cli.console import out
from fti.cli.project_commands import init_project, render_status
from fti.config import CONFIG_FILE
from fti.project import connect

__all__ = ["demo"]


def demo(
    keep: Annotated[Path, typer.Option("--keep", help="Folder for the demo project.")] = Path("fti-demo"),
) -> None:
    """Create a demo project (embedded backends) and show its status."""
    if not (keep / CONFIG_FILE).exists():
        init_project(keep, "fti_demo")
    with connect(keep) as project:
        project.artifacts.put_json("demo/about.json", {"project": project.name, "stage": "foundation"})
        render_status(project)
    out.print(f"\nThe demo project is in [bold]{keep}[/]. Explore it with: fti status -p {keep}")
