"""Log in, out, and a cross-site form, in headless Chromium: the dashboard's own form posts pass the
same-origin check, a page on another origin posting to it is refused and leaves the session alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

import fti
from fti.ui import create_app
from tests.e2e.ui.conftest import _Server
from tests.e2e.ui.test_browser import CHROMIUM, LAUNCH_ARGS, sync_api

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def _attacker(target: str) -> Starlette:
    """Another origin (another port of the same host: the same site, so the cookie goes along) whose page
    posts a form to the dashboard."""

    async def page(_request: Request) -> HTMLResponse:
        return HTMLResponse(
            f'<form method="post" action="{target}/logout"><button id="go" type="submit">Win a prize</button></form>'
        )

    return Starlette(routes=[Route("/", page)])


def test_the_login_form_works_and_another_site_cannot_post_with_the_session(
    chromium: object, ui_project: tuple[fti.Project, dict[str, str]]
) -> None:
    project = ui_project[0]
    secret = project.create_token("browser_reader", "read")
    with (
        _Server(create_app(project, require_tokens=True)) as url,
        _Server(_attacker(url)) as evil,
    ):
        context = chromium.new_context()  # type: ignore[attr-defined]
        page = context.new_page()
        try:
            page.goto(f"{url}/models")
            assert page.url.startswith(f"{url}/login")
            page.fill("input[name=token]", secret)
            with page.expect_navigation():
                page.click("form.login button")
            assert page.url == f"{url}/models"
            assert page.locator("form.logout button").count() == 1

            attack = context.new_page()
            attack.goto(evil)
            with attack.expect_response(lambda response: response.url == f"{url}/logout") as answered:
                attack.click("#go")
            assert answered.value.status == 403
            assert "came from another site" in attack.content()
            assert page.goto(f"{url}/models").status == 200 and page.url == f"{url}/models"  # still logged in

            with page.expect_navigation():
                page.click("form.logout button")  # the dashboard's own logout form: same origin, accepted
            assert page.url.startswith(f"{url}/login")
            page.goto(f"{url}/models")
            assert page.url.startswith(f"{url}/login")  # the session ended
        finally:
            context.close()
    assert [entry.action for entry in project.audit(actor="browser_reader")] == ["session.logout", "session.login"]
