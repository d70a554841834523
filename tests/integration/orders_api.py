"""A small JSON API for the HTTP source tests, served by a real uvicorn: pages of orders, throttling, a broken page.

``/orders?page=N&per_page=M&since_id=X`` answers ``{"data": [...]}``, needs ``Authorization: Bearer
secret``, answers 429 with ``Retry-After`` the first time each page in ``throttled`` is asked for, and 500
to ``failing_page``. ``/events?cursor=T`` pages by a token (``{"items": [...], "next": T}``) and
``/linked?offset=N`` by the ``Link`` header.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Header, Response
from fastapi.responses import JSONResponse

from fti.testing.serving import running_app
from tests.integration.ingest_data import event_records

TOKEN = "secret"


@dataclass
class OrdersApi:
    """The API's data and behaviour, changed by the tests while it runs; ``url`` is its base URL."""

    url: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)
    throttled: set[int] = field(default_factory=set)
    failing_page: int | None = None
    retry_after: str = "1"
    requests: list[tuple[float, str, int]] = field(default_factory=list)

    def add(self, start: int, rows: int) -> None:
        """Add orders ``start`` to ``start + rows - 1``."""
        self.records += event_records(start, rows)


def _app(api: OrdersApi) -> FastAPI:
    app = FastAPI()

    @app.get("/orders")
    def orders(
        response: Response,
        page: int = 1,
        per_page: int = 10,
        since_id: int | None = None,
        authorization: str | None = Header(default=None),
    ) -> Any:
        api.requests.append((time.monotonic(), "orders", page))
        if authorization != f"Bearer {TOKEN}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if page in api.throttled:
            api.throttled.discard(page)
            return JSONResponse({"error": "slow down"}, status_code=429, headers={"Retry-After": api.retry_after})
        if page == api.failing_page:
            return JSONResponse({"error": "boom"}, status_code=500)
        rows = [row for row in api.records if since_id is None or row["id"] > since_id]
        return {"data": rows[(page - 1) * per_page : page * per_page], "page": page}

    @app.get("/events")
    def events(cursor: int = 0) -> Any:
        chunk = api.records[cursor : cursor + 4]
        following = cursor + 4 if cursor + 4 < len(api.records) else None
        return {"items": chunk, "next": following}

    @app.get("/linked")
    def linked(response: Response, offset: int = 0) -> Any:
        if offset + 4 < len(api.records):
            response.headers["Link"] = f'<{api.url}/linked?offset={offset + 4}>; rel="next"'
        return api.records[offset : offset + 4]

    return app


@contextmanager
def orders_api() -> Iterator[OrdersApi]:
    """Serve a fresh :class:`OrdersApi` for the duration of the block."""
    api = OrdersApi()
    with running_app(_app(api)) as url:
        api.url = url
        yield api
