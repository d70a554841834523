"""Token auth: bearer header for the API, a cookie from the login form for pages."""

from __future__ import annotations

import httpx
import pytest

import fti
from fti.ui import create_app
from fti.ui.auth import MAX_FAILURES, SESSION_SECONDS, TokenGate
from tests.e2e.ui.conftest import TOKEN, Dashboard, _Server

pytestmark = pytest.mark.e2e


def test_api_needs_the_bearer_token(locked_dashboard: Dashboard) -> None:
    with httpx.Client(base_url=locked_dashboard.url) as client:
        refused = client.get("/api/runs")
        assert refused.status_code == 401
        assert refused.json()["detail"] == (
            "This dashboard needs a token: send 'Authorization: Bearer <token>' or log in at /login."
        )
        assert client.get("/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert client.get("/openapi.json").status_code == 401
        assert client.get("/api/health").status_code == 200


def test_pages_redirect_to_login_and_the_form_sets_a_cookie(locked_dashboard: Dashboard) -> None:
    with httpx.Client(base_url=locked_dashboard.url) as client:
        page = client.get("/models")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/models"
        failed = client.post("/login", data={"token": "wrong", "next": "/models"})
        assert failed.headers["location"].startswith("/login?failed=1")
        assert "fti_session" not in client.cookies
        logged = client.post("/login", data={"token": TOKEN, "next": "/models"})
        assert logged.status_code == 303 and logged.headers["location"] == "/models"
        assert TOKEN not in client.cookies["fti_session"]
        assert client.get("/models").status_code == 200
        assert client.get("/api/models").status_code == 200


def test_login_never_redirects_off_the_server(locked_dashboard: Dashboard) -> None:
    with httpx.Client(base_url=locked_dashboard.url) as client:
        response = client.post("/login", data={"token": TOKEN, "next": "//evil.example/"})
        assert response.headers["location"] == "/"


def test_a_session_is_random_and_ends_at_logout(ui_project: tuple[fti.Project, dict[str, str]]) -> None:
    with _Server(create_app(ui_project[0], token=TOKEN)) as url, httpx.Client(base_url=url) as client:
        sessions = []
        for _ in range(2):
            client.post("/login", data={"token": TOKEN, "next": "/"})
            sessions.append(client.cookies["fti_session"])
            client.cookies.clear()
        assert sessions[0] != sessions[1]  # nothing derived from the token: a new id per login
        client.cookies.set("fti_session", sessions[0])
        assert client.get("/api/models").status_code == 200
        assert client.post("/logout", headers={"Origin": url}).status_code == 303
        client.cookies.set("fti_session", sessions[0])  # a copy of the cookie kept from before the logout
        assert client.get("/api/models").status_code == 401
        client.cookies.set("fti_session", sessions[1])
        assert client.get("/api/models").status_code == 200


def test_wrong_tokens_are_throttled_per_client(ui_project: tuple[fti.Project, dict[str, str]]) -> None:
    with _Server(create_app(ui_project[0], token=TOKEN)) as url, httpx.Client(base_url=url) as client:
        for _ in range(MAX_FAILURES):
            assert client.post("/login", data={"token": "guess"}).status_code == 303
        refused = client.post("/login", data={"token": TOKEN})  # even the right one, until the window passes
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        api = client.get("/api/models", headers={"Authorization": f"Bearer {TOKEN}"})
        assert api.status_code == 429
        assert api.json()["detail"].startswith("Too many wrong tokens from this address: try again in ")


def test_the_cookie_is_secure_behind_https(ui_project: tuple[fti.Project, dict[str, str]]) -> None:
    with _Server(create_app(ui_project[0], token=TOKEN)) as url, httpx.Client(base_url=url) as client:
        plain = client.post("/login", data={"token": TOKEN})
        client.cookies.clear()  # a POST riding on a session cookie must say where it comes from (Origin)
        proxied = client.post("/login", data={"token": TOKEN}, headers={"X-Forwarded-Proto": "https"})
    assert "secure" not in plain.headers["set-cookie"].lower()
    cookie = proxied.headers["set-cookie"].lower()
    assert "; secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_a_session_expires() -> None:
    now = [0.0]
    gate = TokenGate(TOKEN, clock=lambda: now[0])
    session = gate.start_session()
    now[0] = SESSION_SECONDS - 1
    assert gate.has_session(session)
    now[0] = SESSION_SECONDS + 1
    assert not gate.has_session(session)
