"""Token auth: bearer header for the API, a cookie from the login form for pages."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.ui.conftest import TOKEN, Dashboard

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
