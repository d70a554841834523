"""Optional token auth: a bearer token for API clients, or a cookie set by a small login form.

When a token is configured, every page and ``/api`` request needs ``Authorization: Bearer <token>`` or
the session cookie; the login form, the stylesheet and the health check stay open. The cookie holds a
digest of the token, never the token itself.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, RedirectResponse, Response

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

__all__ = ["COOKIE", "OPEN_PATHS", "TokenGate", "session_value"]

COOKIE = "fti_session"
OPEN_PATHS = ("/login", "/static/", "/api/health")


def session_value(token: str) -> str:
    """The cookie value standing for ``token``."""
    return hashlib.sha256(f"fti-ui-session:{token}".encode()).hexdigest()


class TokenGate:
    """Checks requests against a token; ``token=None`` lets every request through."""

    def __init__(self, token: str | None) -> None:
        self.token = token or None
        self._session = None if self.token is None else session_value(self.token)

    def is_valid(self, candidate: str) -> bool:
        """Whether ``candidate`` is the token (compared in constant time)."""
        return self.token is not None and hmac.compare_digest(candidate.encode(), self.token.encode())

    def allows(self, request: Request) -> bool:
        """Whether the request carries the token or the session cookie (always, without a token)."""
        if self.token is None or self._session is None:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and self.is_valid(value.strip()):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return hmac.compare_digest(cookie.encode(), self._session.encode())

    async def __call__(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        if self.allows(request) or path.startswith(OPEN_PATHS):
            return await call_next(request)
        if path.startswith("/api/") or path in ("/openapi.json", "/docs"):
            return JSONResponse(
                {"detail": "This dashboard needs a token: send 'Authorization: Bearer <token>' or log in at /login."},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
