"""The dashboard API fuzzed from its own OpenAPI schema: no input answers 5xx, every status code and response
body is the one the schema documents, and every error is ``{"detail": message}``. ``make fuzz`` runs the same
test with a larger budget (``FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis

import fti
from fti.ui import create_app
from tests.fuzzing import fuzz


@pytest.fixture(scope="module")
def dashboard_schema(ui_project: tuple[fti.Project, dict[str, str]]) -> schemathesis.BaseSchema:
    project, _ = ui_project
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(project))


@pytest.mark.fuzz
def test_dashboard_api_conforms_to_its_schema(dashboard_schema: schemathesis.BaseSchema) -> None:
    failures = fuzz(dashboard_schema)
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/api/runs?offset=-1", "'offset'"),
        (f"/api/feature-groups?offset={2**63}", "'offset'"),
        (f"/api/feature-groups/cards/{2**63}", "'version'"),
        ("/api/feature-groups/0bad/1", "'name'"),
        ("/api/feature-groups/cards/1/statistics?scope=everything", "'scope'"),
        ("/api/runs?experiment=fraud&experiment=tuning", "'experiment'"),  # one value, not silently the last
        ("/api/runs?order_by=", "'order_by.0'"),  # an empty key orders by nothing: a mistake, said so
    ],
)
def test_a_malformed_parameter_is_a_422_naming_it(client: httpx.Client, path: str, named: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert isinstance(detail, str) and named in detail, detail
