"""The dashboard's JSON API under ``/api/``: what the pages show, paginated server-side.

Errors come back as ``{"detail": message}`` with the status of the :mod:`fti.errors` class (a malformed
run filter is a 422 that says what is wrong).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, StringConstraints

from fti.core.naming import IDENTIFIER_PATTERN
from fti.core.registry import MODEL_NAME_PATTERN
from fti.errors import ValidationError
from fti.ui import activity, deployments, feature_store, monitoring, summaries
from fti.ui.home import home as home_summary
from fti.ui.summaries import IMAGE_TYPES

if TYPE_CHECKING:
    from fti.project import Project
    from fti.ui.monitoring import CheckCache

__all__ = ["ApiError", "artifact_response", "router"]


class ApiError(BaseModel):
    """Every error of the API: one message naming what was wrong (the parameter, the object) and the fix."""

    detail: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ApiError, "description": description}
    for status, description in (
        (400, "The request cannot be carried out as asked."),
        (401, "A token is required (Authorization: Bearer, or the login form's session cookie)."),
        (403, "The token's role does not allow this request, or a change came from another site."),
        (404, "No such object."),
        (409, "The request conflicts with the project's state."),
        (422, "A parameter is malformed: the message names it."),
        (429, "Too many failed logins: wait a minute."),
    )
}

#: the query parameters the API takes several values of (``?order_by=a&order_by=b``)
_REPEATABLE = frozenset({"order_by"})


def _single_values(request: Request) -> None:
    """A parameter given more than once where the API takes one value is refused with a 422 naming it, rather
    than silently read as its last value."""
    counts = Counter(key for key, _ in request.query_params.multi_items())
    repeated = sorted(key for key, count in counts.items() if count > 1 and key not in _REPEATABLE)
    if repeated:
        raise RequestValidationError(
            [
                {"loc": ("query", key), "msg": "given more than once; give one value", "type": "value_error"}
                for key in repeated
            ]
        )


router = APIRouter(prefix="/api", responses=_ERRORS, dependencies=[Depends(_single_values)])

#: the largest id or count the catalog stores (a signed 64-bit integer)
MAX_INTEGER = 2**63 - 1

Limit = Annotated[int, Query(ge=1, le=summaries.MAX_PAGE, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_INTEGER, description="Items to skip.")]
Name = Annotated[
    str, Path(pattern=IDENTIFIER_PATTERN, description="Letters, digits and underscores, starting with a letter.")
]
ModelName = Annotated[str, Path(pattern=MODEL_NAME_PATTERN, description="The registered model's name.")]
Version = Annotated[int, Path(ge=1, le=MAX_INTEGER, description="The version number.")]
Commit = Annotated[int | None, Query(ge=0, le=MAX_INTEGER, description="A commit number (the latest if not given).")]
Scope = Annotated[
    Literal["feature_group", "commit"],
    Query(description="feature_group: the whole group as of the commit; commit: only the rows it added."),
]
Window = Annotated[
    str,
    Query(
        description="The time window, ending at the deployment's last logged request: 1h, 6h, 24h, 7d or 30d; "
        "all (the default) spans every logged request."
    ),
]


def _project(request: Request) -> Project:
    project: Project = request.app.state.project
    return project


@router.get("/health", tags=["dashboard"])
def health() -> dict[str, str]:
    """Liveness check (open even when a token is required)."""
    return {"status": "ok"}


@router.get("/overview", tags=["dashboard"])
def overview(request: Request) -> dict[str, Any]:
    """Counts of feature groups, views, training datasets, experiments, runs and models."""
    return summaries.overview(_project(request))


@router.get("/home", tags=["dashboard"])
def home(request: Request) -> dict[str, Any]:
    """The home page: counts, each deployment with its champion and latest drift report (and its alerts), the
    latest runs, and failed runs and pipeline runs."""
    return deployments.finite(home_summary(_project(request)))


@router.get("/activity", tags=["dashboard"])
def activity_log(
    request: Request,
    actor: activity.Actor = None,
    action: activity.Family = None,
    limit: activity.Limit = 100,
) -> dict[str, Any]:
    """The audit log, newest first: who (a token's name, or ``local:USER``) changed what, and when, each target
    with its page's link while it exists. Needs the ``admin`` role where tokens are required."""
    return activity.activity(_project(request), actor, action, limit)


@router.get("/feature-groups", tags=["feature store"])
def feature_groups(
    request: Request, search: str | None = None, limit: Limit = 50, offset: Offset = 0
) -> dict[str, Any]:
    """Feature group versions whose name, description, features or tags contain ``search``."""
    return feature_store.feature_groups(_project(request), search, limit, offset)


@router.get("/feature-groups/{name}/{version}", tags=["feature store"])
def feature_group(request: Request, name: Name, version: Version) -> dict[str, Any]:
    """A feature group version: schema, expectations and commits."""
    return feature_store.feature_group_detail(_project(request), name, version)


@router.get("/feature-groups/{name}/{version}/statistics", tags=["feature store"])
def feature_group_statistics(
    request: Request, name: Name, version: Version, commit: Commit = None, scope: Scope = "feature_group"
) -> dict[str, Any]:
    """Per-feature statistics and histograms of a commit (``scope=commit``) or of the group as of it."""
    return feature_store.feature_group_statistics(_project(request), name, version, commit, scope)


@router.get("/feature-views", tags=["feature store"])
def feature_views(request: Request, search: str | None = None, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Feature view versions whose name or description contain ``search``."""
    return feature_store.feature_views(_project(request), search, limit, offset)


@router.get("/feature-views/{name}/{version}", tags=["feature store"])
def feature_view(request: Request, name: Name, version: Version) -> dict[str, Any]:
    """A feature view version with its training datasets (splits, sizes, source commits)."""
    return feature_store.feature_view_detail(_project(request), name, version)


@router.get("/runs", tags=["experiments"])
def runs(
    request: Request,
    experiment: str | None = None,
    filter: Annotated[str | None, Query(description="e.g. metrics.f1 > 0.8 and params.model = 'xgb'")] = None,
    order_by: Annotated[
        list[Annotated[str, StringConstraints(min_length=1)]] | None,
        Query(description="e.g. -metrics.f1 (repeat for more keys)"),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """One page of runs with params.*, metrics.* and tags.* columns, and the total count."""
    order = [item for item in (order_by or []) if item.strip()]
    return summaries.runs(
        _project(request), experiment=experiment, filter=filter, order_by=order, limit=limit, offset=offset
    )


@router.get("/runs/compare", tags=["experiments"])
def compare_runs(
    request: Request, ids: Annotated[str, Query(description="Run ids, comma-separated.")]
) -> dict[str, Any]:
    """Runs side by side: params with differences marked, metrics, and metric curves over steps."""
    return summaries.compare_runs(_project(request), _ids(ids))


def _ids(text: str) -> list[str]:
    ids = [item.strip() for item in text.split(",") if item.strip()]
    if len(set(ids)) != len(ids):
        raise ValidationError(f"Run ids to compare repeat: {text!r}. Pass each run once.")
    return ids


@router.get("/runs/{run_id}", tags=["experiments"])
def run(request: Request, run_id: str) -> dict[str, Any]:
    """A run: params, metrics, tags, artifacts, code version, environment and lineage."""
    return summaries.run_detail(_project(request), run_id)


@router.get("/runs/{run_id}/metrics/{key:path}", tags=["experiments"])
def metric_history(request: Request, run_id: str, key: str) -> dict[str, Any]:
    """Every logged value of a metric, by step."""
    return summaries.metric_history(_project(request), run_id, key)


@router.get("/runs/{run_id}/artifacts/{path:path}", tags=["experiments"])
def artifact(request: Request, run_id: str, path: str, inline: bool = False) -> Response:
    """A run's artifact file (``inline=true`` shows images in the page instead of downloading)."""
    return artifact_response(_project(request), run_id, path, inline=inline)


def artifact_response(project: Project, run_id: str, path: str, *, inline: bool) -> Response:
    """The artifact's bytes; only raster images are ever shown inline, everything else downloads."""
    data = project.get_run(run_id).read_artifact(path)
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path else ""
    media_type = IMAGE_TYPES.get(suffix, "application/octet-stream")
    is_inline = inline and suffix in IMAGE_TYPES and suffix != ".svg"
    filename = path.rsplit("/", 1)[-1].replace('"', "")
    disposition = "inline" if is_inline else f'attachment; filename="{filename}"'
    return Response(
        data,
        media_type=media_type if is_inline or suffix != ".svg" else "application/octet-stream",
        headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"},
    )


@router.get("/models", tags=["models"])
def models(request: Request, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Registered models with their latest version and aliases."""
    return summaries.models(_project(request), limit, offset)


@router.get("/models/{name}", tags=["models"])
def model(request: Request, name: ModelName) -> dict[str, Any]:
    """A registered model: versions with metrics, aliases and alias history."""
    return summaries.model_detail(_project(request), name)


@router.get("/models/{name}/versions/{version}/lineage", tags=["models"])
def model_lineage(request: Request, name: ModelName, version: Version) -> dict[str, Any]:
    """A model version's lineage graph: feature-group commits, feature view, training dataset, run."""
    return summaries.model_lineage(_project(request), name, version)


@router.get("/deployments", tags=["deployments"])
def deployment_list(request: Request) -> dict[str, Any]:
    """Deployments: variants with their traffic shares and the versions they serve now, shadow, logged traffic."""
    return deployments.deployments(_project(request))


@router.get("/deployments/{name}", tags=["deployments"])
def deployment(request: Request, name: Name, window: Window = deployments.DEFAULT_WINDOW) -> dict[str, Any]:
    """A deployment's requests, rows and p50/p99 latency per time bucket and per variant, from the request log."""
    return deployments.deployment_detail(_project(request), name, window)


@router.get("/deployments/{name}/ab", tags=["deployments"])
def deployment_ab(
    request: Request,
    name: Name,
    window: Window = deployments.DEFAULT_WINDOW,
    metric: Annotated[
        str | None,
        Query(
            description="accuracy, error_rate, squared_error, absolute_error, roc_auc or average_precision; by "
            "default the metric of the deployment's newest stored A/B report, else accuracy."
        ),
    ] = None,
    mde: Annotated[float | None, Query(description="Minimum detectable effect, for the sample size needed.")] = 0.05,
    alpha: Annotated[float, Query(description="Significance level.")] = 0.05,
) -> dict[str, Any]:
    """A/B analysis of the variants on labelled traffic: metric per variant, test, p-value, samples, winner."""
    project = _project(request)
    chosen = metric or monitoring.ab_metric(project, name)
    return deployments.ab_analysis(project, name, window, metric=chosen, mde=mde, alpha=alpha)


def _checks(request: Request) -> CheckCache:
    cache: CheckCache = request.app.state.checks
    return cache


@router.get("/monitoring", tags=["monitoring"])
def monitoring_overview(request: Request) -> dict[str, Any]:
    """Deployments with their logged rows and stored monitoring reports."""
    return monitoring.monitoring_overview(_project(request))


@router.get("/monitoring/{name}", tags=["monitoring"])
def drift_report(
    request: Request,
    name: Name,
    window: Window = deployments.DEFAULT_WINDOW,
    refresh: Annotated[bool, Query(description="Check again instead of using the kept check.")] = False,
) -> dict[str, Any]:
    """Drift per feature (score, method, distributions), drift over time, data quality and alert rules, over
    the latest logged rows of the window (at most 5,000; the check is kept for 5 minutes)."""
    return monitoring.drift_report(_project(request), _checks(request), name, window, refresh=refresh)


@router.get("/monitoring/{name}/reports/{stamp}", tags=["monitoring"])
def stored_report(request: Request, name: Name, stamp: str) -> dict[str, Any]:
    """A monitoring report stored by ``fti monitor report --save`` (or ``result.save()``)."""
    return monitoring.stored_report(_project(request), name, stamp)
