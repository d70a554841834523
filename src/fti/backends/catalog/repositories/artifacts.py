"""Artifact checksum records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fti.backends.catalog.repositories.timestamps import as_utc
from fti.backends.catalog.schema import artifacts
from fti.core.records import ArtifactRecord

__all__ = ["SqlArtifactRecords"]


class SqlArtifactRecords:
    """Artifact checksums in the ``artifacts`` table."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def put(self, record: ArtifactRecord) -> None:
        """Insert or replace the record for ``record.key``."""
        self._connection.execute(sa.delete(artifacts).where(artifacts.c.key == record.key))
        self._connection.execute(
            sa.insert(artifacts).values(
                key=record.key, sha256=record.sha256, size=record.size, created_at=record.created_at
            )
        )

    def find(self, key: str) -> ArtifactRecord | None:
        """The record for ``key``, or None."""
        row = self._connection.execute(sa.select(artifacts).where(artifacts.c.key == key)).first()
        return None if row is None else _record(row)

    def list(self, prefix: str = "") -> list[ArtifactRecord]:
        """Records whose key starts with ``prefix``, sorted by key."""
        query = sa.select(artifacts).order_by(artifacts.c.key)
        if prefix:
            query = query.where(artifacts.c.key.startswith(prefix, autoescape=True))
        return [_record(row) for row in self._connection.execute(query)]

    def delete(self, keys: Sequence[str]) -> None:
        """Remove the records for ``keys``."""
        if keys:
            self._connection.execute(sa.delete(artifacts).where(artifacts.c.key.in_(list(keys))))


def _record(row: sa.Row[Any]) -> ArtifactRecord:
    values = row._mapping
    return ArtifactRecord(
        key=str(values["key"]),
        sha256=str(values["sha256"]),
        size=int(values["size"]),
        created_at=as_utc(values["created_at"]),
    )
