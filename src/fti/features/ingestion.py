"""Ingestion: a source (or data in memory) -> preparation -> validation -> one commit with its lineage.

A source is read from the cursor its feature group recorded for it; the commit of what was read moves
that cursor in the same catalog transaction (see :mod:`fti.features.commit_writer`). Nothing new to read
is not an error: the result then has no commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import chain
from typing import TYPE_CHECKING, Any, TypedDict

import pyarrow as pa

from fti.core.features import CommitRecord, FeatureGroupRecord
from fti.core.sources import (
    CommitLineage,
    Cursor,
    Source,
    SourceBatch,
    SourceCursorRecord,
    SourceParts,
    SplittableSource,
)
from fti.errors import ValidationError
from fti.features.commit_writer import CursorMove, WrittenCommit, reserve_stamp, write_commit
from fti.features.ingest import source_batches
from fti.features.ingest_parts import PARTS_PER_WORKER, PartedRead
from fti.features.preparation import Preparation, Transform
from fti.features.stores import FeatureStores
from fti.features.time_travel import describe_group

if TYPE_CHECKING:
    from fti.backends.ports import Executor

__all__ = ["IngestResult", "InsertOptions", "Progress", "ingest_data", "ingest_source", "preparation_of", "preview"]

#: called with the rows and input bytes read so far
Progress = Callable[[int, int], None]


class InsertOptions(TypedDict, total=False):
    """Options of :meth:`FeatureGroup.insert` and :meth:`fti.Project.ingest`, applied to every batch in this order.

    Attributes:
        rename: old column name -> new name.
        normalize_names: make every column name an identifier (``"Monthly Spend"`` -> ``monthly_spend``).
        parse_dates: string columns to parse as timestamps: a list (ISO 8601) or column -> ``strptime`` format.
        transform: a function of each batch as a pandas DataFrame (or as a pyarrow Table, if its parameter is
            annotated so) returning a DataFrame or Table, or a DuckDB SQL query over the table ``source``.
        pipeline: the pipeline or job writing the commit, recorded in its lineage.
        progress: called with the rows and input bytes read so far (sources only).
    """

    rename: dict[str, str]
    normalize_names: bool
    parse_dates: list[str] | dict[str, str | None]
    transform: Transform
    pipeline: str
    progress: Progress


def preparation_of(options: InsertOptions) -> Preparation:
    """The preparation ``options`` ask for; ValidationError for an unknown option."""
    unknown = set(options) - set(InsertOptions.__annotations__)
    if unknown:
        raise ValidationError(
            f"Unknown insert option(s) {', '.join(sorted(map(repr, unknown)))}: use "
            f"{', '.join(InsertOptions.__annotations__)}."
        )
    return Preparation.of(
        rename=options.get("rename"),
        normalize_names=options.get("normalize_names", False),
        parse_dates=options.get("parse_dates"),
        transform=options.get("transform"),
    )


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one ingestion from a source did.

    ``commit`` is None when the source had nothing new since its cursor. For an ``online=True`` group,
    ``online_keys`` and ``online_error`` are as in :class:`fti.features.InsertResult`.
    """

    source: str
    commit: int | None
    rows_inserted: int
    rows_replaced: int
    bytes_read: int
    committed_at: datetime | None
    cursor: dict[str, Any] | None
    online_keys: int | None = None
    online_error: str | None = None


class _Tracked:
    """Passes a source's batches on, counting rows and bytes and keeping the last one (its cursor and span)."""

    def __init__(self, batches: Iterator[SourceBatch], progress: Progress | None) -> None:
        self._batches = batches
        self._progress = progress
        self.last: SourceBatch | None = None
        self.rows = 0

    @property
    def bytes_read(self) -> int:
        return 0 if self.last is None else self.last.bytes_read

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for item in self._batches:
            self.last = item
            self.rows += item.data.num_rows
            if self._progress is not None:
                self._progress(self.rows, item.bytes_read)
            # an empty batch moves the cursor along (its last one) but makes no commit on its own
            if item.data.num_rows:
                yield item.data


def stored_cursor(stores: FeatureStores, record: FeatureGroupRecord, source: Source) -> SourceCursorRecord | None:
    """The cursor the group recorded for ``source``, or None before its first commit from it."""
    with stores.catalog.transaction() as tx:
        return tx.source_cursors.find(record.id, source.info.name)


def ingest_source(
    stores: FeatureStores,
    record: FeatureGroupRecord,
    commits: list[CommitRecord],
    source: Source,
    preparation: Preparation,
    *,
    pipeline: str | None = None,
    progress: Progress | None = None,
) -> tuple[IngestResult, WrittenCommit | None]:
    """Read what is new in ``source`` and commit it to the group, moving the source's cursor with the commit.

    On a cluster executor (``stores.cluster_executor``), a source that splits (files, a table by its cursor) is read and
    prepared in parts by executor tasks (:mod:`fti.features.ingest_parts`), still written as one commit.
    """
    info = source.info
    what = f"Ingestion of {info.name} into {describe_group(record)}"
    stored = stored_cursor(stores, record, source)
    stamp = reserve_stamp(stores, record)
    cursor_in = None if stored is None else stored.cursor
    parted = _split(stores, source, cursor_in)
    tracked: _Tracked | PartedRead
    if parted is not None:
        tracked = PartedRead(*parted, preparation, what, progress)
        batches = iter(tracked)
    else:
        tracked = _Tracked(source.read(cursor_in), progress)
        batches = preparation.batches(what, iter(tracked))
    first = next(batches, None)
    if first is None:
        previous = None if stored is None else dict(stored.cursor)
        return IngestResult(info.name, None, 0, 0, tracked.bytes_read, None, previous), None

    def lineage() -> CommitLineage:
        last = tracked.last
        return replace(_provenance(stores, pipeline), source=info, span={} if last is None else dict(last.span))

    def cursor() -> dict[str, Any]:
        assert tracked.last is not None  # the first batch came from the source
        return dict(tracked.last.cursor)

    move = CursorMove(info.name, info.kind, info.location, None if stored is None else stored.commit, cursor)
    try:
        written = write_commit(
            stores,
            record,
            commits,
            what,
            (first.schema, chain([first], batches)),
            stamp=stamp,
            lineage=lineage,
            cursor=move,
        )
    except ValidationError as exc:
        files = [] if tracked.last is None else tracked.last.span.get("files", [])
        if not files or str(files[-1]) in str(exc):
            raise
        raise ValidationError(f"{exc} (reading {files[-1]})") from exc
    result = IngestResult(
        info.name,
        written.commit,
        written.rows - written.rows_replaced,
        written.rows_replaced,
        tracked.bytes_read,
        written.committed_at,
        cursor(),
    )
    return result, written


def _split(stores: FeatureStores, source: Source, cursor: Cursor | None) -> tuple[Executor, SourceParts] | None:
    """The cluster executor and the source's new rows in parts for it, or None to read them in this process."""
    if not isinstance(source, SplittableSource):
        return None
    executor = stores.cluster_executor()
    if executor is None:
        return None
    split = source.split(cursor, executor.workers * PARTS_PER_WORKER)
    return None if split is None else (executor, split)


def ingest_data(
    stores: FeatureStores,
    record: FeatureGroupRecord,
    commits: list[CommitRecord],
    data: Any,
    preparation: Preparation,
    *,
    unique_keys: bool = False,
    pipeline: str | None = None,
) -> WrittenCommit:
    """Commit data held in memory (a DataFrame, an Arrow table or a stream of batches) to the group."""
    what = f"Insert into {describe_group(record)}"
    stamp = reserve_stamp(stores, record)
    schema, batches = source_batches(data, what)
    if not preparation.is_identity:
        prepared = preparation.batches(what, batches)
        first = next(prepared, None)
        if first is not None:
            schema, batches = first.schema, chain([first], prepared)
    else:
        preparation.check(what, schema.names)
    lineage = replace(_provenance(stores, pipeline), source=None)
    return write_commit(
        stores, record, commits, what, (schema, batches), stamp=stamp, lineage=lineage, unique_keys=unique_keys
    )


def preview(
    stores: FeatureStores, record: FeatureGroupRecord | None, source: Source, preparation: Preparation, rows: int
) -> pa.Table:
    """The first ``rows`` prepared rows an ingestion would read now (from the group's cursor, if any)."""
    stored = None if record is None else stored_cursor(stores, record, source)
    what = f"Dry run of {source.info.name}"
    batches = preparation.batches(what, (item.data for item in source.read(None if stored is None else stored.cursor)))
    taken: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        taken.append(batch.slice(0, rows - count))
        count += len(taken[-1])
        if count >= rows:
            break
    if not taken:
        return source.schema().empty_table()
    return pa.Table.from_batches(taken)


def _provenance(stores: FeatureStores, pipeline: str | None) -> CommitLineage:
    base = stores.provenance() if stores.provenance is not None else CommitLineage(source=None)
    return replace(base, pipeline=pipeline if pipeline is not None else base.pipeline)
