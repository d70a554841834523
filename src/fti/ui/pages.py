"""The dashboard's HTML pages, rendered on the server from the same data the JSON API returns."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from fti import charts
from fti.monitoring.report import render_body, when
from fti.ui import deployments, feature_store, monitoring, summaries
from fti.ui.auth import COOKIE, DASHBOARD_TOKEN, SESSION_SECONDS, TokenGate, is_https, logged_in
from fti.ui.home import home as home_summary

if TYPE_CHECKING:
    from fti.project import Project

__all__ = ["router", "templates"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals["charts"] = charts
templates.env.globals["palette"] = charts.PALETTE
templates.env.filters["when"] = when
templates.env.filters["stamp"] = monitoring.stamp_label


def _project(request: Request) -> Project:
    project: Project = request.app.state.project
    return project


def _render(request: Request, name: str, section: str, **context: Any) -> HTMLResponse:
    context |= {"section": section, "project_name": _project(request).name, "has_token": logged_in(request)}
    return templates.TemplateResponse(request, name, context)


def _gate(request: Request) -> TokenGate:
    gate: TokenGate = request.app.state.gate
    return gate


@router.get("/")
def home(request: Request) -> HTMLResponse:
    return _render(request, "overview.html", "overview", home=home_summary(_project(request)))


@router.get("/feature-groups")
def feature_groups(request: Request, search: str = "", offset: int = 0) -> HTMLResponse:
    data = feature_store.feature_groups(_project(request), search, 50, max(offset, 0))
    return _render(request, "feature_groups.html", "features", data=data, search=search)


@router.get("/feature-groups/{name}/{version}")
def feature_group(
    request: Request, name: str, version: int, commit: int | None = None, scope: str = "feature_group"
) -> HTMLResponse:
    project = _project(request)
    group = feature_store.feature_group_detail(project, name, version)
    statistics = (
        feature_store.feature_group_statistics(project, name, version, commit, scope) if group["commits"] else None
    )
    preview = feature_store.feature_group_preview(project, name, version) if group["commits"] else None
    return _render(
        request, "feature_group.html", "features", group=group, statistics=statistics, scope=scope, preview=preview
    )


@router.get("/feature-views")
def feature_views(request: Request, search: str = "", offset: int = 0) -> HTMLResponse:
    data = feature_store.feature_views(_project(request), search, 50, max(offset, 0))
    return _render(request, "feature_views.html", "views", data=data, search=search)


@router.get("/feature-views/{name}/{version}")
def feature_view(request: Request, name: str, version: int) -> HTMLResponse:
    view = feature_store.feature_view_detail(_project(request), name, version)
    return _render(request, "feature_view.html", "views", view=view)


@router.get("/runs")
def runs(request: Request) -> HTMLResponse:
    experiments = _project(request).tracking.experiments()
    return _render(request, "runs.html", "runs", experiments=experiments)


@router.get("/runs/compare")
def compare(request: Request, ids: str) -> HTMLResponse:
    data = summaries.compare_runs(_project(request), [item for item in ids.split(",") if item])
    labels = [item["name"] or item["run_id"][:8] for item in data["runs"]]
    # a metric logged once per run is a number, in the table: only metrics logged over steps get a curve
    curves = {
        key: charts.line_chart(
            [(label, series["steps"], series["values"]) for label, series in zip(labels, histories, strict=True)],
            title=key,
        )
        for key, histories in data["curves"].items()
        if any(len(series["steps"]) > 1 for series in histories)
    }
    return _render(request, "compare.html", "runs", data=data, labels=labels, curves=curves)


@router.get("/runs/{run_id}")
def run(request: Request, run_id: str) -> HTMLResponse:
    project = _project(request)
    data = summaries.run_detail(project, run_id)
    # single values are the metrics table; only metrics logged over steps are drawn
    curves = {}
    for key in data["metrics"]:
        history = summaries.metric_history(project, run_id, key)
        if len(history["steps"]) > 1:
            curves[key] = charts.line_chart(
                [(key, history["steps"], history["values"])], title=key, width=420, height=180
            )
    images = sorted((item for item in data["artifacts"] if item["is_image"]), key=_figure_order)
    return _render(request, "run.html", "runs", run=data, curves=curves, images=images)


_EVALUATION_FIGURES = re.compile(r"roc|precision|recall|\bpr\b|pr_curve|confusion|calibration", re.IGNORECASE)


def _figure_order(artifact: dict[str, Any]) -> tuple[bool, str]:
    """ROC, precision-recall and confusion figures first (what a model is judged by), then the rest by path."""
    return _EVALUATION_FIGURES.search(artifact["path"]) is None, artifact["path"]


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
def deployment_list(request: Request) -> HTMLResponse:
    data = deployments.deployments(_project(request))
    return _render(request, "deployments.html", "deployments", data=data)


@router.get("/deployments/{name}")
def deployment(
    request: Request, name: str, window: str = deployments.DEFAULT_WINDOW, metric: str | None = None
) -> HTMLResponse:
    project = _project(request)
    data = deployments.deployment_detail(project, name, window)
    chosen = metric or monitoring.ab_metric(project, name)  # by default, what its stored A/B reports decide on
    ab = deployments.ab_analysis(project, name, window, metric=chosen)
    requests_chart, latency_chart = _traffic_charts(data)
    feedback = deployments.feedback_over_time(project, name, data["window"])
    return _render(
        request,
        "deployment.html",
        "deployments",
        deployment=data,
        ab=ab,
        metrics=deployments.AB_METRICS,
        requests_chart=requests_chart,
        latency_chart=latency_chart,
        feedback=feedback,
        feedback_chart=_feedback_chart(feedback, data),
    )


def _traffic_charts(data: dict[str, Any]) -> tuple[Markup, Markup]:
    """Requests per variant and p50/p99 latency of all served traffic, one point per bucket of the window."""
    window = data["window"]
    width = window["bucket_seconds"]
    start, end = (datetime.fromisoformat(window[key]).timestamp() for key in ("start", "end"))
    stamps = [
        datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")
        for moment in range(int(start), int(end), width)
    ]
    steps = list(range(len(stamps)))
    position = {stamp: index for index, stamp in enumerate(stamps)}
    # the deployment's order, so that each line has its variant's colour; then anything else logged
    names = [(variant["reference"], False) for variant in data["variants"]]
    names += [(data["shadow"]["reference"], True)] if data["shadow"] else []
    logged = {(item["variant"], item["is_shadow"]) for item in data["buckets"] if item["variant"] is not None}
    names += sorted(logged - set(names))
    counts: dict[tuple[str, bool], list[float | None]] = {name: [0.0] * len(stamps) for name in names}
    p50: list[float | None] = [None] * len(stamps)
    p99: list[float | None] = [None] * len(stamps)
    for item in data["buckets"]:
        index = position.get(item["start"])
        if index is None:
            continue
        if item["variant"] is None:
            p50[index], p99[index] = item["p50_ms"], item["p99_ms"]
        else:
            counts[(item["variant"], item["is_shadow"])][index] = float(item["requests"])
    # buckets under a minute need the seconds to tell the two ends apart
    size = 19 if width < 60 else 16
    ends = (_short(window["start"], size), _short(window["end"], size))
    series = [
        (f"{variant} (shadow)" if is_shadow else variant, steps, counts[(variant, is_shadow)])
        for variant, is_shadow in names
    ]
    requests_chart = charts.line_chart(series, title="requests per bucket", x_labels=ends, width=620)
    latency_chart = charts.line_chart(
        [("p50 ms", steps, p50), ("p99 ms", steps, p99)], title="latency (ms), served traffic", x_labels=ends, width=620
    )
    return requests_chart, latency_chart


def _feedback_chart(feedback: dict[str, Any], data: dict[str, Any]) -> Markup:
    """The mean feedback rating per model version, one point per bucket of the window."""
    steps = list(range(feedback["buckets"]))
    ends = (_short(data["window"]["start"]), _short(data["window"]["end"]))
    series = [(version, steps, entry["rating"]) for version, entry in sorted(feedback["versions"].items())]
    return charts.line_chart(series, title="feedback rating (mean, 0 to 1) per model version", x_labels=ends, width=620)


def _short(stamp: str, size: int = 16) -> str:
    return stamp.replace("T", " ")[:size]


@router.get("/monitoring")
def monitoring_list(request: Request) -> HTMLResponse:
    data = monitoring.monitoring_overview(_project(request))
    return _render(request, "monitoring.html", "monitoring", data=data)


@router.get("/monitoring/{name}")
def drift_report(
    request: Request, name: str, window: str = deployments.DEFAULT_WINDOW, refresh: bool = False
) -> HTMLResponse:
    cache: monitoring.CheckCache = request.app.state.checks
    data = monitoring.drift_report(_project(request), cache, name, window, refresh=refresh)
    return _render(
        request,
        "drift_report.html",
        "monitoring",
        report=data,
        body=render_body(data),
        windows=[deployments.ALL, *deployments.WINDOWS],
    )


@router.get("/monitoring/{name}/reports/{stamp}")
def stored_report(request: Request, name: str, stamp: str) -> HTMLResponse:
    data = monitoring.stored_report(_project(request), name, stamp) | {"deployment": name}
    if data["kind"] == "ab":
        return _render(request, "ab_report.html", "monitoring", ab=data)
    return _render(request, "drift_report.html", "monitoring", report=data, body=render_body(data), windows=[])


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
    client = request.client.host if request.client is not None else "unknown"
    wait = gate.retry_after(client)
    if wait:
        return HTMLResponse(
            f"Too many wrong tokens from this address: try again in {wait} s.",
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    identity = gate.check(client, token)
    if identity is None:
        return RedirectResponse(f"/login?failed=1&next={target}", status_code=303)
    gate.record(identity, "session.login", client)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        gate.start_session(identity, token if identity != DASHBOARD_TOKEN else None),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    gate = _gate(request)
    identity = gate.end_session(request.cookies.get(COOKIE, ""))
    if identity is not None:
        gate.record(identity, "session.logout", request.client.host if request.client is not None else "unknown")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def _safe_next(target: str) -> str:
    # only paths on this server: never '//host' or a full URL
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"
