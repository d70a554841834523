"""``fti init``, ``fti status`` and ``fti config show``: the project itself."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fti.cli.console import out
from fti.cli.options import ProjectOption
from fti.core.naming import validate_identifier
from fti.errors import ConflictError
from fti.init_template import render_config_template
from fti.project import BackendStatus, Project, check_backends, connect

__all__ = ["init_project", "register", "render_status"]


def init_project(folder: Path, name: str | None = None) -> Path:
    """Write a commented ``fti.yaml`` into ``folder``; refuse to overwrite one."""
    from fti.config import CONFIG_FILE

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / CONFIG_FILE
    if target.exists():
        raise ConflictError(f"{target} already exists: edit it, or remove it first to start over.")
    project = validate_identifier(name or _default_name(folder), "project name")
    target.write_text(render_config_template(project), encoding="utf-8")
    return target


def _default_name(folder: Path) -> str:
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in folder.resolve().name).strip("_")
    return cleaned if cleaned and not cleaned[0].isdigit() else f"project_{cleaned}" if cleaned else "default"


def render_status(project: Project, statuses: list[BackendStatus] | None = None) -> None:
    """Print the backends with their reachability and how many of each object the catalog holds."""
    out.print(f"[bold]Project[/] {project.name}  ({project.root})")
    backends = Table("role", "kind", "where", "status", title="Backends", title_justify="left")
    for item in project.status() if statuses is None else statuses:
        state = "[green]reachable[/]" if item.is_reachable else f"[red]unreachable[/]: {item.detail}"
        backends.add_row(item.role, item.kind, item.location, state)
    out.print(backends)
    counts = Table("object", "count", title="Objects", title_justify="left")
    for label, count in project.object_counts().items():
        counts.add_row(label, str(count))
    out.print(counts)


def register(app: typer.Typer) -> None:
    """Add the project commands to ``app``."""
    app.command("init")(init)
    app.command("status")(status)
    config_app = typer.Typer(help="Show the resolved configuration.", no_args_is_help=True)
    config_app.command("show")(config_show)
    app.add_typer(config_app, name="config")


def init(
    folder: Annotated[Path, typer.Argument(help="Where to create the project (default: here).")] = Path(),
    name: Annotated[str | None, typer.Option("--name", help="Project name (default: the folder's).")] = None,
) -> None:
    """Create an fti.yaml with every option explained; never overwrites an existing one."""
    target = init_project(folder, name)
    out.print(f"Created {target}. Next: [bold]fti status[/]")


def status(project: ProjectOption = Path()) -> None:
    """Show which backends are configured, whether they are reachable, and what the catalog holds."""
    from fti.config import load_config

    statuses = check_backends(load_config(project))
    catalog = next(item for item in statuses if item.role == "catalog")
    if not catalog.is_reachable:
        out.print(f"[red]Catalog unreachable:[/] {catalog.detail}")
        raise typer.Exit(1)
    with connect(project) as opened:
        render_status(opened, statuses)


def config_show(project: ProjectOption = Path()) -> None:
    """Print every setting, its value and where it came from (default, fti.yaml or environment)."""
    from fti.config import load_config

    loaded = load_config(project)
    table = Table("key", "value", "from", title=f"Configuration ({loaded.config_file or 'no fti.yaml'})")
    for key, value in loaded.flat_values().items():
        table.add_row(key, "" if value is None else str(value), loaded.sources.get(key, "default"))
    out.print(table)
