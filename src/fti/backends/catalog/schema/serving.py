"""Serving: deployments (variants, shadow, routing keys, feature view, output kind, hooks, ensemble), API tokens
and the audit log."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Index, Integer, String, Table, Text, UniqueConstraint

from fti.backends.catalog.schema.base import metadata
from fti.backends.catalog.schema.tracking import AUTO_ID

__all__ = ["api_tokens", "audit_log", "deployments"]

deployments = Table(
    "deployments",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("variants", Text, nullable=False),
    Column("shadow", String(300), nullable=True),
    Column("entity_keys", Text, nullable=False),
    Column("feature_view_name", String(128), nullable=True),
    Column("feature_view_version", Integer, nullable=True),
    Column("output_kind", String(16), nullable=True),
    Column("preprocess", String(300), nullable=True),
    Column("postprocess", String(300), nullable=True),
    Column("combine", String(32), nullable=True),
    Column("stacker", String(300), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("etag", String(64), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("token_sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("role", String(16), nullable=False, server_default="predict"),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("name"),
    UniqueConstraint("token_sha256"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(160), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(300), nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_audit_log_at", "at"),
)
