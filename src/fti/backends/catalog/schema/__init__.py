"""Catalog tables as SQLAlchemy Core metadata, one module per domain.

Alembic migrations create the tables; a test checks that migrations and metadata agree.
"""

from __future__ import annotations

from fti.backends.catalog.schema.artifacts import artifacts
from fti.backends.catalog.schema.base import metadata

__all__ = ["artifacts", "metadata"]
