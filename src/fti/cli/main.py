"""The ``fti`` Typer app and its entry point, which turns errors into one line and an exit code."""

from __future__ import annotations

import inspect
import os
import re
import sys
from typing import Annotated

import typer
import typer.main
from rich.markup import escape
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from fti import __version__
from fti.cli import (
    db,
    demo,
    demo_llm,
    deployment_commands,
    deployments,
    features,
    ingest,
    model_gate,
    models,
    monitor,
    pipelines,
    predict,
    project_commands,
    runs,
    serve,
    streams,
    tokens,
    train,
    ui,
)
from fti.cli.console import err, out
from fti.errors import FtiError

__all__ = ["app", "command", "main"]

app = typer.Typer(
    name="fti",
    help="FTI Stack: feature, training and inference pipelines with a feature store and a model registry.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)
project_commands.register(app)
demo.app.command("llm")(demo_llm.llm)
app.add_typer(demo.app, name="demo")
app.command("ui")(ui.ui)
app.command("train")(train.train)
app.command("tune")(train.tune)
app.add_typer(db.app, name="db")
app.add_typer(runs.app, name="runs")
app.add_typer(models.app, name="models")
app.command("ingest")(ingest.ingest)
app.add_typer(features.features_app, name="features")
app.add_typer(features.views_app, name="views")
app.add_typer(monitor.monitor_app, name="monitor")
app.add_typer(monitor.ab_app, name="ab")
app.command("serve")(serve.serve)
app.command("predict")(predict.predict)
app.add_typer(deployments.deployments_app, name="deployments")
app.add_typer(tokens.app, name="tokens")
app.command("audit")(tokens.audit)
app.add_typer(pipelines.app, name="pipelines")
app.command("scheduler")(pipelines.scheduler)
app.add_typer(streams.app, name="stream")
deployments.deployments_app.command("create")(deployment_commands.create)
deployments.deployments_app.command("export")(deployment_commands.export)
models.app.command("validate")(model_gate.validate)
models.app.command("promote")(model_gate.promote)


def _show_version(value: bool) -> None:
    if value:
        out.print(f"fti {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """FTI Stack: feature, training and inference pipelines with a feature store and a model registry."""


def command() -> TyperCommand | TyperGroup:
    """The Click command tree of :data:`app` as ``fti`` runs it, its help made for a terminal (:func:`_tidy_help`)."""
    root = typer.main.get_command(app)
    _tidy_help(root)
    return root  # type: ignore[return-value]  # Typer builds its own command classes


def _tidy_help(node: object) -> None:
    """Help written once for the docs reads well in a terminal: paragraphs flow (no line breaks where the
    docstring wrapped), ``code`` shows in bold instead of as backticks, and a flag names no ``<bool>`` value."""
    if not isinstance(node, TyperCommand | TyperGroup):
        return
    node.help = _terminal_text(node.help)
    for param in [*node.params, node.get_help_option(typer.Context(node))]:
        if isinstance(param, TyperOption):
            param.help = _terminal_text(param.help)
            if param.is_flag:
                param.metavar = ""
        elif isinstance(param, TyperArgument):
            param.help = _terminal_text(param.help)
    if isinstance(node, TyperGroup):
        for child in node.commands.values():
            _tidy_help(child)


_CODE = re.compile(r"``(.+?)``|`([^`]+)`")


def _terminal_text(text: str | None) -> str | None:
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    flowing = [" ".join(line.strip() for line in paragraph.splitlines()) for paragraph in paragraphs]
    return _CODE.sub(lambda match: f"[bold]{escape(match.group(1) or match.group(2))}[/bold]", "\n\n".join(flowing))


def main() -> None:
    """Run the CLI: FTI errors print one line and exit 2 (user errors) or 1 (backend errors)."""
    try:
        command()(prog_name="fti")
    except FtiError as exc:
        # the message is text, not markup: a message naming '[/DETAIL]' or '[bold]' prints as written
        err.print(f"[bold red]Error:[/] {escape(str(exc))}", markup=True, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("Interrupted.")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("FTI_DEBUG"):
            raise
        err.print(
            f"[bold red]Internal error:[/] {type(exc).__name__}: {escape(str(exc))}. "
            "Run again with FTI_DEBUG=1 for the traceback, and please report it.",
            markup=True,
            soft_wrap=True,
        )
        sys.exit(1)
