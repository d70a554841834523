"""A feature group as of one commit: which commits are visible, and the SQL that reads its rows.

Every insert appends one offline-table version whose rows carry their commit's stamp (reserved when the
insert began, see :class:`fti.core.features.CommitRecord`) and their row number within the commit. A
commit is visible once the catalog records it, so a write that crashed before its catalog row, or one
still running, is ignored. Reads of any commit scan the table's newest version, filtered by stamp:
compaction rewrites files but keeps each row's stamp, so reads, time travel and training-dataset
rebuilds give the same rows before and after it, and never need the files it replaced.

Rows with the same primary key and event time are resolved by "the latest stamp wins, then the latest
row within it" (the insert that began last: the latest commit, unless two ran at once); when no visible
commit replaced or repeated a key, that de-duplication is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fti.core.events import note_read
from fti.errors import NotFoundError, ValidationError
from fti.features.schema import schema_from_specs
from fti.features.sql import quote, register_dataset

if TYPE_CHECKING:
    import duckdb
    import pyarrow.dataset as pads

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
        """Whether some visible commit replaced rows, repeated a (key, event time) within itself, or ran beside
        a commit it may share pairs with."""
        return any(
            item.rows_replaced or item.statistics.get("duplicate_keys") or item.statistics.get("concurrent_overlap")
            for item in self.commits
        )

    def stamps(self) -> list[int]:
        """The stamps the visible commits' rows carry, in commit order."""
        return [item.stamp for item in self.commits]

    def register(self, connection: duckdb.DuckDBPyConnection, offline: OfflineStore, alias: str) -> str:
        """Register the group's raw rows in ``connection``; return a parenthesized query of its visible rows."""
        record = self.record
        if record.schema is None:
            raise ValidationError(
                f"{describe_group(record).capitalize()} has no schema yet: insert data into it first."
            )
        columns = ", ".join(quote(spec.name) for spec in record.schema)
        if self.commit is not None:
            note_read(f"commit:{record.name}:v{record.version}#{self.commit}")
        if self.commit is None:
            schema = schema_from_specs(record.schema)
            if schema is None:
                raise NotFoundError(f"{describe_group(record).capitalize()} has no commits yet: insert data first.")
            connection.register(alias, schema.empty_table())
            return f"(SELECT {columns} FROM {alias})"
        register_dataset(connection, alias, offline.read(record.table))
        where = f" WHERE {self.commit_condition()}"
        if not self.needs_dedupe:
            return f"(SELECT {columns} FROM {alias}{where})"
        keys = ", ".join(quote(name) for name in (*record.primary_key, record.event_time))
        return (
            f"(SELECT {columns} FROM {alias}{where} QUALIFY row_number() OVER "
            f"(PARTITION BY {keys} ORDER BY _fti_commit DESC, _fti_row DESC) = 1)"
        )

    def commit_condition(self) -> str:
        """SQL that keeps the rows of the visible commits (the table's newest version also holds later ones, and
        rows of inserts still running or killed before the catalog recorded them)."""
        last, hidden = self._hidden_stamps()
        if len(hidden) > len(self.commits):  # many stamps of runs that read nothing new: name the visible ones
            return f"_fti_commit IN ({', '.join(map(str, self.stamps()))})"
        condition = f"_fti_commit <= {last}"
        return condition + (f" AND _fti_commit NOT IN ({', '.join(map(str, hidden))})" if hidden else "")

    def commit_expression(self) -> pads.Expression:
        """:meth:`commit_condition` as an Arrow dataset filter."""
        import pyarrow.dataset as pads

        last, hidden = self._hidden_stamps()
        if len(hidden) > len(self.commits):
            return pads.field("_fti_commit").isin(self.stamps())
        expression = pads.field("_fti_commit") <= last
        return expression & ~pads.field("_fti_commit").isin(hidden) if hidden else expression

    def _hidden_stamps(self) -> tuple[int, list[int]]:
        """The highest visible stamp, and the stamps up to it that no visible commit carries."""
        assert self.commit is not None
        visible = set(self.stamps())
        last = max(visible)
        return last, [number for number in range(last + 1) if number not in visible]


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
