"""``fti deployments`` (list, show) for the model server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from fti.cli.console import listing, out
from fti.cli.options import ProjectOption
from fti.project import connect

__all__ = ["deployments_app"]

deployments_app = typer.Typer(help="Create, list, show and export deployments.", no_args_is_help=True)


@deployments_app.command("list")
def list_deployments(project: ProjectOption = Path()) -> None:
    """List deployments with their variants, shadow and feature view."""
    with connect(project) as opened:
        deployments = opened.deployments()
    if not deployments:
        out.print("No deployments yet: create one with project.deploy('name', variants={'model@champion': 1.0}).")
        return
    rows = [
        (
            escape(item.name),
            escape(", ".join(f"{variant.reference} {variant.share:.0%}" for variant in item.variants)),
            escape(item.shadow or ""),
            escape(", ".join(item.entity_keys)),
            escape(item.feature_lookup or ""),
            f"{item.updated_at:%Y-%m-%d %H:%M:%S}" if item.updated_at else "",
        )
        for item in deployments
    ]
    headers = ("name", "variants", "shadow", "entity key", "feature view", "updated")
    out.print(listing(headers, rows, title="Deployments"))


@deployments_app.command("show")
def show_deployment(
    name: Annotated[str, typer.Argument(help="The deployment's name.")], project: ProjectOption = Path()
) -> None:
    """Show one deployment and the model version each of its references names now."""
    with connect(project) as opened:
        item = opened.get_deployment(name)
        references = [*item.references, *((item.shadow,) if item.shadow else ())]
        versions = {reference: opened.get_model(reference).version for reference in references}
    table = Table("field", "value", title=f"Deployment {item.name}", title_justify="left")
    for variant in item.variants:
        table.add_row("variant", f"{variant.reference} (v{versions[variant.reference]}): {variant.share:.0%}")
    if item.shadow:
        table.add_row("shadow", f"{item.shadow} (v{versions[item.shadow]})")
    table.add_row("entity key", ", ".join(item.entity_keys))
    table.add_row("feature view", item.feature_lookup or "")
    table.add_row("created", f"{item.created_at:%Y-%m-%d %H:%M:%S}" if item.created_at else "")
    table.add_row("updated", f"{item.updated_at:%Y-%m-%d %H:%M:%S}" if item.updated_at else "")
    table.add_row("etag", item.etag)
    out.print(table)
