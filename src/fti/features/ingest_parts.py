"""Ingestion in parts: on a cluster executor, what is new in a splittable source (a folder of files, a table by
ranges of its cursor column) is read and prepared by executor tasks, one part each, and written here as one commit.

The source cuts its new rows into parts (:meth:`~fti.core.sources.SplittableSource.split`); each task reads its
part from the source itself (its files or its range of the table, not through this process), applies the insert's
preparation (renames, dates, the transform) and returns the prepared batches. The parts are all started at once
and taken in order, each written while the later ones are still read (a part is held whole in memory, here and in
the task, while it is written). The cursor moves to the one after the last part with the commit, as when one
process reads: a task that fails raises its error (with a note naming its part), and nothing is committed nor the
cursor moved; a task whose worker is lost is retried by the executor.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from fti.core.sources import Source, SourceBatch, SourceParts
from fti.features.ordered_tasks import map_in_order
from fti.features.preparation import Preparation

if TYPE_CHECKING:
    from collections.abc import Callable

    from fti.backends.ports import Executor

__all__ = ["PARTS_PER_WORKER", "PartedRead", "read_part"]

#: parts per executor worker: the first parts are written while the later ones are read
PARTS_PER_WORKER = 2


@dataclass(frozen=True, slots=True)
class _Part:
    """One executor task: a part of the source, and how its batches are prepared."""

    source: Source
    preparation: Preparation
    what: str


@dataclass(frozen=True, slots=True)
class _Read:
    """What a task read: its prepared batches, the rows and the input bytes read."""

    batches: list[pa.RecordBatch]
    rows: int
    bytes_read: int


def read_part(part: _Part) -> _Read:
    """An executor task: the prepared batches of one part of the source."""
    rows = bytes_read = 0

    def data() -> Iterator[pa.RecordBatch]:
        nonlocal rows, bytes_read
        for item in part.source.read(None):
            rows += item.data.num_rows
            bytes_read = item.bytes_read
            if item.data.num_rows:
                yield item.data

    return _Read(list(part.preparation.batches(part.what, data())), rows, bytes_read)


class PartedRead:
    """The prepared batches of a split source read on an executor, in part order; once they are all read, ``last``
    holds the cursor and span after the last part (as :class:`~fti.features.ingestion` tracks one read)."""

    def __init__(
        self,
        executor: Executor,
        split: SourceParts,
        preparation: Preparation,
        what: str,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        self._executor = executor
        self._split = split
        self._parts = [_Part(source, preparation, what) for source in split.parts]
        self._progress = progress
        self.last: SourceBatch | None = None
        self.rows = 0
        self._bytes_read = 0

    @property
    def bytes_read(self) -> int:
        """The input bytes of the parts read so far."""
        return self._bytes_read

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for read in map_in_order(self._executor, read_part, self._parts, "the ingestion"):
            self.rows += read.rows
            self._bytes_read += read.bytes_read
            if self._progress is not None:
                self._progress(self.rows, self._bytes_read)
            yield from read.batches
        split = self._split
        self.last = SourceBatch(pa.record_batch({}), split.cursor, split.span, self._bytes_read)
