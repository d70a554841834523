"""Optional token auth: a bearer token for API clients, or a session cookie set by a small login form.

Auth is on when the dashboard is given its own token (``fti ui --token-file``), which acts as an ``admin``,
or is told to accept the project's API tokens (``fti ui --require-tokens``; with a token of its own it accepts
both). Then every page and ``/api`` request needs ``Authorization: Bearer <token>`` or a session cookie; the
login form, the stylesheet and the health check stay open. Reads (``GET``) need the ``read`` role, deletes
(``DELETE``) ``admin``, any other change ``write``; a token whose role is too low gets 403 naming the role needed.

A session is a random id the server keeps with the token's name and role (the cookie holds nothing derived
from the token): logging out ends it, it expires after :data:`SESSION_SECONDS`, and a session opened with one of
the project's API tokens ends when that token is revoked or expires. Wrong tokens are
throttled per client: after :data:`MAX_FAILURES` within :data:`FAILURE_WINDOW_SECONDS`, that client is
refused (429) until the window has passed. The cookie is ``HttpOnly``, ``SameSite=Strict`` and ``Secure``
when the request came over HTTPS (directly or through a proxy that says so in ``X-Forwarded-Proto``).

Cross-site requests: a request that is not a read (``POST`` and the like) must come from a page of this
dashboard: its ``Origin`` (or, without one, its ``Referer``) must be this server's own origin, else it gets 403
before anything runs. Without either header, it is refused when it rides on a session cookie (a browser always
sends ``Origin`` with a POST); a client sending its token in the ``Authorization`` header carries no ambient
credential and needs neither. Logins and logouts are recorded in the audit log under the token's name.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from fti.core.access import Identity, Role
from fti.core.audit import acting_as

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

    from fti.inference.ports import TokenStore

__all__ = [
    "ADMIN_READS",
    "COOKIE",
    "DASHBOARD_TOKEN",
    "FAILURE_WINDOW_SECONDS",
    "MAX_FAILURES",
    "OPEN_PATHS",
    "SESSION_SECONDS",
    "TokenGate",
    "is_https",
    "is_same_origin",
    "logged_in",
    "required_role",
]

COOKIE = "fti_session"
OPEN_PATHS = ("/login", "/static/", "/api/health")
#: how long a session lasts after login
SESSION_SECONDS = 12 * 3600
#: wrong tokens a client may send within FAILURE_WINDOW_SECONDS before it is refused for the rest of it
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 60.0
#: who the dashboard's own token (``--token-file``, ``FTI_UI_TOKEN``) acts as
DASHBOARD_TOKEN = Identity("dashboard-token", "admin")
_NEEDS_TOKEN = "This dashboard needs a token: send 'Authorization: Bearer <token>' or log in at /login."
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_https(request: Request) -> bool:
    """Whether the browser reached us over HTTPS (directly, or through a proxy that says so)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


#: pages and API routes that only ``admin`` may read: the activity log names every token and what it changed
ADMIN_READS = ("/activity", "/api/activity")


def required_role(method: str, path: str) -> Role:
    """The role a dashboard request needs: ``read`` to read (and to log out), but ``admin`` to read the activity
    log (:data:`ADMIN_READS`); ``admin`` to delete, ``write`` for any other change."""
    if method in _READS and path.rstrip("/") in ADMIN_READS:
        return "admin"
    if method in _READS or path == "/logout":
        return "read"
    return "admin" if method == "DELETE" else "write"


def logged_in(request: Request) -> bool:
    """Whether the request acts as a token (so a page offers to log out)."""
    return getattr(request.state, "identity", None) is not None


def is_same_origin(request: Request) -> bool | None:
    """Whether the request's ``Origin`` (else its ``Referer``) is this server's own origin (its ``Host``, or the
    ``X-Forwarded-Host`` a proxy in front says the browser asked for); None when it sends neither."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if claimed is None:
        return None
    parts = urlsplit(claimed)
    host = request.headers.get("x-forwarded-host", "").split(",")[0].strip() or request.headers.get("host", "")
    scheme = "https" if is_https(request) else "http"
    return bool(host) and parts.scheme == scheme and parts.netloc.lower() == host.lower()


class TokenGate:
    """Checks requests against the dashboard's token or the project's API tokens and keeps the login
    sessions; with neither, every request goes through.

    Args:
        token: the dashboard's own token (acts as :data:`DASHBOARD_TOKEN`, an ``admin``), or None.
        tokens: the project's API tokens (each with its name and role), or None.
        clock: the monotonic time source (seconds).
        audit: records ``(actor, action, target)`` for logins and logouts, or None.
    """

    def __init__(
        self,
        token: str | None,
        tokens: TokenStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        audit: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.token = token or None
        self.tokens = tokens
        self._clock = clock
        self._audit = audit
        self._sessions: dict[str, tuple[float, Identity, str | None]] = {}
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether requests need a token at all."""
        return self.token is not None or self.tokens is not None

    def identify(self, candidate: str) -> Identity | None:
        """Who ``candidate`` is: the dashboard's token (compared in constant time, as bytes) or an API token."""
        if self.token is not None and hmac.compare_digest(
            candidate.encode(errors="surrogateescape"), self.token.encode()
        ):
            return DASHBOARD_TOKEN
        return self.tokens.identify(candidate) if self.tokens is not None and candidate else None

    def is_valid(self, candidate: str) -> bool:
        """Whether ``candidate`` is a valid token."""
        return self.identify(candidate) is not None

    def retry_after(self, client: str) -> int:
        """Seconds until ``client`` may try a token again (0: it may now)."""
        with self._lock:
            failures = self._recent(client)
            if len(failures) < MAX_FAILURES:
                return 0
            return max(1, int(failures[0] + FAILURE_WINDOW_SECONDS - self._clock()) + 1)

    def check(self, client: str, candidate: str) -> Identity | None:
        """Who ``candidate`` is; a wrong one counts against ``client``."""
        identity = self.identify(candidate)
        if identity is None:
            with self._lock:
                self._recent(client).append(self._clock())
        return identity

    def start_session(self, identity: Identity = DASHBOARD_TOKEN, token: str | None = None) -> str:
        """A new session id acting as ``identity``, valid for :data:`SESSION_SECONDS`; given the ``token`` it was
        opened with (kept in this process's memory only), it ends as soon as the token is revoked or expires."""
        session = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            self._sessions = {key: entry for key, entry in self._sessions.items() if entry[0] > now}
            self._sessions[session] = (now + SESSION_SECONDS, identity, token)
        return session

    def end_session(self, session: str) -> Identity | None:
        """End ``session`` (logout); who it was, or None for an unknown one."""
        with self._lock:
            entry = self._sessions.pop(session, None)
        return None if entry is None else entry[1]

    def session(self, session: str) -> Identity | None:
        """Who the live ``session`` acts as, or None (unknown, expired, or its token revoked or expired)."""
        with self._lock:
            entry = self._sessions.get(session)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._sessions[session]
                return None
        _until, identity, token = entry
        if token is not None and self.identify(token) != identity:
            self.end_session(session)
            return None
        return identity

    def has_session(self, session: str) -> bool:
        """Whether ``session`` is a live session."""
        return self.session(session) is not None

    def record(self, identity: Identity, action: str, target: str) -> None:
        """Record ``action`` by ``identity`` in the audit log (when there is one)."""
        if self._audit is not None:
            self._audit(identity.name, action, target)

    def identity_of(self, request: Request) -> Identity | None:
        """Who the request acts as: its bearer token's identity or its session's (None when neither is valid)."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return self.check(_client(request), value.strip())
        return self.session(request.cookies.get(COOKIE, ""))

    def allows(self, request: Request) -> bool:
        """Whether the request carries a valid token or a live session cookie (always, without auth)."""
        return not self.enabled or self.identity_of(request) is not None

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.setdefault(client, deque())
        horizon = self._clock() - FAILURE_WINDOW_SECONDS
        while failures and failures[0] <= horizon:
            failures.popleft()
        return failures

    async def __call__(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        is_api = path.startswith("/api/") or path in ("/openapi.json", "/docs")
        if request.method not in _READS:
            refused = _cross_site(request, is_api)
            if refused is not None:
                return refused
        if path.startswith(OPEN_PATHS) or not self.enabled:
            return await call_next(request)
        wait = self.retry_after(_client(request))
        if wait:
            return JSONResponse(
                {"detail": f"Too many wrong tokens from this address: try again in {wait} s."},
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
        identity = self.identity_of(request)
        if identity is None:
            if is_api:
                return JSONResponse(
                    {"detail": _NEEDS_TOKEN},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        needed = required_role(request.method, path)
        if not identity.allows(needed):
            message = (
                f"Token '{identity.name}' has role '{identity.role}', but {request.method} {path} needs role "
                f"'{needed}' or higher: log in with a token that has it (`fti tokens create NAME --role {needed}`)."
            )
            if is_api:
                return JSONResponse({"detail": message}, status_code=403)
            return PlainTextResponse(message, status_code=403)
        request.state.identity = identity
        with acting_as(identity.name):  # changes made by this request are recorded under the token's name
            return await call_next(request)


def _cross_site(request: Request, is_api: bool) -> Response | None:
    """403 for a state-changing request that does not come from this dashboard's own pages."""
    same = is_same_origin(request)
    if same is True:
        return None
    bearer = request.headers.get("authorization", "").partition(" ")[0].lower() == "bearer"
    if same is None and (bearer or COOKIE not in request.cookies):
        return None  # not a browser riding on a cookie: an API client, or a login from a script
    message = (
        f"{request.method} {request.url.path} was refused: it came from another site (Origin "
        f"{request.headers.get('origin') or request.headers.get('referer') or 'missing'}), and the dashboard only "
        "takes changes from its own pages."
    )
    if is_api:
        return JSONResponse({"detail": message}, status_code=403)
    return PlainTextResponse(message, status_code=403)


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"
