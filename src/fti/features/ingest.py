"""Turning user data into validated record batches that stream into one offline-table transaction.

Accepts pandas and Polars DataFrames, pyarrow Tables, RecordBatches, RecordBatchReaders and iterables
of RecordBatches. Nothing is collected: batches are normalized, checked and forwarded one at a time, so
memory stays bounded by the batch size. A problem raises inside the stream, which aborts the
transaction before it commits.

The batches are read and checked by a thread of their own, a few batches ahead of the writer, so that
reading, checking and the writer's Parquet encoding run at once rather than in turn on one core.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.core.read_ahead import read_ahead
from fti.errors import FtiError, ValidationError
from fti.features.expectations import Expectation, ExpectationRun
from fti.features.schema import SchemaPlan
from fti.features.stream_statistics import StreamStatistics

__all__ = ["BATCH_ROWS", "InsertStream", "source_batches"]

BATCH_ROWS = 131_072
#: validated batches a reader holds ahead of the writer (each about one 8 MiB block of a CSV file)
READ_AHEAD = 2


def source_batches(data: Any, what: str) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The schema and batches of ``data``, without reading a stream ahead."""
    module = type(data).__module__
    if module.startswith("pandas"):
        if not hasattr(data, "columns"):
            raise ValidationError(f"{what}: expected a DataFrame, got a pandas {type(data).__name__}.")
        table = pa.Table.from_pandas(data, preserve_index=False)
        return table.schema, iter(table.to_batches(max_chunksize=BATCH_ROWS))
    if module.startswith("polars"):
        if not hasattr(data, "to_arrow"):
            raise ValidationError(f"{what}: expected a DataFrame, got a polars {type(data).__name__}.")
        if hasattr(data, "collect") and not hasattr(data, "height"):
            data = data.collect()
        table = data.to_arrow()
        return table.schema, iter(table.to_batches(max_chunksize=BATCH_ROWS))
    if isinstance(data, pa.Table):
        return data.schema, iter(data.to_batches(max_chunksize=BATCH_ROWS))
    if isinstance(data, pa.RecordBatch):
        return data.schema, iter([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.schema, iter(data)
    if isinstance(data, Iterable) and not isinstance(data, str | bytes | dict):
        iterator = iter(data)
        first = next(iterator, None)
        if first is None:
            raise ValidationError(f"{what}: the iterable of record batches is empty; nothing to insert.")
        if not isinstance(first, pa.RecordBatch):
            raise ValidationError(f"{what}: an iterable must yield pyarrow RecordBatches, got {type(first).__name__}.")
        return first.schema, _chain(first, iterator)
    raise ValidationError(
        f"{what}: cannot insert a {type(data).__name__}; pass a pandas or Polars DataFrame, a pyarrow "
        "Table, a RecordBatchReader or an iterable of RecordBatches."
    )


def _chain(first: pa.RecordBatch, rest: Iterator[Any]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


class InsertStream:
    """Validates batches on their way to storage; ``error`` keeps the problem that aborted the stream."""

    def __init__(
        self,
        *,
        what: str,
        plan: SchemaPlan,
        keys: tuple[str, ...],
        commit: int,
        expectations: Iterable[Expectation],
    ) -> None:
        self._what = what
        self._plan = plan
        self._keys = keys
        self._commit = commit
        self._expectations = ExpectationRun(expectations)
        self.error: FtiError | None = None
        self.rows = 0
        self.schema = plan.target.append(pa.field("_fti_commit", pa.int64())).append(pa.field("_fti_row", pa.int64()))
        self.statistics = StreamStatistics(plan.target, keys)

    def reader(self, batches: Iterator[pa.RecordBatch]) -> pa.RecordBatchReader:
        """A reader over the validated batches, each with its commit and row numbers."""
        return pa.RecordBatchReader.from_batches(self.schema, read_ahead(self._validated(batches), READ_AHEAD))

    def _validated(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        try:
            for raw in batches:
                if len(raw) == 0:
                    continue
                try:
                    batch = self._plan.apply(_decoded(raw))
                except ValidationError as exc:
                    raise ValidationError(f"{self._what}: {exc}") from None
                self._check_keys(batch)
                self._expectations.check(batch, self.rows)
                self.statistics.add(batch)
                size = len(batch)
                yield pa.RecordBatch.from_arrays(
                    [
                        *batch.columns,
                        pa.array(np.full(size, self._commit, dtype=np.int64)),
                        pa.array(np.arange(self.rows, self.rows + size, dtype=np.int64)),
                    ],
                    schema=self.schema,
                )
                self.rows += size
            failures = self._expectations.failures()
            if failures:
                raise ValidationError(
                    f"{self._what}: {len(failures)} expectation(s) failed, nothing was written: "
                    + " | ".join(failure.describe() for failure in failures)
                    + ". Fix or drop those rows and insert again."
                )
        except FtiError as exc:
            self.error = exc
            raise

    def _check_keys(self, batch: pa.RecordBatch) -> None:
        for name in self._keys:
            nulls = pc.is_null(batch.column(batch.schema.get_field_index(name)), nan_is_null=True)
            count = pc.sum(nulls).as_py() or 0
            if count:
                rows = np.flatnonzero(np.asarray(nulls.to_numpy(zero_copy_only=False), dtype=np.bool_))[:5]
                shown = ", ".join(str(self.rows + int(row)) for row in rows)
                raise ValidationError(
                    f"{self._what}: key column '{name}' is null in {count} row(s) of this batch (rows {shown}); "
                    "nothing was written. Primary key and event time need a value in every row: drop or fill "
                    "those rows."
                )


def _decoded(batch: pa.RecordBatch) -> pa.RecordBatch:
    if not any(pa.types.is_dictionary(column.type) for column in batch.schema):
        return batch
    columns = [
        pc.cast(column, column.type.value_type) if pa.types.is_dictionary(column.type) else column
        for column in batch.columns
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
