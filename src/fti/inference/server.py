"""The model server: a FastAPI app answering predictions for deployments and registered models.

Endpoints:

- ``POST /v1/deployments/{name}/predict``: ``{"instances": [...]}`` or ``{"entities": [...],
  "passed_features": [...]}``; answers ``request_id``, ``deployment`` and, per row, ``predictions`` (and
  ``proba`` with ``classes`` for a deployment answering class scores), ``model_names`` and ``model_versions``.
- ``GET /v1/status``: each deployment's state (``ready`` or ``failed`` with the reason) and versions.
- Open Inference Protocol V2 (with Triton's binary tensors): ``GET /v2``, ``/v2/health/live``,
  ``/v2/health/ready``, ``/v2/models/{model}[/versions/{v}]``, ``.../ready``, ``POST .../infer``. A
  ``{model}`` that names a deployment goes through its traffic split; otherwise it is a registered model.
  Readiness is 503 while a deployment failed to load.
- MLflow scoring: ``POST /invocations`` (``dataframe_split``, ``dataframe_records``, ``instances``,
  ``inputs``; ``params`` may ask for ``output_kind`` or MLflow's ``predict_method``), ``GET /ping``.
- ``POST /v1/deployments/{name}/feedback`` (``fti.inference.feedback``): a rating or a preferred response for a
  logged request, by its request id.
- Text generation (``fti.inference.generation``): ``POST /v1/deployments/{name}/generate`` and the
  OpenAI-compatible ``/v1/completions``, ``/v1/chat/completions`` and ``/v1/models``.
- ``GET /metrics`` for Prometheus (all workers' metrics together when ``multiprocess_dir`` is set).

Request bodies are parsed by hand (``payloads``, ``v2``) instead of pydantic models: it keeps the hot path
short and lets every 422 name its field. Errors answer ``{"error": message, "request_id": id}``.

The module runs a little over 400 lines: the app factory and the handlers of its three protocols share one
``_Server``, and splitting the handlers from it would pass that state around for no reader's gain.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from fti.errors import BackendError, NotFoundError, UserError, ValidationError
from fti.inference.batching import BatchingConfig
from fti.inference.feedback import mount_feedback
from fti.inference.generation import mount_generation
from fti.inference.guard import BodyTooLargeError, Guard, caller_request_id, error_response, too_large
from fti.inference.live import LoadedDeployment, ModelTable
from fti.inference.metrics import CONTENT_TYPE_LATEST, ServerMetrics
from fti.inference.openapi import document
from fti.inference.outputs import invocations_kind, invocations_predictions, needs_proba, v1_fields
from fti.inference.payloads import parse_csv, parse_invocations, parse_json, parse_v1
from fti.inference.pipeline import Prediction, Predictor
from fti.inference.ports import (
    AuditSink,
    DeploymentSource,
    FeatureLookup,
    FeedbackSink,
    ModelResolver,
    ServedModel,
    TokenStore,
)
from fti.inference.tasks import stop_task
from fti.inference.v2 import encode_response, model_metadata, parse_infer, requested_kind
from fti.inference_log.spool import RequestSpool
from fti.inference_log.writer import RequestLogConfig, RequestLogger, RequestLogSink

__all__ = ["ServingSettings", "create_app"]

_logger = logging.getLogger(__name__)
_JSON = "application/json"


class ServingSettings(BaseModel):
    """Settings of the model server (``serving:`` in fti.yaml, ``FTI_SERVING_*`` in the environment)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    max_body_bytes: int = Field(default=4 << 20, ge=1, description="larger request bodies get 413")
    max_concurrent_requests: int = Field(
        default=1024, ge=1, description="requests a worker handles at once; more get 429 with Retry-After"
    )
    batching: bool = Field(default=True, description="micro-batch concurrent requests per model (see docs/serving.md)")
    batch_max_rows: int = Field(default=256, ge=1)
    batch_max_wait_ms: float = Field(default=0.0, ge=0, description="0: batch only what queued while the model ran")
    log_batch_rows: int = Field(default=1000, ge=1, description="request log rows per write")
    log_flush_seconds: float = Field(default=1.0, gt=0)
    log_max_queue_rows: int = Field(default=100_000, ge=1, description="request log rows queued before dropping")
    log_spool_dir: str | None = Field(
        default=None, description="folder of the request log's crash spool (None: the log is kept in memory only)"
    )
    log_spool_seconds: float = Field(
        default=0.1, gt=0, description="how often the request log is synced to the spool (the most a crash loses)"
    )
    refresh_seconds: float = Field(default=5.0, gt=0, description="how often deployments and aliases are checked")
    seed: int | None = Field(default=None, description="seed of random variant assignment (rows without entity keys)")
    invocations_deployment: str | None = Field(default=None, description="deployment behind /invocations")
    trust_request_time: bool = Field(
        default=False,
        description="log a /v1 prediction at the time its X-Request-Time header gives (replayed or simulated traffic)",
    )
    multiprocess_dir: str | None = Field(
        default=None, description="Prometheus multiprocess folder shared by all workers (PROMETHEUS_MULTIPROC_DIR)"
    )


class _Server:
    """The app's state and handlers; one per app."""

    def __init__(
        self,
        resolver: ModelResolver,
        deployments: DeploymentSource,
        features: FeatureLookup | None,
        sink: RequestLogSink,
        settings: ServingSettings,
        tokens: TokenStore | None,
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self.features = features
        self.metrics = ServerMetrics(settings.multiprocess_dir)
        self.table = ModelTable(
            resolver, deployments, seed=settings.seed, on_swap=lambda name: self.metrics.model_swaps.labels(name).inc()
        )
        self.logger = RequestLogger(
            sink,
            RequestLogConfig(
                settings.log_batch_rows,
                settings.log_flush_seconds,
                settings.log_max_queue_rows,
                settings.log_spool_seconds,
            ),
            on_drop=self.metrics.log_dropped.inc,
            spool=RequestSpool(settings.log_spool_dir) if settings.log_spool_dir is not None else None,
        )
        self.metrics.watch_log_queue(lambda: self.logger.queue_depth)
        batching = BatchingConfig(settings.batching, settings.batch_max_rows, settings.batch_max_wait_ms)
        self.predictor = Predictor(self.table, self.logger, self.metrics, batching)
        self.ready = False

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        replayed = await asyncio.to_thread(self.logger.replay)  # what a crashed server acknowledged but did not log
        if replayed:
            _logger.info(
                "Replayed %d request log rows from the spool of a server that stopped without flushing.", replayed
            )
        self.logger.start()
        try:
            await asyncio.to_thread(self.table.refresh)
            # Everything loaded so far (libraries, models) lives as long as the server: freezing it keeps
            # the cyclic garbage collector from scanning it on every full collection, which otherwise
            # stalls every request in flight (the server's tail latency) once a second under load.
            gc.collect()
            gc.freeze()
            self.ready = True
            poller = asyncio.get_running_loop().create_task(self._poll())
            try:
                yield
            finally:
                self.ready = False
                await stop_task(poller)
                await self.predictor.close()
        finally:
            await asyncio.to_thread(self.logger.close)
            self.metrics.close()

    @property
    def is_ready(self) -> bool:
        """Started, and every deployment serves its current models."""
        return self.ready and not self.table.failures

    def status(self) -> dict[str, Any]:
        """Each deployment's state and versions: the ``/v1/status`` answer."""
        failures = self.table.failures
        deployments: dict[str, Any] = {
            name: {"state": "failed", "error": reason} for name, reason in sorted(failures.items())
        }
        for name in self.table.deployment_names:
            loaded = self.table.find_deployment(name)
            if loaded is None:
                continue
            entry = deployments.setdefault(name, {"state": "ready"})
            references = loaded.deployment.loaded_references
            entry["versions"] = dict(zip(references, loaded.versions, strict=True))
        return {"ready": self.is_ready, "deployments": deployments}

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.settings.refresh_seconds)
            try:
                if await asyncio.to_thread(self.table.refresh):
                    await self.predictor.prune()
            except Exception:  # the poller must outlive a failing source; the next round tries again
                _logger.exception("Checking deployments for changes failed; serving the loaded models.")

    # -- request plumbing --------------------------------------------------------------------------

    def route(
        self, endpoint: str, handler: Callable[[Request, str, float], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """Wrap ``handler`` so that every error becomes a JSON answer with the request id (E5)."""

        async def guarded(request: Request) -> Response:
            started = time.perf_counter()
            request_id = caller_request_id(request.headers.get("x-request-id"))
            try:
                response = await handler(request, request_id, started)
            except (UserError, BackendError) as exc:
                response = self.error(exc.http_status, str(exc), request_id)
            except Exception:  # model or server failure: log the details, answer without internals
                _logger.exception("Request %s to %s failed.", request_id, request.url.path)
                message = f"Prediction failed on request {request_id}; the server log has the details."
                response = self.error(500, message, request_id)
            if response.status_code >= 400:
                self.metrics.errors.labels(endpoint, str(response.status_code)).inc()
            response.headers["x-request-id"] = request_id
            return response

        return guarded

    @staticmethod
    def error(status: int, message: str, request_id: str) -> Response:
        return error_response(status, message, request_id)

    async def body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLargeError(too_large(size, limit))
            chunks.append(chunk)
        return b"".join(chunks)

    async def deployment(self, name: str) -> LoadedDeployment:
        loaded = self.table.find_deployment(name)
        if loaded is None:
            loaded = await asyncio.to_thread(self.table.load_deployment, name)
        return loaded

    async def model(self, reference: str) -> ServedModel:
        model = self.table.find_model(reference)
        if model is None:
            model = await asyncio.to_thread(self.table.load_model, reference)
        return model

    def observe(self, prediction: Prediction, started: float) -> None:
        elapsed = time.perf_counter() - started
        for model in prediction.models:
            version = str(model.version)
            self.metrics.requests.labels(prediction.deployment, model.name, version).inc()
            self.metrics.latency.labels(prediction.deployment, model.name, version).observe(elapsed)

    # -- /v1 -----------------------------------------------------------------------------------------

    async def predict(self, request: Request, request_id: str, started: float) -> Response:
        name = request.path_params["name"]
        parsed = parse_v1(parse_json(await self.body(request)))
        loaded = await self.deployment(name)
        if parsed.instances is not None:
            frame, keys = parsed.instances, loaded.router.key_frame(parsed.instances)
        else:
            assert parsed.entities is not None
            frame, keys = await self.lookup(loaded, parsed.entities, parsed.passed_features), parsed.entities
        prediction = await self.predictor.predict_deployment(
            loaded, frame, keys, request_id, started, logged_at=self.request_time(request)
        )
        self.observe(prediction, started)
        answer = {
            "request_id": request_id,
            "deployment": prediction.deployment,
            **v1_fields(loaded.deployment.output_kind, prediction.predictions, prediction.proba, prediction.classes),
            "model_names": prediction.model_names,
            "model_versions": prediction.model_versions,
        }
        return Response(orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY), media_type=_JSON)

    def request_time(self, request: Request) -> datetime | None:
        """The time the request log records for ``request``: its ``X-Request-Time`` header (ISO 8601 with a time
        zone) when the server trusts it (``serving.trust_request_time``), else None (now). An untrusted header
        is ignored: a client cannot move its requests in the log of a server that does not replay traffic."""
        given = request.headers.get("x-request-time")
        if given is None or not self.settings.trust_request_time:
            return None
        try:
            moment = datetime.fromisoformat(given)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise ValidationError(
                f"Header X-Request-Time is {given[:64]!r}: give an ISO 8601 time with a time zone, such as "
                "2026-01-23T14:05:00+00:00."
            )
        return moment.astimezone(UTC)

    async def lookup(self, loaded: LoadedDeployment, entities: Any, passed: Any) -> Any:
        deployment = loaded.deployment
        if self.features is None or deployment.feature_lookup is None:
            raise ValidationError(
                f"Deployment '{deployment.name}' has no feature view to look features up in: send 'instances' "
                "with the feature values, or deploy it with feature_view=..."
            )
        return await asyncio.to_thread(self.features.get_feature_vectors, deployment.feature_lookup, entities, passed)

    # -- Open Inference Protocol V2 ------------------------------------------------------------------

    async def v2_target(self, request: Request) -> tuple[ServedModel, LoadedDeployment | None]:
        name = request.path_params["model"]
        version = request.path_params.get("version")
        if version is not None:
            if not version.isdigit():
                raise ValidationError(f"Model version '{version}' of '{name}' must be a positive integer.")
            return await self.model(f"{name}:{int(version)}"), None
        loaded = self.table.find_deployment(name)
        if loaded is not None:
            return loaded.models[0], loaded
        known = self.table.find_model(name)
        if known is not None:  # a registered model served before: no catalog round trip per request
            return known, None
        with contextlib.suppress(NotFoundError):
            loaded = await self.deployment(name)
            return loaded.models[0], loaded
        try:
            return await self.model(name), None
        except NotFoundError as exc:
            raise NotFoundError(f"'{name}' is neither a deployment nor a registered model ({exc}).") from exc

    async def v2_metadata(self, request: Request, _request_id: str, _started: float) -> Response:
        model, loaded = await self.v2_target(request)
        metadata = model_metadata(model, request.path_params["model"])
        if loaded is not None:
            metadata["versions"] = sorted({str(version) for version in loaded.versions})
        return Response(orjson.dumps(metadata), media_type=_JSON)

    async def v2_ready(self, request: Request, request_id: str, _started: float) -> Response:
        failure = self.table.failures.get(request.path_params["model"])
        if failure is not None:
            return self.error(503, f"Deployment '{request.path_params['model']}' failed to load: {failure}", request_id)
        await self.v2_target(request)
        return Response(status_code=200 if self.ready else 503)

    async def v2_infer(self, request: Request, request_id: str, started: float) -> Response:
        model, loaded = await self.v2_target(request)
        body = await self.body(request)
        parsed = parse_infer(body, request.headers.get("inference-header-content-length"), model)
        request_id = parsed.id or request_id
        kind = requested_kind(parsed, model, loaded.deployment.output_kind if loaded is not None else "predict")
        if loaded is not None:
            prediction = await self.predictor.predict_deployment(
                loaded, parsed.frame, loaded.router.key_frame(parsed.frame), request_id, started, kind
            )
            self.observe(prediction, started)
            predictions, proba, answered = prediction.predictions, prediction.proba, prediction.models[0]
        else:
            predictions, proba = await self.predictor.predict_model(
                model, parsed.frame, request_id, started, proba=needs_proba(kind)
            )
            answered = model
            self.metrics.requests.labels("", model.name, str(model.version)).inc()
            self.metrics.latency.labels("", model.name, str(model.version)).observe(time.perf_counter() - started)
        content, headers = encode_response(
            parsed, answered, request.path_params["model"], (kind, predictions, proba), request_id
        )
        media = "application/octet-stream" if headers else _JSON
        return Response(content, headers=headers, media_type=media)

    # -- MLflow scoring ------------------------------------------------------------------------------

    async def invocations(self, request: Request, request_id: str, started: float) -> Response:
        body = await self.body(request)
        media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        payload: dict[str, Any]
        if media == "text/csv":  # as MLflow's scoring server: a header row, then the rows
            payload, frame = {}, parse_csv(body)
        else:
            parsed = parse_json(body)
            frame = parse_invocations(parsed)
            payload = parsed
        name = self.settings.invocations_deployment
        if name is None:
            names = self.table.deployment_names
            if len(names) != 1:
                raise NotFoundError(
                    f"/invocations needs one deployment to answer with but {len(names)} are deployed "
                    f"({sorted(names)}): set serving.invocations_deployment."
                )
            name = names[0]
        loaded = await self.deployment(name)
        kind = invocations_kind(payload.get("params"), loaded.deployment.output_kind)
        prediction = await self.predictor.predict_deployment(
            loaded, frame, loaded.router.key_frame(frame), request_id, started, kind
        )
        self.observe(prediction, started)
        predictions = invocations_predictions(kind, prediction.output_name, prediction.predictions, prediction.proba)
        answer = {"predictions": predictions}
        return Response(orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY), media_type=_JSON)


def create_app(
    resolver: ModelResolver,
    deployments: DeploymentSource,
    features: FeatureLookup | None,
    sink: RequestLogSink,
    settings: ServingSettings | None = None,
    *,
    tokens: TokenStore | None = None,
    feedback: FeedbackSink | None = None,
    audit: AuditSink | None = None,
) -> FastAPI:
    """Build the model server app.

    Args:
        resolver: loads model versions from references (the model registry).
        deployments: lists the deployments (the catalog).
        features: looks features up for ``entities`` requests (the online store), or None.
        sink: receives the request log in batches (an inference-log table).
        settings: server settings; defaults when None.
        tokens: checks API tokens; None serves without authentication.
        feedback: records feedback on logged requests (``/v1/deployments/{name}/feedback``); None: no such route.
        audit: records each feedback in the audit log under the caller's token; None: not recorded.

    Example:
        >>> app = create_app(registry, deployment_source, feature_lookup, log_sink)  # doctest: +SKIP
        >>> uvicorn.run(app, port=8080)  # doctest: +SKIP
    """
    server = _Server(resolver, deployments, features, sink, settings or ServingSettings(), tokens)
    app = FastAPI(title="FTI Stack model server", lifespan=server.lifespan, docs_url=None, redoc_url=None)
    app.add_middleware(
        Guard,
        tokens=server.tokens,
        max_body_bytes=server.settings.max_body_bytes,
        on_reject=lambda status: server.metrics.errors.labels("guard", str(status)).inc(),
        max_in_flight=server.settings.max_concurrent_requests,
    )
    # Plain Starlette routes: handlers take the Request and parse bodies themselves, so FastAPI's
    # dependency solving (a third of the framework's time per request) has nothing to do.
    post, get = ["POST"], ["GET"]
    app.add_route("/v1/deployments/{name}/predict", server.route("v1", server.predict), methods=post)
    for prefix in ("/v2/models/{model}", "/v2/models/{model}/versions/{version}"):
        app.add_route(prefix, server.route("v2", server.v2_metadata), methods=get)
        app.add_route(f"{prefix}/ready", server.route("v2", server.v2_ready), methods=get)
        app.add_route(f"{prefix}/infer", server.route("v2", server.v2_infer), methods=post)
    app.add_route("/invocations", server.route("invocations", server.invocations), methods=post)
    mount_generation(app, server)  # /v1/deployments/{name}/generate and the OpenAI-compatible /v1 routes
    if feedback is not None:
        mount_feedback(app, server, feedback, audit)

    async def unrouted(request: Request, exc: Exception) -> Response:
        """Unknown paths and methods answer in the server's error format, not the framework's."""
        status = int(getattr(exc, "status_code", 404))
        request_id = caller_request_id(request.headers.get("x-request-id"))
        if status == 405:
            message = f"{request.method} is not allowed on {request.url.path}."
        else:
            message = (
                f"No endpoint at {request.url.path}: the server answers /v1/deployments/NAME/predict, "
                "/v2/models/NAME/infer, /invocations, /v1/completions, /metrics and /v2/health/ready."
            )
        server.metrics.errors.labels("unrouted", str(status)).inc()
        return error_response(status, message, request_id)

    for status_code in (404, 405):
        app.add_exception_handler(status_code, unrouted)

    async def live(_request: Request) -> Response:
        return Response(status_code=200)

    async def ready(_request: Request) -> Response:
        return Response(status_code=200 if server.is_ready else 503)

    async def status(_request: Request) -> Response:
        return Response(orjson.dumps(server.status()), media_type=_JSON)

    async def metadata(_request: Request) -> Response:
        return Response(
            orjson.dumps({"name": "fti", "version": "1", "extensions": ["binary_tensor_data"]}), media_type=_JSON
        )

    async def metrics(_request: Request) -> Response:
        return Response(server.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    app.add_route("/v2/health/live", live, methods=get)
    app.add_route("/v2/health/ready", ready, methods=get)
    app.add_route("/ping", ready, methods=get)
    app.add_route("/v1/status", status, methods=get)
    app.add_route("/v2", metadata, methods=get)
    app.add_route("/metrics", metrics, methods=get)
    app.state.server = server
    document(app)
    return app
