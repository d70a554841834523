"""The last cursor of each source a feature group reads from."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Integer, String, Table, Text

from fti.backends.catalog.schema.base import metadata

__all__ = ["source_cursors"]

source_cursors = Table(
    "source_cursors",
    metadata,
    Column("feature_group_id", Integer, ForeignKey("feature_groups.id"), primary_key=True),
    Column("source", String(1024), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("location", Text, nullable=False),
    Column("cursor", JSON, nullable=False),
    Column("commit", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
