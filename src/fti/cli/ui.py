"""``fti ui``: serve the web dashboard over this project's catalog and stores."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from fti.cli.addresses import ensure_port_free
from fti.cli.console import err, out
from fti.cli.options import ProjectOption
from fti.errors import MissingExtraError, ValidationError
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
            help="Require this token on every page and API request (Bearer header or the login form). Prefer "
            "FTI_UI_TOKEN or --token-file: a token on the command line shows in the process list until the "
            "command moves it to its environment, and in the shell's history.",
            show_default=False,
        ),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="Read the token from this file (its first line), instead of --token.",
            show_default=False,
        ),
    ] = None,
    require_tokens: Annotated[
        bool,
        typer.Option(
            "--require-tokens",
            help="Accept the project's API tokens (`fti tokens create NAME --role read`) and require one on every "
            "page and API request; reads need the 'read' role, changes 'write'.",
        ),
    ] = False,
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
    if token_file is not None:
        if token is not None:
            raise ValidationError("Give the token once: --token (or FTI_UI_TOKEN) or --token-file, not both.")
        token = _read_token(token_file)
    elif token is not None and os.environ.get("FTI_UI_TOKEN") != token:
        err.print("Warning: a token given with --token shows in the process list; use FTI_UI_TOKEN or --token-file.")
        _restart_without_token_argument(token)
    try:
        import uvicorn

        from fti.ui import create_app
    except ImportError as exc:
        raise MissingExtraError(
            f"`fti ui` needs the 'ui' extra ({exc.name} is missing): pip install 'fti[ui]'."
        ) from exc
    with connect(project) as opened:
        app = create_app(opened, token=token, require_tokens=require_tokens, alerts=alerts)
        locked = token is not None or require_tokens
        if require_tokens and token is None and not any(item.is_active(datetime.now(UTC)) for item in opened.tokens()):
            err.print(
                "Warning: --require-tokens, but the project has no active API token: create one with "
                "`fti tokens create NAME --role read`."
            )
        shown = "localhost" if host in ("127.0.0.1", "::1") else host
        if not locked and host not in ("127.0.0.1", "localhost", "::1"):
            err.print(f"Warning: serving on {host} without a token: anyone who reaches it can read this project.")
        out.print(
            f"FTI dashboard for '{opened.name}' on http://{shown}:{port}" + (" (token required)" if locked else "")
        )
        uvicorn.run(app, host=host, port=port, log_level="warning")


def _restart_without_token_argument(token: str) -> None:
    """Replace this process (same pid) with one whose command line lacks the token: it moves to FTI_UI_TOKEN.

    A process's arguments are readable by every user of the host (``ps``, ``/proc/PID/cmdline``); its environment
    only by its own user. The token shows in the process list while the command starts, not while it serves.
    Nothing happens where the token is not in this process's arguments (the CLI called in-process) or on a
    system without ``exec``.
    """
    arguments = sys.argv[1:]
    rest: list[str] = []
    skip = False
    for argument in arguments:
        if skip:
            skip = False
        elif argument == "--token":
            skip = True
        elif not argument.startswith("--token="):
            rest.append(argument)
    if len(rest) == len(arguments) or os.name != "posix" or token in rest:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "fti", *rest], {**os.environ, "FTI_UI_TOKEN": token})


def _read_token(path: Path) -> str:
    """The first line of ``path``, stripped; a missing, unreadable or empty file is an error naming it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"--token-file {path} cannot be read ({exc}).") from None
    token = lines[0].strip() if lines else ""
    if not token:
        raise ValidationError(f"--token-file {path} is empty: write the token on its first line.")
    return token
