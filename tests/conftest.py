"""Shared fixtures: real services (started once per test process, only when a test asks) and projects."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import fti
from fti.testing.services import PostgresServer, postgres_server, redis_server, s3_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole test session."""
    with postgres_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    return postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API server (moto in server mode) for the whole test session."""
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A fresh, empty bucket on the S3 API server."""
    import boto3

    name = f"b-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server for the whole test session."""
    with redis_server() as url:
        yield url


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """An empty folder for a project with embedded defaults."""
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.fixture
def project(project_dir: Path) -> Iterator[fti.Project]:
    """A connected project on embedded defaults."""
    with fti.connect(project_dir) as opened:
        yield opened
