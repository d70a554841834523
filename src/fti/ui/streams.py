"""The dashboard's stream jobs: each worker of a running (or lately stopped) aggregation or prediction job with
its lag, freshness and events, from the statuses the jobs record in the stream broker about once a second."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from fti.errors import FtiError
from fti.streams import list_statuses
from fti.ui.auth import logged_in
from fti.ui.pages import templates

if TYPE_CHECKING:
    from fti.project import Project

__all__ = ["router", "stream_jobs"]

router = APIRouter()

#: a running job records its status about once a second: one older than this has stopped answering
SILENT_SECONDS = 10.0


def stream_jobs(project: Project) -> dict[str, Any]:
    """Every stream job worker's latest status (``jobs``), with ``state`` ``running``, ``stopped`` or ``silent``
    (no status for ``SILENT_SECONDS``: killed, or its broker unreachable), and ``error`` when the broker cannot be
    read."""
    try:
        broker = project.stream_broker
        statuses = list_statuses(broker)
    except FtiError as exc:
        return {"broker": None, "jobs": [], "error": str(exc)}  # the error names the broker (no credentials)
    now = datetime.now(UTC)
    jobs = []
    for status in statuses:
        age = status.age_seconds(now)
        state = "silent" if status.state == "running" and age > SILENT_SECONDS else status.state
        link = f"/deployments/{status.name}" if status.kind == "prediction" else _group_link(status.name)
        jobs.append(asdict(status) | {"state": state, "age_seconds": round(age, 1), "link": link})
    return {"broker": broker.describe(), "jobs": jobs, "error": None}


def _group_link(name: str) -> str:
    group, _, version = name.partition(":")
    return f"/feature-groups/{group}/{version or 1}"


@router.get("/api/streams", tags=["streams"])
def streams_api(request: Request) -> JSONResponse:
    """Stream jobs with their lag, freshness (p50/p99 ms), events, dead letters and state."""
    return JSONResponse(stream_jobs(request.app.state.project))


@router.get("/streams", include_in_schema=False)
def streams_page(request: Request) -> HTMLResponse:
    """The stream jobs page."""
    project: Project = request.app.state.project
    context = {"section": "streams", "project_name": project.name, "has_token": logged_in(request)}
    return templates.TemplateResponse(request, "streams.html", context | stream_jobs(project))
