"""Optional token auth: a bearer token for API clients, or a session cookie set by a small login form.

When a token is configured, every page and ``/api`` request needs ``Authorization: Bearer <token>`` or
a session cookie; the login form, the stylesheet and the health check stay open. A session is a random
id the server keeps (never the token nor anything derived from it): logging out ends it, and it expires
after :data:`SESSION_SECONDS`. Wrong tokens are throttled per client: after :data:`MAX_FAILURES` within
:data:`FAILURE_WINDOW_SECONDS`, that client is refused (429) until the window has passed. The cookie is
``HttpOnly``, ``SameSite=Strict`` (so no other site can make the browser post with it), and ``Secure``
when the request came over HTTPS (directly or through a proxy that says so in ``X-Forwarded-Proto``).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, RedirectResponse, Response

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

__all__ = [
    "COOKIE",
    "FAILURE_WINDOW_SECONDS",
    "MAX_FAILURES",
    "OPEN_PATHS",
    "SESSION_SECONDS",
    "TokenGate",
    "is_https",
]

COOKIE = "fti_session"
OPEN_PATHS = ("/login", "/static/", "/api/health")
#: how long a session lasts after login
SESSION_SECONDS = 12 * 3600
#: wrong tokens a client may send within FAILURE_WINDOW_SECONDS before it is refused for the rest of it
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 60.0


def is_https(request: Request) -> bool:
    """Whether the browser reached us over HTTPS (directly, or through a proxy that says so)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


class TokenGate:
    """Checks requests against a token and keeps the login sessions; ``token=None`` lets every request through.

    ``clock`` is the monotonic time source (seconds).
    """

    def __init__(self, token: str | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.token = token or None
        self._clock = clock
        self._sessions: dict[str, float] = {}
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def is_valid(self, candidate: str) -> bool:
        """Whether ``candidate`` is the token (compared in constant time, as bytes)."""
        return self.token is not None and hmac.compare_digest(
            candidate.encode(errors="surrogateescape"), self.token.encode()
        )

    def retry_after(self, client: str) -> int:
        """Seconds until ``client`` may try a token again (0: it may now)."""
        with self._lock:
            failures = self._recent(client)
            if len(failures) < MAX_FAILURES:
                return 0
            return max(1, int(failures[0] + FAILURE_WINDOW_SECONDS - self._clock()) + 1)

    def check(self, client: str, candidate: str) -> bool:
        """Whether ``candidate`` is the token; a wrong one counts against ``client``."""
        if self.is_valid(candidate):
            return True
        with self._lock:
            self._recent(client).append(self._clock())
        return False

    def start_session(self) -> str:
        """A new session id, valid for :data:`SESSION_SECONDS`."""
        session = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            self._sessions = {key: until for key, until in self._sessions.items() if until > now}
            self._sessions[session] = now + SESSION_SECONDS
        return session

    def end_session(self, session: str) -> None:
        """End ``session`` (logout); an unknown one is ignored."""
        with self._lock:
            self._sessions.pop(session, None)

    def has_session(self, session: str) -> bool:
        """Whether ``session`` is a live session."""
        with self._lock:
            until = self._sessions.get(session)
            if until is None:
                return False
            if until <= self._clock():
                del self._sessions[session]
                return False
            return True

    def allows(self, request: Request) -> bool:
        """Whether the request carries the token or a live session cookie (always, without a token)."""
        if self.token is None:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return self.check(_client(request), value.strip())
        return self.has_session(request.cookies.get(COOKIE, ""))

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.setdefault(client, deque())
        horizon = self._clock() - FAILURE_WINDOW_SECONDS
        while failures and failures[0] <= horizon:
            failures.popleft()
        return failures

    async def __call__(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        if path.startswith(OPEN_PATHS):
            return await call_next(request)
        wait = self.retry_after(_client(request)) if self.token is not None else 0
        if wait:
            return JSONResponse(
                {"detail": f"Too many wrong tokens from this address: try again in {wait} s."},
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
        if self.allows(request):
            return await call_next(request)
        if path.startswith("/api/") or path in ("/openapi.json", "/docs"):
            return JSONResponse(
                {"detail": "This dashboard needs a token: send 'Authorization: Bearer <token>' or log in at /login."},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"
