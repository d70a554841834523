"""A feature group as of one commit: which commits are visible, and the SQL that reads its rows.

Every insert appends one offline-table version whose rows carry their commit number and their row
number within the commit. A commit is visible once the catalog records it, so a write that crashed before
its catalog row is ignored. Rows with the same primary key and event time are resolved by "the latest
commit wins, then the latest row within it"; when no visible commit replaced or repeated a key, that
de-duplication is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fti.errors import NotFoundError, ValidationError
from fti.features.schema import schema_from_specs
from fti.features.sql import quote, register_dataset

if TYPE_CHECKING:
    import duckdb

    from fti.backends.ports import OfflineStore
    from fti.core.features import CommitRecord, FeatureGroupRecord

__all__ = ["Snapshot", "describe_group", "snapshot"]

AsOf = int | datetime | None


def describe_group(record: FeatureGroupRecord) -> str:
    """``feature group 'cards' v1`` for messages."""
    return f"feature group '{record.name}' v{record.version}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A feature group at a commit (``commit`` is None for a group with no commits yet)."""

    record: FeatureGroupRecord
    commit: int | None
    commits: tuple[CommitRecord, ...]

    @property
    def needs_dedupe(self) -> bool:
        """Whether some visible commit replaced rows or repeated a (key, event time) within itself."""
        return any(item.rows_replaced or item.statistics.get("duplicate_keys") for item in self.commits)

    def register(self, connection: duckdb.DuckDBPyConnection, offline: OfflineStore, alias: str) -> str:
        """Register the group's raw rows in ``connection``; return a parenthesized query of its visible rows."""
        record = self.record
        if record.schema is None:
            raise ValidationError(
                f"{describe_group(record).capitalize()} has no schema yet: insert data into it first."
            )
        columns = ", ".join(quote(spec.name) for spec in record.schema)
        if self.commit is None:
            schema = schema_from_specs(record.schema)
            if schema is None:
                raise NotFoundError(f"{describe_group(record).capitalize()} has no commits yet: insert data first.")
            connection.register(alias, schema.empty_table())
            return f"(SELECT {columns} FROM {alias})"
        register_dataset(connection, alias, offline.read(record.table, version=self.commit))
        numbers = [item.commit for item in self.commits]
        where = (
            "" if numbers == list(range(self.commit + 1)) else f" WHERE _fti_commit IN ({', '.join(map(str, numbers))})"
        )
        if not self.needs_dedupe:
            return f"(SELECT {columns} FROM {alias}{where})"
        keys = ", ".join(quote(name) for name in (*record.primary_key, record.event_time))
        return (
            f"(SELECT {columns} FROM {alias}{where} QUALIFY row_number() OVER "
            f"(PARTITION BY {keys} ORDER BY _fti_commit DESC, _fti_row DESC) = 1)"
        )


def snapshot(record: FeatureGroupRecord, commits: list[CommitRecord], as_of: AsOf = None) -> Snapshot:
    """The group as of commit number ``as_of``, the last commit at or before timestamp ``as_of``, or now.

    Raises:
        NotFoundError: no such commit, or no commit at or before the timestamp.
    """
    if as_of is None:
        chosen = commits[-1].commit if commits else None
    elif isinstance(as_of, bool) or not isinstance(as_of, int | datetime):
        raise ValidationError(
            f"as_of must be a commit number or a datetime, got {type(as_of).__name__} for {describe_group(record)}."
        )
    elif isinstance(as_of, datetime):
        moment = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
        earlier = [item.commit for item in commits if item.committed_at <= moment]
        if not earlier:
            first = commits[0].committed_at.isoformat() if commits else "never (no commits yet)"
            raise NotFoundError(
                f"{describe_group(record).capitalize()} has no commit at or before {moment.isoformat()}; "
                f"its first commit was {first}."
            )
        chosen = earlier[-1]
    else:
        if as_of not in {item.commit for item in commits}:
            numbers = ", ".join(str(item.commit) for item in commits) or "none"
            raise NotFoundError(
                f"{describe_group(record).capitalize()} has no commit {as_of}; its commits are: {numbers}."
            )
        chosen = as_of
    visible = tuple(item for item in commits if chosen is not None and item.commit <= chosen)
    return Snapshot(record, chosen, visible)
