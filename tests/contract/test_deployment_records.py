"""Deployment and API token records and the audit log on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from fti.testing.deployment_records import AuditRecordsContract, DeploymentRecordsContract, TokenRecordsContract


class TestDeploymentRecords(DeploymentRecordsContract):
    pass


class TestTokenRecords(TokenRecordsContract):
    pass


class TestAuditRecords(AuditRecordsContract):
    pass
