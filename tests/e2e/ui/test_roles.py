"""The dashboard with the project's API tokens: roles, sessions carrying them, cross-site refusals, the audit log."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

import fti
from fti.ui import create_app
from tests.e2e.ui.conftest import TOKEN, _Server

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(ui_project: tuple[fti.Project, dict[str, str]]) -> fti.Project:
    return ui_project[0]


@pytest.fixture
def url(project: fti.Project) -> Iterator[str]:
    with _Server(create_app(project, token=TOKEN, require_tokens=True)) as base:
        yield base


def _token(project: fti.Project, role: str) -> tuple[str, str]:
    name = f"{role}_{uuid.uuid4().hex[:8]}"
    return name, project.create_token(name, role)  # type: ignore[arg-type]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_reads_need_read_and_changes_need_write(project: fti.Project, url: str) -> None:
    reader_name, reader = _token(project, "read")
    _, writer = _token(project, "write")
    _, scorer = _token(project, "predict")
    with httpx.Client(base_url=url) as client:
        assert client.get("/api/models", headers=_bearer(reader)).status_code == 200
        assert client.get("/api/models", headers=_bearer(scorer)).status_code == 200  # predict includes read
        refused = client.post("/api/models", headers=_bearer(reader))
        assert refused.status_code == 403
        assert refused.json()["detail"] == (
            f"Token '{reader_name}' has role 'read', but POST /api/models needs role 'write' or higher: log in with a "
            "token that has it (`fti tokens create NAME --role write`)."
        )
        # past the gate: the API has no such route, whoever asks
        assert client.post("/api/models", headers=_bearer(writer)).status_code == 405
        assert client.post("/api/models", headers=_bearer(TOKEN)).status_code == 405  # the dashboard's own: admin
        deleting = client.delete("/api/models", headers=_bearer(writer))
        assert deleting.status_code == 403 and "needs role 'admin' or higher" in deleting.json()["detail"]
        assert client.delete("/api/models", headers=_bearer(TOKEN)).status_code == 405
        assert client.get("/api/models", headers=_bearer(reader + "x")).status_code == 401


def test_a_revoked_token_is_refused(project: fti.Project, url: str) -> None:
    name, secret = _token(project, "read")
    with httpx.Client(base_url=url) as client:
        assert client.get("/api/models", headers=_bearer(secret)).status_code == 200
        project.revoke_token(name)
        fresh = create_app(project, require_tokens=True)  # a dashboard that has not cached the token list
        with _Server(fresh) as other:
            assert httpx.get(f"{other}/api/models", headers=_bearer(secret)).status_code == 401


def test_a_session_ends_when_its_token_is_revoked(project: fti.Project, url: str) -> None:
    name, secret = _token(project, "read")
    with httpx.Client(base_url=url) as client:
        client.post("/login", data={"token": secret})
        assert client.get("/api/models").status_code == 200
        project.revoke_token(name)
        deadline = time.monotonic() + 20  # the dashboard re-reads the token list every 2 s
        while client.get("/api/models").status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.get("/api/models").status_code == 401


def test_a_session_carries_the_token_and_the_audit_log_names_it(project: fti.Project, url: str) -> None:
    name, secret = _token(project, "read")
    with httpx.Client(base_url=url) as client:
        logged = client.post("/login", data={"token": secret, "next": "/models"})
        assert logged.status_code == 303 and secret not in client.cookies["fti_session"]
        assert client.get("/models").status_code == 200
        refused = client.post("/api/models", headers={"Origin": url})  # the session is a reader's
        assert refused.status_code == 403 and f"Token '{name}' has role 'read'" in refused.json()["detail"]
        assert client.post("/logout", headers={"Origin": url}).status_code == 303
        assert client.get("/api/models").status_code == 401
    actions = [entry.action for entry in project.audit(actor=name)]
    assert actions == ["session.logout", "session.login"]
    assert all(secret not in str(entry) for entry in project.audit(limit=1000))


def test_cross_site_posts_are_refused_before_they_run(project: fti.Project, url: str) -> None:
    with httpx.Client(base_url=url) as client:
        client.post("/login", data={"token": TOKEN})
        session = client.cookies["fti_session"]
        for headers in ({"Origin": "http://evil.example"}, {"Referer": "http://evil.example/page"}, {}):
            refused = client.post("/logout", headers=headers)
            assert refused.status_code == 403, headers
            assert "came from another site" in refused.text and "the dashboard only takes changes" in refused.text
        assert client.post("/logout", headers={"Origin": "null"}).status_code == 403
        assert client.get("/api/models").status_code == 200  # none of them ended the session
        # another port of the same host is another origin (though the same site: the cookie would be sent)
        other = url.rsplit(":", 1)[0] + ":1"
        assert client.post("/logout", headers={"Origin": other}).status_code == 403
        https = client.post("/logout", headers={"Origin": url.replace("http:", "https:")})
        assert https.status_code == 403
        assert client.cookies["fti_session"] == session
        behind_proxy = {
            "Origin": "https://fti.example",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "fti.example",
        }
        assert client.post("/logout", headers=behind_proxy).status_code == 303
        assert client.get("/api/models").status_code == 401
        client.post("/login", data={"token": TOKEN})
        assert client.post("/logout", headers={"Referer": f"{url}/models"}).status_code == 303
    with httpx.Client(base_url=url) as fresh:  # a login forced on the browser by another site
        forced = fresh.post("/login", data={"token": TOKEN}, headers={"Origin": "http://evil.example"})
        assert forced.status_code == 403 and "fti_session" not in fresh.cookies


def test_only_admin_reads_the_activity_log(project: fti.Project, url: str) -> None:
    reader_name, reader = _token(project, "read")
    writer_name, writer = _token(project, "write")
    admin_name, admin = _token(project, "admin")
    with httpx.Client(base_url=url) as client:
        for token in (reader, writer):
            refused = client.get("/api/activity", headers=_bearer(token))
            assert refused.status_code == 403 and "needs role 'admin' or higher" in refused.json()["detail"]
            assert client.get("/activity", headers=_bearer(token)).status_code == 403
        assert "/activity" not in client.get("/models", headers=_bearer(reader)).text  # no link it cannot follow
        answered = client.get("/api/activity", params={"action": "token.create", "limit": 500}, headers=_bearer(admin))
        assert answered.status_code == 200
        created = {entry["target"] for entry in answered.json()["entries"]}
        assert {reader_name, writer_name, admin_name} <= created
        assert all(entry["link"] is None for entry in answered.json()["entries"])  # tokens have no page
        assert 'href="/activity"' in client.get("/models", headers=_bearer(admin)).text
