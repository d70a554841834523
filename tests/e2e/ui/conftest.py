"""A populated project served by a real uvicorn on a free 127.0.0.1 port, shared by the dashboard tests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

import fti
from fti.ui import create_app
from tests.e2e.ui.project_data import populate

TOKEN = "s3cret-token"


@dataclass(frozen=True)
class Dashboard:
    """A running dashboard: its base URL, its project and the ids the fixture created."""

    url: str
    project: fti.Project
    ids: dict[str, str]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _Server:
    def __init__(self, app: object) -> None:
        self.port = _free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        started = threading.Event()
        while not self.server.started and self.thread.is_alive():
            started.wait(0.02)
        assert self.server.started, "the dashboard server did not start"
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="package")
def ui_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[fti.Project, dict[str, str]]]:
    folder: Path = tmp_path_factory.mktemp("ui-project")
    with fti.connect(folder) as project:
        ids = populate(project)
        yield project, ids


@pytest.fixture(scope="package")
def dashboard(ui_project: tuple[fti.Project, dict[str, str]]) -> Iterator[Dashboard]:
    project, ids = ui_project
    with _Server(create_app(project)) as url:
        yield Dashboard(url, project, ids)


@pytest.fixture(scope="package")
def locked_dashboard(ui_project: tuple[fti.Project, dict[str, str]]) -> Iterator[Dashboard]:
    project, ids = ui_project
    with _Server(create_app(project, token=TOKEN)) as url:
        yield Dashboard(url, project, ids)


@pytest.fixture
def client(dashboard: Dashboard) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dashboard.url, timeout=30) as opened:
        yield opened
