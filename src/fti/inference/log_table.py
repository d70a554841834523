"""The inference log in the offline store: what the server predicted, and the labels that came later.

The server's request log writer appends batches to the ``inference_log`` table (one Delta commit per
batch, with a summary of each data file beside it for the dashboard); ``project.log_labels`` appends
ground truth to ``inference_labels``. Monitoring reads both, filtered by deployment and time, and parses
the logged feature JSON in one vectorized pass.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.json as pajson

from fti.errors import ValidationError
from fti.features.sql import shared_engine
from fti.inference.log_summaries import summarize_commit
from fti.inference.request_log import REQUEST_LOG_SCHEMA

if TYPE_CHECKING:
    from fti.backends.ports import OfflineStore

__all__ = ["INFERENCE_LOG_TABLE", "LABELS_SCHEMA", "LABELS_TABLE", "InferenceLogTable", "parse_features"]

INFERENCE_LOG_TABLE = "inference_log"
LABELS_TABLE = "inference_labels"
_logger = logging.getLogger(__name__)
LABELS_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("deployment", pa.string(), nullable=False),
        pa.field("label", pa.float64()),
        pa.field("labelled_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


class InferenceLogTable:
    """Append and read the inference log and its labels (a RequestLogSink for the server)."""

    def __init__(self, offline: OfflineStore) -> None:
        self._offline = offline

    def write(self, batch: pa.Table) -> None:
        """Append one batch of logged predictions (schema ``REQUEST_LOG_SCHEMA``) as one commit, and store the
        summary of its files beside them (see :mod:`fti.inference.log_summaries`)."""
        if batch.num_rows:
            batch = batch.select(REQUEST_LOG_SCHEMA.names).cast(REQUEST_LOG_SCHEMA)
            version = self._offline.write(
                INFERENCE_LOG_TABLE, pa.RecordBatchReader.from_batches(batch.schema, batch.to_batches())
            )
            try:
                summarize_commit(self._offline, INFERENCE_LOG_TABLE, version)
            except Exception as exc:  # the rows are committed: the write succeeded, a missing summary is made later
                _logger.warning(
                    "Commit %s of the inference log was not summarized (done on first use): %s",
                    version,
                    exc,
                    exc_info=True,
                )

    def write_labels(self, labels: pa.Table) -> int:
        """Append ground-truth labels keyed by request id; returns the rows written."""
        missing = [name for name in ("request_id", "deployment", "label") if name not in labels.column_names]
        if missing:
            raise ValidationError(
                f"Labels need the columns request_id, deployment and label; missing: {', '.join(missing)}."
            )
        if "labelled_at" not in labels.column_names:
            now = pa.scalar(datetime.now().astimezone(), pa.timestamp("us", tz="UTC"))
            labels = labels.append_column("labelled_at", pa.array([now.as_py()] * labels.num_rows, now.type))
        table = labels.select(LABELS_SCHEMA.names).cast(LABELS_SCHEMA)
        if pc.any(pc.is_null(table.column("request_id"))).as_py():
            raise ValidationError("Labels have a null request_id: every label must name the request it answers.")
        self._offline.write(LABELS_TABLE, _reader(table))
        return int(table.num_rows)

    def read(
        self,
        deployment: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        include_shadow: bool = False,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """Logged predictions of ``deployment`` with ``start <= timestamp < end``, oldest first.

        ``columns`` reads only those columns of the log (``timestamp`` is always read).
        """
        names = None if columns is None else list(dict.fromkeys(["timestamp", *columns]))
        if not self._offline.exists(INFERENCE_LOG_TABLE):
            empty = REQUEST_LOG_SCHEMA.empty_table()
            return empty if names is None else empty.select(names)
        condition = pads.field("timestamp").is_valid()
        if deployment is not None:
            condition &= pads.field("deployment") == deployment
        if start is not None:
            condition &= pads.field("timestamp") >= pa.scalar(start, pa.timestamp("us", tz="UTC"))
        if end is not None:
            condition &= pads.field("timestamp") < pa.scalar(end, pa.timestamp("us", tz="UTC"))
        if not include_shadow:
            condition &= pads.field("is_shadow") == False  # noqa: E712 (a dataset expression, not a bool)
        table = self._offline.read(INFERENCE_LOG_TABLE).to_table(columns=names, filter=condition)
        micros = pc.cast(table.column("timestamp"), pa.int64()).to_numpy()
        if np.all(micros[1:] >= micros[:-1]):  # batches are appended in time order: usually nothing to sort
            return table
        return table.sort_by("timestamp")

    def read_labels(self, deployment: str | None = None) -> pa.Table:
        """Labels recorded for ``deployment``; the latest label wins for a request labelled twice."""
        if not self._offline.exists(LABELS_TABLE):
            return LABELS_SCHEMA.empty_table()
        condition = pads.field("deployment") == deployment if deployment is not None else None
        table = self._offline.read(LABELS_TABLE).to_table(filter=condition).sort_by("labelled_at")
        ids = table.column("request_id").to_numpy(zero_copy_only=False)
        _, last_from_end = np.unique(ids[::-1], return_index=True)
        return table.take(pa.array(np.sort(len(ids) - 1 - last_from_end)))


def _reader(table: pa.Table) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches())


def parse_features(log: pa.Table) -> pa.Table:
    """The logged ``features`` JSON of every row as columns, parsed in one vectorized pass.

    The column types come from a sample of rows spread over the log (numbers as float64, whole-number columns
    back to int64, booleans, strings); every row is then parsed to those types at once by DuckDB's JSON
    reader, which is several times faster than inferring types over the whole log. A value that does not
    fit its column's type (a string among numbers) is read as null, so it shows up as nulls in data quality.
    Rows whose keys or types the fast path does not cover (nested values, columns null in the whole sample)
    are parsed with full type inference instead.
    """
    if log.num_rows == 0:
        return pa.table({})
    column = log.column("features")
    sample = _infer(column.take(_sample_rows(len(column))))
    structure = _structure(sample.schema)
    if structure is None:
        return _infer(column)
    parsed = _transform(column, structure)
    whole = [field.name for field in sample.schema if pa.types.is_integer(field.type)]
    return _whole_numbers_as_integers(parsed, whole)


_SAMPLE_ROWS = 1000
_SQL_TYPES = {"number": "DOUBLE", "boolean": "BOOLEAN", "string": "VARCHAR"}


def _sample_rows(rows: int) -> pa.Array:
    return pa.array(np.unique(np.linspace(0, rows - 1, min(rows, _SAMPLE_ROWS)).astype(np.int64)))


def _json_family(data_type: pa.DataType) -> str:
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type):
        return "number"
    if pa.types.is_boolean(data_type):
        return "boolean"
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "string"
    return "other"


def _structure(schema: pa.Schema) -> dict[str, str] | None:
    """The DuckDB type of each key seen in the sample, or None when one is not a number, boolean or string."""
    structure = {field.name: _SQL_TYPES.get(_json_family(field.type)) for field in schema}
    if any(sql_type is None for sql_type in structure.values()):
        return None
    return {name: str(sql_type) for name, sql_type in structure.items()}


def _transform(column: pa.ChunkedArray, structure: dict[str, str]) -> pa.Table:
    literal = json.dumps(structure).replace("'", "''")
    with shared_engine().cursor() as connection:
        connection.register("logged", pa.table({"features": column}))
        query = f"SELECT unnest(json_transform(features, '{literal}')) FROM logged"
        parsed = connection.sql(query).to_arrow_table()
    return parsed.rename_columns(list(structure))


def _whole_numbers_as_integers(table: pa.Table, names: list[str]) -> pa.Table:
    """Columns the sample saw as integers back to int64 when every value is whole (codes, counts, keys)."""
    for name in names:
        try:
            as_integers = pc.cast(table.column(name), pa.int64())  # a safe cast refuses fractions
        except pa.ArrowInvalid:
            continue
        table = table.set_column(table.schema.get_field_index(name), name, as_integers)
    return table


def _infer(column: pa.ChunkedArray | pa.Array) -> pa.Table:
    """Parse with type inference: the rows joined into one newline-delimited JSON buffer, read at once."""
    # large strings: a long window's JSON can pass the 2 GiB that 32-bit offsets address
    lines = pc.binary_join_element_wise(
        pc.cast(column, pa.large_string()), pa.scalar("\n", pa.large_string()), pa.scalar("", pa.large_string())
    )
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], np.int64, count=len(lines) + 1, offset=lines.offset * 8)
    data = lines.buffers()[2][int(offsets[0]) : int(offsets[-1])]
    return pajson.read_json(pa.BufferReader(data))
