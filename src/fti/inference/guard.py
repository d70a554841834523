"""What the model server checks before any handler runs, and how it answers errors.

``Guard`` is ASGI middleware: a request without a valid API token gets 401 (health checks stay open, so
probes need no token), one whose token's role does not include the route's gets 403 (reads, ``GET``: ``read``;
predictions and feedback, ``POST``: ``predict``), one whose declared body is over the limit gets 413, all
before the body is read. A request arriving while the worker already handles its limit of requests gets 429
with ``Retry-After``, so that an overloaded server sheds load at once instead of queueing without bound. Every
error answer is ``{"error": message, "request_id": id}`` with the request id
in ``x-request-id``; none repeats the token. The caller's :class:`~fti.core.access.Identity` is in the
request's ``state.identity`` for the handlers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import orjson
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from fti.core.access import Identity, Role
from fti.errors import AuthError, ForbiddenError, UserError
from fti.inference.ports import TokenStore

__all__ = [
    "OPEN_PATHS",
    "RETRY_AFTER_SECONDS",
    "BodyTooLargeError",
    "Guard",
    "caller_request_id",
    "error_response",
    "forbidden",
    "required_role",
    "too_large",
]

#: paths answered without a token: health checks and the MLflow ping
OPEN_PATHS = frozenset({"/v2/health/live", "/v2/health/ready", "/ping"})
_MAX_REQUEST_ID = 128
#: what a 429's ``Retry-After`` tells the caller to wait
RETRY_AFTER_SECONDS = 1


def caller_request_id(given: str | None) -> str:
    """The caller's request id when it is a sane one (short, printable), else a new one."""
    if given and len(given) <= _MAX_REQUEST_ID and given.isprintable():
        return given
    return uuid.uuid4().hex


def error_response(status: int, message: str, request_id: str) -> Response:
    """The JSON error answer."""
    return Response(orjson.dumps({"error": message, "request_id": request_id}), status, media_type="application/json")


def required_role(method: str) -> Role:
    """The role a model server route needs: ``read`` to read (``GET``, ``HEAD``), ``predict`` for the rest
    (predictions, generation, feedback)."""
    return "read" if method in ("GET", "HEAD") else "predict"


def forbidden(identity: Identity, needed: Role, what: str) -> str:
    """The message of a 403: the token's name and role, the role needed and how to get one."""
    return (
        f"Token '{identity.name}' has role '{identity.role}', but {what} needs role '{needed}' or higher: use a "
        f"token with that role (`fti tokens create NAME --role {needed}`)."
    )


class BodyTooLargeError(UserError):
    """A request body over the server's limit (413)."""

    http_status = 413


def too_large(size: int, limit: int) -> str:
    """The message of a 413."""
    return (
        f"The request body has {size} bytes or more, over the server's limit of {limit}: send fewer rows "
        "per request or raise serving.max_body_bytes."
    )


class Guard:
    """ASGI middleware: API tokens (401), their roles (403), declared body size (413) and the requests in flight
    (429) before any handler runs.

    Args:
        app: the app it guards.
        tokens: checks API tokens; None lets every request through.
        max_body_bytes: the largest declared body accepted.
        on_reject: called with the status of every rejected request (metrics).
        max_in_flight: the most requests handled at once (health checks aside); None: no limit.
    """

    def __init__(
        self,
        app: ASGIApp,
        tokens: TokenStore | None,
        max_body_bytes: int,
        on_reject: Callable[[int], None],
        max_in_flight: int | None = None,
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.max_body_bytes = max_body_bytes
        self.on_reject = on_reject
        self.max_in_flight = max_in_flight
        # one event loop per worker: the count needs no lock
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        rejection = self._reject(scope, headers)
        if rejection is None and scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        if rejection is None and (self.max_in_flight is None or self.in_flight < self.max_in_flight):
            self.in_flight += 1
            try:
                await self.app(scope, receive, send)
            finally:
                self.in_flight -= 1
            return
        status, message = rejection or (
            429,
            f"The server is handling its limit of {self.max_in_flight} requests at once: retry after "
            f"{RETRY_AFTER_SECONDS} s, or raise serving.max_concurrent_requests (or run more workers).",
        )
        request_id = caller_request_id(headers.get(b"x-request-id", b"").decode(errors="replace"))
        self.on_reject(status)
        response = error_response(status, message, request_id)
        response.headers["x-request-id"] = request_id
        if status == 401:
            response.headers["www-authenticate"] = "Bearer"
        if status == 429:
            response.headers["retry-after"] = str(RETRY_AFTER_SECONDS)
        await response(scope, receive, send)

    def _reject(self, scope: Scope, headers: dict[bytes, bytes]) -> tuple[int, str] | None:
        path = scope["path"]
        if self.tokens is not None and path not in OPEN_PATHS:
            scheme, _, token = headers.get(b"authorization", b"").decode(errors="replace").partition(" ")
            identity = self.tokens.identify(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
            if identity is None:
                return AuthError.http_status, (
                    "Missing, invalid, expired or revoked API token: send 'Authorization: Bearer <token>' with a "
                    "token from `fti tokens create`."
                )
            needed = required_role(scope["method"])
            if not identity.allows(needed):
                return ForbiddenError.http_status, forbidden(identity, needed, f"{scope['method']} {path}")
            scope.setdefault("state", {})["identity"] = identity
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            return BodyTooLargeError.http_status, too_large(int(declared), self.max_body_bytes)
        return None
