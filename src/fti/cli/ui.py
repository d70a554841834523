"""``fti ui``: serve the web dashboard over this project's catalog and stores."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fti.cli.addresses import ensure_port_free
from fti.cli.console import err, out
from fti.cli.options import ProjectOption
from fti.errors import MissingExtraError
from fti.project import connect

__all__ = ["ui"]


def ui(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8090,
    project: ProjectOption = Path(),
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="FTI_UI_TOKEN",
            help="Require this token on every page and API request (Bearer header or the login form).",
            show_default=False,
        ),
    ] = None,
    alerts: Annotated[
        Path | None,
        typer.Option(
            "--alerts",
            help="A YAML file of alert rules (as for `fti monitor check --rules`) to evaluate on the monitoring "
            "pages; its actions are not run.",
        ),
    ] = None,
) -> None:
    """Serve the dashboard: feature groups, feature views, runs, models, deployments and monitoring, with a
    JSON API under /api."""
    ensure_port_free(host, port)
    try:
        import uvicorn

        from fti.ui import create_app
    except ImportError as exc:
        raise MissingExtraError(
            f"`fti ui` needs the 'ui' extra ({exc.name} is missing): pip install 'fti[ui]'."
        ) from exc
    with connect(project) as opened:
        app = create_app(opened, token=token, alerts=alerts)
        shown = "localhost" if host in ("127.0.0.1", "::1") else host
        if token is None and host not in ("127.0.0.1", "localhost", "::1"):
            err.print(f"Warning: serving on {host} without a token: anyone who reaches it can read this project.")
        out.print(
            f"FTI dashboard for '{opened.name}' on http://{shown}:{port}" + (" (token required)" if token else "")
        )
        uvicorn.run(app, host=host, port=port, log_level="warning")
