"""``fti serve``: the model server over a project's deployments, registry, feature views and request log.

Each uvicorn worker process opens the project itself (``app_factory``), from the folder and settings the
command passes down in the environment (``FTI_SERVE_PROJECT`` and ``FTI_SERVING_*``), so the command's
flags win over ``fti.yaml`` in every worker. SIGTERM or Ctrl-C shut down gracefully: requests in flight
finish and the request log is flushed to the offline store. With several workers the command makes a
fresh folder for Prometheus' multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) before they start, so
``/metrics`` answers the totals of all workers, and removes it when they have stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fti.cli.addresses import ensure_port_free
from fti.cli.console import err
from fti.cli.options import ProjectOption
from fti.project import Project, connect

if TYPE_CHECKING:
    from fastapi import FastAPI

    from fti.config import ServingConfig

__all__ = ["app_factory", "build_app", "serve"]

PROJECT_ENV = "FTI_SERVE_PROJECT"
#: where prometheus_client keeps the values of all workers (it reads this name when it is imported)
METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def build_app(
    project: Project,
    serving: ServingConfig | None = None,
    *,
    close_project: bool = False,
    multiprocess_dir: str | None = None,
) -> FastAPI:
    """The model server app over ``project``: its deployments, registry, feature views and inference log.

    Args:
        project: an open project.
        serving: server settings (default: the project's ``serving:`` section).
        close_project: close the project when the app shuts down (after the request log is flushed).
        multiprocess_dir: the workers' shared Prometheus folder, when several workers serve.
    """
    from fti.inference.adapters import (
        CatalogDeploymentSource,
        CatalogTokenStore,
        FeatureViewLookup,
        RegistryResolver,
    )
    from fti.inference.server import ServingSettings, create_app

    config = serving or project.settings.config.serving
    values = config.model_dump(exclude={"require_tokens", "deployments", "log_spool"})
    spool = str(project.root / ".fti" / "request_log_spool") if config.log_spool else None
    settings = ServingSettings(**values, multiprocess_dir=multiprocess_dir, log_spool_dir=spool)
    resolver = RegistryResolver(project.registry, ttl_seconds=settings.refresh_seconds)
    tokens = CatalogTokenStore(project.api_tokens) if config.require_tokens else None
    app = create_app(
        resolver,
        CatalogDeploymentSource(project.serving, only=config.deployments),
        FeatureViewLookup(project.features),
        project.inference_log,
        settings,
        tokens=tokens,
        feedback=project.feedback_log,
        audit=project.audit_log,
    )
    if close_project:
        inner = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(application: Any) -> AsyncIterator[Any]:
            try:
                async with inner(application) as state:
                    yield state
            finally:
                project.close()

        app.router.lifespan_context = lifespan
    return app


def app_factory() -> FastAPI:
    """Open the project named by ``FTI_SERVE_PROJECT`` and build its app (one per uvicorn worker)."""
    project = connect(os.environ.get(PROJECT_ENV) or None)
    try:
        return build_app(project, close_project=True, multiprocess_dir=os.environ.get(METRICS_ENV) or None)
    except BaseException:
        project.close()
        raise


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: serving.host, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default: serving.port, 8080).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (default: serving.workers, 1).")] = None,
    project: ProjectOption = Path(),
    batching: Annotated[
        bool | None,
        typer.Option(
            "--batching/--no-batching",
            help="Micro-batch concurrent requests per model (default: serving.batching, on; see docs/serving.md).",
        ),
    ] = None,
) -> None:
    """Serve the project's deployments: /v1, /v2 (Open Inference Protocol), /invocations and /metrics."""
    import uvicorn

    overrides = {"host": host, "port": port, "workers": workers, "batching": batching}
    for key, value in overrides.items():
        if value is not None:
            os.environ[f"FTI_SERVING_{key.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    root = project.resolve()
    os.environ[PROJECT_ENV] = str(root)
    with connect(root) as opened:  # fail here, with one line, when the project cannot be opened
        config = opened.settings.config.serving
        count = len(opened.deployments())
    ensure_port_free(config.host, config.port)
    if count == 0:
        err.print(
            "No deployments yet: prediction routes answer 404 until one exists. Create one with "
            "`fti deployments create NAME --variant MODEL@ALIAS` (or project.deploy); the running server picks it "
            "up within serving.refresh_seconds."
        )
    err.print(
        f"Serving {count} deployment(s) of {root} on http://{config.host}:{config.port} "
        f"with {config.workers} worker(s){', tokens required' if config.require_tokens else ''}."
    )
    metrics_dir = tempfile.mkdtemp(prefix="fti-metrics-") if config.workers > 1 else None
    if metrics_dir is not None:
        os.environ[METRICS_ENV] = metrics_dir
    try:
        uvicorn.run(
            "fti.cli.serve:app_factory",
            factory=True,
            host=config.host,
            port=config.port,
            workers=config.workers,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=30,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
