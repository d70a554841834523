"""The dashboard's FastAPI app: JSON API, HTML pages, package-served static files and optional token auth.

Nothing is loaded from another address: FastAPI's CDN-based docs pages are off (``/docs`` is a page of
our own over ``/openapi.json``) and a Content-Security-Policy keeps the browser on this server.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from fti import __version__
from fti.core.audit import acting_as
from fti.errors import FtiError
from fti.features.sql import shared_engine
from fti.inference.adapters import CatalogTokenStore
from fti.ui import activity, api, pages, pipelines, streams
from fti.ui.auth import TokenGate
from fti.ui.monitoring import CheckCache, load_rules

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from fti.project import Project

__all__ = ["CONTENT_SECURITY_POLICY", "create_app"]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'"
)


def create_app(
    project: Project,
    *,
    token: str | None = None,
    require_tokens: bool = False,
    alerts: str | Path | None = None,
) -> FastAPI:
    """The dashboard over an open ``project`` (the caller closes it).

    Args:
        project: the project whose catalog and stores the dashboard reads.
        token: when set, every page and API request needs a token (``Authorization: Bearer``) or the
            session cookie the login form sets; this one acts as an ``admin``.
        require_tokens: accept the project's API tokens (``fti tokens create``), each with its role, and
            require one (or ``token``) on every page and API request.
        alerts: a YAML file of alert rules to evaluate on the monitoring pages.

    Example:
        >>> import uvicorn  # doctest: +SKIP
        >>> uvicorn.run(create_app(fti.connect()), port=8090)  # doctest: +SKIP
    """
    app = FastAPI(
        title=f"FTI dashboard: {project.name}",
        version=__version__,
        description="Read-mostly JSON API behind the FTI dashboard pages.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.project = project
    shared_engine()  # the process's DuckDB database (~40 ms to open) opens with the app, not on a first page view
    tokens = CatalogTokenStore(project.api_tokens) if require_tokens else None

    def audit(actor: str, action: str, target: str) -> None:
        with acting_as(actor):
            project.audit_log.record(action, target)

    app.state.gate = gate = TokenGate(token, tokens, audit=audit)
    app.state.checks = CheckCache(load_rules(alerts) if alerts is not None else ())
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(pipelines.router)
    app.include_router(streams.router)
    app.include_router(activity.router)
    app.add_exception_handler(FtiError, _fti_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.middleware("http")(gate)
    app.middleware("http")(_security_headers)
    return app


async def _security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    start = time.perf_counter()
    response = await call_next(request)
    # Server-Timing lets the browser's tools and the benchmark read the time spent in the server
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.1f}"
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # same-origin, not no-referrer: under no-referrer the browser sends 'Origin: null' with the dashboard's own
    # form posts, and the cross-site check (fti.ui.auth) could not tell them from another site's
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
    """A malformed parameter of an API route: the API's one error format, naming each parameter."""
    if not request.url.path.startswith("/api/"):
        return await request_validation_exception_handler(request, exc)
    return JSONResponse({"detail": describe_request_errors(exc.errors())}, status_code=422)


def describe_request_errors(errors: Sequence[Any]) -> str:
    """FastAPI's validation errors as one sentence per parameter: where it is, its name and what is wrong."""
    parts = []
    for error in errors:
        where, *path = error.get("loc", ()) or ("request",)
        name = ".".join(str(part) for part in path) or str(where)
        parts.append(f"{where} parameter {name!r}: {error.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts) + "."


def _fti_error(request: Request, exc: FtiError) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": str(exc)}, status_code=exc.http_status)
    return pages.templates.TemplateResponse(
        request,
        "error.html",
        {
            "section": "",
            "project_name": request.app.state.project.name,
            "message": str(exc),
            "has_token": None,
            "status": exc.http_status,
        },
        status_code=exc.http_status,
    )
