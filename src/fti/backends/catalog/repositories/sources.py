"""The last cursor of each source of a feature group, advanced only from the cursor it was read at."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fti.backends.catalog.repositories.timestamps import as_utc
from fti.backends.catalog.schema import source_cursors
from fti.core.sources import SourceCursorRecord
from fti.errors import ConflictError

__all__ = ["SqlSourceCursorRecords"]


class SqlSourceCursorRecords:
    """Source cursors in ``source_cursors``."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def find(self, feature_group_id: int, source: str) -> SourceCursorRecord | None:
        """The source's cursor in the group, or None before its first commit."""
        query = sa.select(source_cursors).where(
            source_cursors.c.feature_group_id == feature_group_id, source_cursors.c.source == source
        )
        row = self._connection.execute(query).first()
        return None if row is None else _cursor(row)

    def list(self, feature_group_id: int) -> list[SourceCursorRecord]:
        """The group's source cursors, by source name."""
        query = (
            sa.select(source_cursors)
            .where(source_cursors.c.feature_group_id == feature_group_id)
            .order_by(source_cursors.c.source)
        )
        return [_cursor(row) for row in self._connection.execute(query)]

    def advance(self, record: SourceCursorRecord, previous_commit: int | None) -> None:
        """Store ``record`` if the stored cursor is still the one ``previous_commit`` recorded (None: none yet).

        Raises:
            ConflictError: another ingestion advanced the cursor since it was read.
        """
        values = {
            "kind": record.kind,
            "location": record.location,
            "cursor": dict(record.cursor),
            "commit": record.commit,
            "updated_at": record.updated_at,
        }
        if previous_commit is None:
            if self.find(record.feature_group_id, record.source) is not None:
                raise _moved(record)
            self._connection.execute(
                sa.insert(source_cursors).values(
                    feature_group_id=record.feature_group_id, source=record.source, **values
                )
            )
            return
        result = self._connection.execute(
            sa.update(source_cursors)
            .where(
                source_cursors.c.feature_group_id == record.feature_group_id,
                source_cursors.c.source == record.source,
                source_cursors.c.commit == previous_commit,
            )
            .values(**values)
        )
        if result.rowcount != 1:
            raise _moved(record)


def _moved(record: SourceCursorRecord) -> ConflictError:
    return ConflictError(
        f"Source '{record.source}' was read by another ingestion meanwhile, which committed first; nothing of this "
        "one is visible. Run the ingestion again to read what is still new."
    )


def _cursor(row: sa.Row[Any]) -> SourceCursorRecord:
    values = row._mapping
    return SourceCursorRecord(
        feature_group_id=int(values["feature_group_id"]),
        source=str(values["source"]),
        kind=str(values["kind"]),
        location=str(values["location"]),
        cursor=dict(values["cursor"]),
        commit=int(values["commit"]),
        updated_at=as_utc(values["updated_at"]),
    )
