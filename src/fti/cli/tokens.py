"""``fti tokens`` (create, revoke, list) and ``fti audit``: API tokens with their roles, and who changed what."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from fti.cli.console import err, out
from fti.cli.options import ProjectOption
from fti.core.access import DEFAULT_ROLE, ROLES, parse_expiry, parse_role
from fti.errors import ValidationError
from fti.project import connect

__all__ = ["app", "audit"]

app = typer.Typer(
    help="Create, revoke and list API tokens of the model server and the dashboard.", no_args_is_help=True
)


@app.command("create")
def create_token(
    name: Annotated[str, typer.Argument(help="A name for the token (an identifier); the audit log names it.")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help=f"What it may do: {', '.join(ROLES)}; each includes the ones before it (see docs/serving.md).",
        ),
    ] = DEFAULT_ROLE,
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires",
            help="When it stops working: a duration from now (90m, 12h, 30d, 4w) or a date or time (2027-01-31, "
            "2027-01-31T12:00:00+00:00; UTC without a zone). Default: never.",
            show_default=False,
        ),
    ] = None,
    project: ProjectOption = Path(),
) -> None:
    """Create an API token and print it once (only its sha256 is stored)."""
    checked = parse_role(role)
    expires_at = parse_expiry(expires) if expires is not None else None
    with connect(project) as opened:
        secret = opened.create_token(name, checked, expires_at)
    until = f", expires {expires_at:%Y-%m-%d %H:%M:%S} UTC" if expires_at is not None else ""
    err.print(
        f"Token '{name}' created (role {checked}{until}). Send it as 'Authorization: Bearer <token>'; it is not "
        "shown again."
    )
    out.print(secret, soft_wrap=True)


@app.command("revoke")
def revoke_token(
    name: Annotated[str, typer.Argument(help="The token's name.")], project: ProjectOption = Path()
) -> None:
    """Revoke an API token; servers refuse it within seconds."""
    with connect(project) as opened:
        opened.revoke_token(name)
    out.print(f"Token '{name}' revoked.")


@app.command("list")
def list_tokens(project: ProjectOption = Path()) -> None:
    """List API tokens: name, role, state and times (never the secrets)."""
    with connect(project) as opened:
        tokens = opened.tokens()
    if not tokens:
        out.print("No API tokens yet: create one with `fti tokens create NAME --role predict`.")
        return
    now = datetime.now(UTC)
    table = Table("name", "role", "state", "created", "expires", "revoked", title="API tokens")
    for token in tokens:
        state = "revoked" if token.is_revoked else "expired" if not token.is_active(now) else "active"
        table.add_row(
            token.name,
            token.role,
            state,
            f"{token.created_at:%Y-%m-%d %H:%M:%S}",
            f"{token.expires_at:%Y-%m-%d %H:%M:%S}" if token.expires_at else "never",
            f"{token.revoked_at:%Y-%m-%d %H:%M:%S}" if token.revoked_at else "",
        )
    out.print(table)


def audit(
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many entries.")] = 50,
    actor: Annotated[
        str | None,
        typer.Option("--actor", help="Only this actor's entries: a token's name, or local:USER.", show_default=False),
    ] = None,
    action: Annotated[
        str | None,
        typer.Option(
            "--action",
            help="Only this action (token.create), or a family ending in '.' (deployment.).",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Only entries from this date or time on (UTC without a zone).", show_default=False
        ),
    ] = None,
    project: ProjectOption = Path(),
) -> None:
    """Show the audit log, newest first: who (a token's name, or local:USER) changed what, and when."""
    start = _parse_since(since) if since is not None else None
    with connect(project) as opened:
        entries = opened.audit(limit=limit, actor=actor, action=action, since=start)
    if not entries:
        out.print("No audit entries" + (" match." if actor or action or since else " yet."))
        return
    # narrow terminals fold long values onto more lines rather than cut them: an action or a run id cut short is useless
    table = Table(title="Audit log")
    table.add_column("time (UTC)")
    for name in ("actor", "action", "target", "detail"):
        table.add_column(name, overflow="fold")
    for entry in entries:
        detail = ", ".join(f"{key}={value}" for key, value in entry.detail.items() if value is not None)
        table.add_row(
            f"{entry.at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
            escape(entry.actor),
            entry.action,
            escape(entry.target),
            escape(detail),
        )
    out.print(table)


def _parse_since(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"--since '{text}' is not a date or time (2026-12-01, 2026-12-01T08:00:00).") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
