"""``fti db``: the catalog's schema."""

from __future__ import annotations

from pathlib import Path

import typer

from fti.cli.console import out
from fti.cli.options import ProjectOption
from fti.project import open_catalog

__all__ = ["app"]

app = typer.Typer(help="Manage the catalog database's schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(project: ProjectOption = Path()) -> None:
    """Create or migrate the catalog to this fti's schema (back up the catalog first)."""
    from fti.config import load_config

    catalog = open_catalog(load_config(project))
    try:
        before = catalog.schema_state()
        after = catalog.upgrade()
    finally:
        catalog.close()
    if before.current == after.current:
        out.print(f"Catalog {catalog.describe()} is already at revision {', '.join(after.current)}.")
    else:
        was = ", ".join(before.current) or "empty"
        out.print(f"Catalog {catalog.describe()} upgraded from {was} to {', '.join(after.current)}.")


@app.command("status")
def status(project: ProjectOption = Path()) -> None:
    """Show the catalog's schema revision and the one this fti expects."""
    from fti.config import load_config

    catalog = open_catalog(load_config(project))
    try:
        state = catalog.schema_state()
    finally:
        catalog.close()
    out.print(
        f"Catalog {catalog.describe()}: {state.status.value} "
        f"(at {', '.join(state.current) or 'nothing'}, expected {', '.join(state.expected)})"
    )
