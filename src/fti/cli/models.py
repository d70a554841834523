"""``fti models``: list registered models, show versions, move aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fti.cli.console import out
from fti.cli.options import ProjectOption
from fti.errors import ValidationError
from fti.project import connect

__all__ = ["app"]

app = typer.Typer(
    help="List registered models, show their versions, move aliases, validate and promote versions.",
    no_args_is_help=True,
)


@app.command("list")
def list_models(project: ProjectOption = Path()) -> None:
    """List registered models with their latest version and aliases."""
    with connect(project) as opened:
        models = opened.models()
    if not models:
        out.print("No models are registered yet: log one with run.log_model(model, name).")
        return
    table = Table("name", "latest version", "aliases", "registered", title=f"Models ({len(models)})")
    for model in models:
        aliases = ", ".join(f"{alias} -> v{version}" for alias, version in sorted(model.aliases.items()))
        table.add_row(model.name, str(model.latest_version), aliases, f"{model.created_at:%Y-%m-%d %H:%M:%S}")
    out.print(table)


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="NAME (every version), NAME:VERSION or NAME@ALIAS.")],
    project: ProjectOption = Path(),
) -> None:
    """Show a model's versions and alias history, or one version's details and lineage."""
    from fti.registry.service import parse_model_ref

    name, version, alias = parse_model_ref(ref)
    with connect(project) as opened:
        if version is None and alias is None:
            versions = opened.registry.list_versions(name)
            history = opened.registry.alias_history(name)
            _print_versions(name, versions)
            _print_history(history)
            return
        model = opened.get_model(ref)
        lineage = model.lineage()
    table = Table("field", "value", title=f"Model {model.name} v{model.version}", title_justify="left")
    rows: list[tuple[str, Any]] = [
        ("flavor", model.flavor),
        ("registered", f"{model.created_at:%Y-%m-%d %H:%M:%S}"),
        ("aliases", ", ".join(model.aliases)),
        ("description", model.description),
        ("run", model.run_id),
    ]
    if lineage.training_data is not None:
        data = lineage.training_data
        rows.append(("feature view", f"{data.feature_view_name} v{data.feature_view_version}"))
        rows.append(("training dataset", f"v{data.training_dataset_version}"))
        rows.extend(
            (f"feature group {item.name} v{item.version}", f"commit {item.commit}")
            for item in data.feature_group_commits
        )
    if model.signature is not None:
        rows.append(("inputs", ", ".join(f"{col.name}: {col.type}" for col in model.signature.inputs)))
        rows.append(("outputs", ", ".join(f"{col.name}: {col.type}" for col in model.signature.outputs)))
    rows.extend((f"metric {key}", f"{value:.6g}") for key, value in sorted(model.metrics.items()))
    rows.extend((f"tag {key}", value) for key, value in sorted(model.tags.items()))
    for field, value in rows:
        table.add_row(field, "" if value is None else str(value))
    out.print(table)


@app.command("alias")
def alias(
    ref: Annotated[str, typer.Argument(help="NAME:VERSION the alias should point at.")],
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS", help="The alias, for example champion.")],
    force: Annotated[bool, typer.Option("--force", help="Move (or delete) a protected alias.")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why, kept in the alias history.")] = None,
    protected: Annotated[bool, typer.Option("--protected", help="Protect the alias from unforced moves.")] = False,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias instead of setting it.")] = False,
    project: ProjectOption = Path(),
) -> None:
    """Point ALIAS at NAME:VERSION (every move is kept in the alias history)."""
    from fti.registry.service import parse_model_ref

    name, version, _ = parse_model_ref(ref)
    if version is None:
        raise ValidationError(f"Give the version the alias should point at, like '{name}:3'.")
    with connect(project) as opened:
        model = opened.get_model(f"{name}:{version}")
        if delete:
            model.delete_alias(alias_name, force=force, reason=reason)
            out.print(f"Removed alias '{alias_name}' from model {name}.")
            return
        model.set_alias(alias_name, protected=protected, force=force, reason=reason)
    out.print(f"Alias '{alias_name}' of model {name} now points at v{version}.")


@app.command("delete")
def delete(
    ref: Annotated[str, typer.Argument(help="NAME:VERSION or NAME@ALIAS.")],
    force: Annotated[bool, typer.Option("--force", help="Also remove the aliases pointing at the version.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    project: ProjectOption = Path(),
) -> None:
    """Delete a model version with its files; refused while a deployment serves it or (without --force) an alias
    points at it."""
    with connect(project) as opened:
        target = opened.get_model(ref)
        if not yes:
            typer.confirm(f"Delete model {target.name} v{target.version} and its files?", abort=True)
        deleted = opened.delete_model_version(f"{target.name}:{target.version}", force=force)
    aliases = f", and its alias(es) {', '.join(deleted.aliases)}" if deleted.aliases else ""
    out.print(f"Deleted model {deleted.name} v{deleted.version} ({deleted.files} file(s)){aliases}.")


def _print_versions(name: str, versions: list[Any]) -> None:
    table = Table("version", "flavor", "aliases", "run", "registered", "description", title=f"Model {name}")
    for item in versions:
        table.add_row(
            str(item.version),
            item.flavor,
            ", ".join(item.aliases),
            item.run_id or "",
            f"{item.created_at:%Y-%m-%d %H:%M:%S}",
            item.description,
        )
    out.print(table)


def _print_history(history: list[Any]) -> None:
    if not history:
        return
    table = Table("alias", "from", "to", "protected", "forced", "by", "when", "reason", title="Alias history")
    for move in history:
        table.add_row(
            move.alias,
            "" if move.from_version is None else f"v{move.from_version}",
            "deleted" if move.to_version is None else f"v{move.to_version}",
            "yes" if move.is_protected else "",
            "yes" if move.is_forced else "",
            move.changed_by,
            f"{move.changed_at:%Y-%m-%d %H:%M:%S}",
            move.reason or "",
        )
    out.print(table)
