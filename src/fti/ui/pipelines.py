"""Dashboard pages of pipelines: the list, one pipeline (next run, recent runs) and one run (its logs and the
lineage graph of what started it, what it read and what it wrote)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from fti import charts
from fti.core.events import Event
from fti.core.pipelines import PipelineRunRecord, RunState
from fti.errors import NotFoundError
from fti.orchestration.triggers import next_slot
from fti.ui.auth import logged_in
from fti.ui.pages import templates

if TYPE_CHECKING:
    from fti.project import Project

__all__ = ["pipeline_lineage", "pipeline_summaries", "router"]

router = APIRouter(include_in_schema=False)

_STATE_CLASS = {RunState.SUCCEEDED: "ok", RunState.RUNNING: "alias", RunState.QUEUED: ""}


def _render(request: Request, name: str, **context: Any) -> HTMLResponse:
    project: Project = request.app.state.project
    context |= {"section": "pipelines", "project_name": project.name, "has_token": logged_in(request)}
    return templates.TemplateResponse(request, name, context)


def pipeline_summaries(project: Project) -> list[dict[str, Any]]:
    """Each pipeline (defined in the project's modules, or recorded in the catalog by a scheduler) with its
    schedule, triggers, next run and last run."""
    definitions = {name: record.definition for name, record in project.orchestration.records().items()}
    definitions |= {pipeline.name: pipeline.spec.to_dict() for pipeline in project.orchestration.pipelines()}
    last: dict[str, PipelineRunRecord] = {}
    for run in project.pipeline_runs(limit=500):
        last.setdefault(run.pipeline, run)
    now = datetime.now(UTC)
    return [
        {"name": name, **definition, "next_run": _next_run(definition, now), "last_run": _run(last.get(name))}
        for name, definition in sorted(definitions.items())
    ]


def _next_run(definition: Mapping[str, Any], now: datetime) -> str | None:
    schedule = definition.get("schedule")
    return next_slot(schedule, definition.get("timezone", "UTC"), now).isoformat() if schedule else None


def _run(run: PipelineRunRecord | None) -> dict[str, Any] | None:
    if run is None:
        return None
    duration = run.duration
    return {
        "id": run.id,
        "pipeline": run.pipeline,
        "state": run.state.value,
        "state_class": _STATE_CLASS.get(run.state, "warn"),
        "trigger": run.trigger,
        "attempt": run.attempt,
        "created_at": run.created_at.isoformat(timespec="seconds"),
        "started_at": None if run.started_at is None else run.started_at.isoformat(timespec="seconds"),
        "ended_at": None if run.ended_at is None else run.ended_at.isoformat(timespec="seconds"),
        "seconds": None if duration is None else duration.total_seconds(),
        "scheduled_for": None if run.scheduled_for is None else run.scheduled_for.isoformat(),
        "params": dict(run.params),
        "error": run.error,
    }


def _event_node(event: Event) -> dict[str, Any]:
    detail = event.detail
    links = {
        "commit": f"/feature-groups/{event.subject}/{detail.get('version')}",
        "model_version": f"/models/{event.subject}/versions/{detail.get('version')}",
        "alias": f"/models/{event.subject}",
        "run": f"/runs/{detail.get('run_id')}",
        "deployment": f"/deployments/{event.subject}",
        "alert": f"/monitoring/{event.subject}",
        "pipeline_run": f"/pipelines/{event.subject}",
    }
    kinds = {"commit": "feature group commit", "model_version": "model version", "pipeline_run": "pipeline run"}
    return {
        "id": f"event:{event.id}",
        "kind": kinds.get(event.kind, event.kind),
        "label": event.describe().removeprefix(f"{event.kind.replace('_', ' ')} ")[:26],
        "detail": f"event {event.id} · {event.created_at:%H:%M:%S}",
        "href": links[event.kind],
    }


def pipeline_lineage(project: Project, run: PipelineRunRecord) -> dict[str, Any]:
    """The run's lineage as a graph for :func:`fti.charts.lineage_graph`: what started it and what it read
    on the left, the run, what it wrote on the right."""
    lineage = project.orchestration.lineage(run.id)
    run_id = f"run:{run.id}"
    nodes = [
        {
            "id": run_id,
            "kind": "pipeline run",
            "label": f"{run.pipeline} #{run.attempt}",
            "detail": f"{run.state.value} · {run.id[:8]}",
            "href": f"/pipelines/{run.pipeline}/runs/{run.id}",
        }
    ]
    edges = []
    if lineage.trigger_event is not None:
        node = {**_event_node(lineage.trigger_event), "kind": "started by"}
        nodes.append(node)
        edges.append((node["id"], run_id))
    for reference in lineage.reads:
        kind, _, rest = reference.partition(":")
        name, _, version = rest.partition(":")
        href = f"/models/{name}/versions/{version}" if kind == "model_version" else f"/feature-groups/{name}"
        if kind == "commit":
            href += "/" + version.partition("#")[0].removeprefix("v")
        node = {"id": f"read:{reference}", "kind": "read", "label": rest[:26], "detail": kind, "href": href}
        nodes.append(node)
        edges.append((node["id"], run_id))
    for event in lineage.produced:
        node = {**_event_node(event), "kind": "wrote"}
        nodes.append(node)
        edges.append((run_id, node["id"]))
    # left to right: what started and fed the run, the run, what it wrote
    order = {"started by": 0, "read": 1, "pipeline run": 2, "wrote": 3}
    nodes.sort(key=lambda node: order[node["kind"]])
    return {"nodes": nodes, "edges": [{"source": source, "target": target} for source, target in edges]}


@router.get("/pipelines")
def pipelines(request: Request) -> HTMLResponse:
    project: Project = request.app.state.project
    return _render(request, "pipelines.html", pipelines=pipeline_summaries(project))


@router.get("/pipelines/{name}")
def pipeline(request: Request, name: str) -> HTMLResponse:
    project: Project = request.app.state.project
    found = next((item for item in pipeline_summaries(project) if item["name"] == name), None)
    if found is None:
        raise NotFoundError(f"No pipeline '{name}': see /pipelines for the project's pipelines.")
    runs = [_run(run) for run in project.pipeline_runs(name, limit=50)]
    return _render(request, "pipeline.html", pipeline=found, runs=runs)


@router.get("/pipelines/{name}/runs/{run_id}")
def pipeline_run(request: Request, name: str, run_id: str) -> HTMLResponse:
    project: Project = request.app.state.project
    record = project.orchestration.get_run(run_id)
    if record.pipeline != name:
        raise NotFoundError(f"Pipeline run '{run_id}' is a run of '{record.pipeline}', not of '{name}'.")
    graph = charts.lineage_graph(pipeline_lineage(project, record))
    return _render(
        request,
        "pipeline_run.html",
        run=_run(record),
        reads=record.reads,
        logs=project.orchestration.logs(run_id),
        graph=graph,
    )
