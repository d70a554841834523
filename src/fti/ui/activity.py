"""The dashboard's activity page: the audit log (who changed what, and when), newest first, filtered by actor
and by kind of change, each target linked to its page while it exists. Reading it needs the ``admin`` role
where tokens are required (:data:`fti.ui.auth.ADMIN_READS`): it names every token and what each changed."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from fti.ui.auth import logged_in
from fti.ui.pages import templates

if TYPE_CHECKING:
    from fti.core.audit import AuditEntry
    from fti.project import Project

__all__ = ["FAMILIES", "MAX_ENTRIES", "Actor", "Family", "Limit", "activity", "link", "router"]

#: the kinds of change the page filters by: an action family (``feature_group.``) and its label
FAMILIES: dict[str, str] = {
    "feature_group.": "feature groups and inserts",
    "feature_view.": "feature views",
    "training_dataset.": "training datasets",
    "run.": "runs",
    "experiment.": "experiments",
    "model_version.": "model versions",
    "model_files.": "unfinished registrations' files",
    "pipeline.": "pipeline runs",
    "alias.": "aliases",
    "deployment.": "deployments",
    "feedback": "feedback",
    "token.": "tokens",
    "session.": "dashboard logins",
}

#: at most this many entries a request
MAX_ENTRIES = 500

router = APIRouter(include_in_schema=False)

Actor = Annotated[
    str | None, Query(max_length=200, description="Only this actor's changes: a token's name, or local:USER.")
]
Family = Annotated[
    str | None,
    Query(max_length=200, description="Only this action (token.create) or family ending in '.' (feature_group.)."),
]
Limit = Annotated[int, Query(ge=1, le=MAX_ENTRIES, description="At most this many entries, newest first.")]


def activity(project: Project, actor: str | None, action: str | None, limit: int) -> dict[str, Any]:
    """The newest ``limit`` audit entries of ``actor`` and ``action`` (empty means any), each with a link to its
    target's page where there is one."""
    actor, action = (actor or "").strip() or None, (action or "").strip() or None
    entries = project.audit(limit=limit, actor=actor, action=action)
    return {
        "entries": [_entry(item) for item in entries],
        "actor": actor,
        "action": action,
        "limit": limit,
        "is_full": len(entries) == limit,
    }


def _entry(entry: AuditEntry) -> dict[str, Any]:
    is_run = entry.action.startswith("run.") and len(entry.target) > 12
    return {
        "at": entry.at.astimezone(UTC).isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        # a run's id, shortened as git shortens commits (any unique prefix finds the run)
        "shown": entry.target[:8] if is_run else entry.target,
        "detail": dict(entry.detail),
        "detail_text": [f"{key}={_value(value)}" for key, value in entry.detail.items() if value is not None],
        "link": link(entry.action, entry.target),
    }


def _value(value: Any) -> str:
    """A detail's value as a person reads it: a mapping as ``key: value`` pairs, a list comma-separated."""
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_value(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_value(item) for item in value) or "none"
    return str(value)


def link(action: str, target: str) -> str | None:
    """The dashboard page of an entry's target, or None (deleted, or without a page: tokens, sessions)."""
    family, _, verb = action.partition(".")
    if verb == "delete":
        return None
    if family in ("feature_group", "feature_view", "training_dataset"):
        name, _, version = target.partition(" v")
        page = "feature-groups" if family == "feature_group" else "feature-views"
        return f"/{page}/{name}/{version.partition('/')[0]}" if version else None
    if family == "run":
        return f"/runs/{target}"
    if family == "model_version":
        name, _, version = target.rpartition(":")
        return f"/models/{name}/versions/{version}" if name else None
    if family == "alias":
        return f"/models/{target.partition('@')[0]}"
    if family in ("deployment", "feedback"):
        return f"/deployments/{target}"
    if family == "pipeline":
        return f"/pipelines/{target}"
    return None


@router.get("/activity", include_in_schema=False)
def activity_page(request: Request, actor: Actor = None, action: Family = None, limit: Limit = 100) -> HTMLResponse:
    """The activity page."""
    project: Project = request.app.state.project
    context = {"section": "activity", "project_name": project.name, "has_token": logged_in(request)}
    context |= activity(project, actor, action, limit) | {"families": FAMILIES}
    return templates.TemplateResponse(request, "activity.html", context)
