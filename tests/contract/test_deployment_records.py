"""Deployment and API token records on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from fti.testing.deployment_records import DeploymentRecordsContract, TokenRecordsContract


class TestDeploymentRecords(DeploymentRecordsContract):
    pass


class TestTokenRecords(TokenRecordsContract):
    pass
