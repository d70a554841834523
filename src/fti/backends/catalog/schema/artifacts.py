"""Artifact checksums."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, String, Table

from fti.backends.catalog.schema.base import metadata

__all__ = ["artifacts"]

artifacts = Table(
    "artifacts",
    metadata,
    Column("key", String(1024), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
