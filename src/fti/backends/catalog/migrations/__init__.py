"""Alembic migrations of the catalog schema, one module per revision under ``versions/``.

:data:`HEADS` names the newest revision, so that opening a current catalog reads its ``alembic_version``
table and compares, without importing Alembic (a large share of a short command's start-up); a test checks
it against the scripts.
"""

from __future__ import annotations

__all__ = ["HEADS"]

HEADS = ("0010",)
