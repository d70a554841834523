"""The dashboard's HTML pages, rendered on the server from the same data the JSON API returns."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from fti.ui import charts, summaries
from fti.ui.auth import COOKIE, TokenGate, session_value

if TYPE_CHECKING:
    from fti.project import Project

__all__ = ["router", "templates"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals["charts"] = charts
templates.env.globals["palette"] = charts.PALETTE
templates.env.filters["when"] = lambda value: (
    value.replace("T", " ").replace("+00:00", " UTC") if isinstance(value, str) else "—" if value is None else value
)


def _project(request: Request) -> Project:
    project: Project = request.app.state.project
    return project


def _render(request: Request, name: str, section: str, **context: Any) -> HTMLResponse:
    context |= {"section": section, "project_name": _project(request).name, "has_token": _gate(request).token}
    return templates.TemplateResponse(request, name, context)


def _gate(request: Request) -> TokenGate:
    gate: TokenGate = request.app.state.gate
    return gate


@router.get("/")
def home(request: Request) -> HTMLResponse:
    return _render(request, "overview.html", "overview", overview=summaries.overview(_project(request)))


@router.get("/feature-groups")
def feature_groups(request: Request, search: str = "", offset: int = 0) -> HTMLResponse:
    data = summaries.feature_groups(_project(request), search, 50, max(offset, 0))
    return _render(request, "feature_groups.html", "features", data=data, search=search)


@router.get("/feature-groups/{name}/{version}")
def feature_group(
    request: Request, name: str, version: int, commit: int | None = None, scope: str = "feature_group"
) -> HTMLResponse:
    project = _project(request)
    group = summaries.feature_group_detail(project, name, version)
    statistics = summaries.feature_group_statistics(project, name, version, commit, scope) if group["commits"] else None
    return _render(request, "feature_group.html", "features", group=group, statistics=statistics, scope=scope)


@router.get("/feature-views")
def feature_views(request: Request, search: str = "", offset: int = 0) -> HTMLResponse:
    data = summaries.feature_views(_project(request), search, 50, max(offset, 0))
    return _render(request, "feature_views.html", "views", data=data, search=search)


@router.get("/feature-views/{name}/{version}")
def feature_view(request: Request, name: str, version: int) -> HTMLResponse:
    view = summaries.feature_view_detail(_project(request), name, version)
    return _render(request, "feature_view.html", "views", view=view)


@router.get("/runs")
def runs(request: Request) -> HTMLResponse:
    experiments = _project(request).tracking.experiments()
    return _render(request, "runs.html", "runs", experiments=experiments)


@router.get("/runs/compare")
def compare(request: Request, ids: str) -> HTMLResponse:
    data = summaries.compare_runs(_project(request), [item for item in ids.split(",") if item])
    labels = [item["name"] or item["run_id"][:8] for item in data["runs"]]
    curves = {
        key: charts.line_chart(
            [(label, series["steps"], series["values"]) for label, series in zip(labels, histories, strict=True)],
            title=key,
        )
        for key, histories in data["curves"].items()
    }
    return _render(request, "compare.html", "runs", data=data, labels=labels, curves=curves)


@router.get("/runs/{run_id}")
def run(request: Request, run_id: str) -> HTMLResponse:
    project = _project(request)
    data = summaries.run_detail(project, run_id)
    curves = {}
    for key in data["metrics"]:
        history = summaries.metric_history(project, run_id, key)
        curves[key] = charts.line_chart([(key, history["steps"], history["values"])], title=key, width=420, height=180)
    return _render(request, "run.html", "runs", run=data, curves=curves)


@router.get("/models")
def models(request: Request, offset: int = 0) -> HTMLResponse:
    data = summaries.models(_project(request), 50, max(offset, 0))
    return _render(request, "models.html", "models", data=data)


@router.get("/models/{name}")
def model(request: Request, name: str) -> HTMLResponse:
    data = summaries.model_detail(_project(request), name)
    return _render(request, "model.html", "models", model=data)


@router.get("/models/{name}/versions/{version}")
def model_version(request: Request, name: str, version: int) -> HTMLResponse:
    project = _project(request)
    data = summaries.model_detail(project, name)
    chosen = next((item for item in data["versions"] if item["version"] == version), None)
    if chosen is None:
        from fti.errors import NotFoundError

        raise NotFoundError(f"Model '{name}' has no version {version}: see /models/{name} for its versions.")
    graph = summaries.model_lineage(project, name, version)
    return _render(
        request, "model_version.html", "models", model=data, version=chosen, graph=charts.lineage_graph(graph)
    )


@router.get("/deployments")
def deployments(request: Request) -> HTMLResponse:
    return _render(request, "not_yet.html", "deployments", title="Deployments")


@router.get("/monitoring")
def monitoring(request: Request) -> HTMLResponse:
    return _render(request, "not_yet.html", "monitoring", title="Monitoring")


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    schema = request.app.openapi()
    operations = [
        {"method": method.upper(), "path": path, **operation}
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]
    return _render(request, "docs.html", "docs", operations=operations, info=schema["info"])


@router.get("/login")
def login_form(request: Request, next: str = "/", failed: bool = False) -> HTMLResponse:
    return _render(request, "login.html", "login", next=_safe_next(next), failed=failed)


@router.post("/login")
async def login(request: Request) -> Response:
    form = parse_qs((await request.body()).decode(errors="replace"))
    token = form.get("token", [""])[0]
    target = _safe_next(form.get("next", ["/"])[0])
    gate = _gate(request)
    if not gate.is_valid(token):
        return RedirectResponse(f"/login?failed=1&next={target}", status_code=303)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, session_value(token), httponly=True, samesite="strict")
    return response


@router.get("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def _safe_next(target: str) -> str:
    # only paths on this server: never '//host' or a full URL
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"
