"""Queries on the inference log's data files: a window's rows, each deployment's span, the time of the N-th latest
row, a deployment's request ids, its labels and its labelled predictions.

A query looks only at the data files whose time range (from their Parquet footers) meets its window, and reads
their scalar columns (request id, time, deployment, variant, model, prediction, latency), which the files keep
(see :mod:`fti.inference_log.files`). Other columns (the logged features) are read for the rows of the window
only, and not kept. The labelled predictions are one DuckDB query, which reads local files with DuckDB's own
Parquet reader. Each function takes the table's files as they are now; :class:`fti.inference_log.InferenceLog`
chooses the version and keeps the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.features.sql import local_paths, parquet_scan, shared_engine
from fti.inference_log.files import DataFile, TableFiles, codes, microseconds, read_tables
from fti.inference_log.rollup import footer_spans
from fti.inference_log.summaries import file_summary

__all__ = [
    "LABELLED_SCHEMA",
    "LogSpan",
    "labelled_predictions",
    "latest_labels",
    "log_spans",
    "nth_latest_time",
    "request_ids",
    "rows",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LABELLED_SCHEMA = pa.schema(
    [
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("model_name", pa.string()),
        ("model", pa.string()),
        ("prediction", pa.float64()),
        ("label", pa.float64()),
        ("score", pa.float64()),
    ]
)
"""Labelled predictions: when, which model (``model`` is ``name:version``), what it predicted, the label, and the
positive-class score when the request computed one (null otherwise)."""


@dataclass(frozen=True, slots=True)
class LogSpan:
    """What one deployment logged: non-shadow rows, and the first and last request times."""

    deployment: str
    rows: int
    first: datetime
    last: datetime


def _micros(moment: datetime | None) -> int | None:
    return None if moment is None else microseconds(moment)


def _utc(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def rows(
    log: TableFiles,
    deployment: str | None,
    start: datetime | None,
    end: datetime | None,
    columns: Sequence[str],
    *,
    include_shadow: bool = False,
) -> pa.Table:
    """The rows of ``deployment`` (None: every deployment) with ``start <= timestamp < end`` (None: unbounded),
    non-shadow unless asked, oldest first: ``columns`` of the log, strings plain (not dictionary-encoded).

    Columns the files do not keep in memory (the logged features) are read from the files that hold rows of the
    window, only from their first to their last row wanted, and not kept.
    """
    low, high = _micros(start), _micros(end)
    # oldest first by the footers: files that do not overlap in time then concatenate in order, with no sort
    files = sorted(
        (file for file in log.meeting(low, high, **_only(deployment)) if file.rows),
        key=lambda file: -1 if file.first is None else file.first,
    )
    read_tables(files)
    parts = []
    for file in files:
        keep = _row_mask(file, deployment, low, high, include_shadow=include_shadow)
        positions = None if keep is None else np.flatnonzero(keep)
        if positions is not None and len(positions) == 0:
            continue
        parts.append(_rows_of(file, columns, positions, log.reader.schema if log.reader is not None else None))
    if not parts:
        return log.reader.schema.empty_table().select(list(columns)) if log.reader is not None else pa.table({})
    found = pa.concat_tables(parts)
    if "timestamp" not in columns:
        return found
    stamps = found.column("timestamp").cast(pa.int64()).to_numpy()
    return found if bool(np.all(stamps[1:] >= stamps[:-1])) else found.sort_by("timestamp")


def _only(deployment: str | None) -> dict[str, str]:
    """The footer condition of a deployment's files (none for every deployment)."""
    return {} if deployment is None else {"deployment": deployment}


def _rows_of(
    file: DataFile, columns: Sequence[str], positions: np.ndarray[Any, Any] | None, schema: pa.Schema | None = None
) -> pa.Table:
    """``columns`` of one file: every row, or the rows at the ascending ``positions``; the columns the file does not
    keep typed as in ``schema`` (the table's now: a struct a later commit widened reads with its every field)."""
    kept = [column for column in columns if column in file.table().column_names]
    other = [column for column in columns if column not in kept]
    part = file.table().select(kept)
    if positions is not None:
        part = part.take(pa.array(positions))
    if other:
        read = file.read(other, positions, schema)
        part = pa.table({column: (part if column in kept else read).column(column) for column in columns})
    return _plain(part)


def _plain(table: pa.Table) -> pa.Table:
    """``table`` with its dictionary-encoded columns decoded."""
    for index, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(index, field.name, table.column(index).cast(field.type.value_type))
    return table


def _row_mask(
    file: DataFile, deployment: str | None, low: int | None, high: int | None, *, include_shadow: bool
) -> np.ndarray[Any, Any] | None:
    """Which rows of one file are of ``deployment`` with ``low <= timestamp < high`` (and non-shadow unless asked);
    None when the footer says every row is."""
    is_inside = (
        file.first is not None
        and file.last is not None
        and (low is None or low <= file.first)
        and (high is None or file.last < high)
    )
    is_theirs = deployment is None or file.only("deployment") == deployment
    if is_inside and is_theirs and (include_shadow or file.only("is_shadow") is False):
        return None
    table = file.table()
    keep: np.ndarray[Any, Any] = np.ones(table.num_rows, dtype=bool)
    if low is not None or high is not None:
        stamps = np.asarray(table.column("timestamp").cast(pa.int64()).to_numpy(), dtype=np.int64)
        if low is not None:
            keep &= stamps >= low
        if high is not None:
            keep &= stamps < high
    if deployment is not None:
        keep &= _equals(table.column("deployment"), deployment)
    if not include_shadow:
        keep &= ~np.asarray(table.column("is_shadow").to_numpy(zero_copy_only=False), dtype=bool)
    return keep


def _equals(column: pa.ChunkedArray, value: str) -> np.ndarray[Any, Any]:
    """Whether each row of a (dictionary-encoded) string column holds ``value``."""
    indices, dictionary = codes(column)
    found = pc.index(dictionary.cast(pa.string()), value).as_py()
    if found < 0:
        return np.zeros(len(indices), dtype=bool)
    matched: np.ndarray[Any, Any] = indices == found
    if column.null_count:
        matched &= np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    return matched


def log_spans(log: TableFiles) -> dict[str, LogSpan]:
    """Per deployment: non-shadow rows, first and last request times (from the files' footers where they tell,
    else from their summaries)."""
    merged: dict[str, tuple[int, int, int]] = {}
    for file in log.files:
        for name, (count, first, last) in _spans(file).items():
            before = merged.get(name)
            merged[name] = (
                (count, first, last)
                if before is None
                else (before[0] + count, min(before[1], first), max(before[2], last))
            )
    return {
        name: LogSpan(name, count, _utc(first), _utc(last)) for name, (count, first, last) in sorted(merged.items())
    }


def _spans(file: DataFile) -> dict[str, tuple[int, int, int]]:
    found = footer_spans(file)
    return file_summary(file).spans if found is None else found


def nth_latest_time(
    log: TableFiles, deployment: str, start: datetime | None, end: datetime | None, count: int
) -> datetime | None:
    """The time of the ``count``-th latest non-shadow row of ``deployment`` in ``[start, end)``, or None if fewer.

    Newest files first, stopping once a file ends before the ``count``-th latest time found so far.
    """
    low, high = _micros(start), _micros(end)
    files = sorted(log.meeting(low, high, deployment=deployment), key=lambda file: file.last or 0, reverse=True)
    found = np.empty(0, dtype=np.int64)
    for file in files:
        if len(found) >= count and file.last is not None and file.last <= _latest(found, count):
            break
        keep = _row_mask(file, deployment, low, high, include_shadow=False)
        stamps = file.table().column("timestamp")
        if keep is not None:
            stamps = stamps.filter(pa.array(keep))
        found = np.concatenate([found, stamps.cast(pa.int64()).to_numpy()])
    return None if len(found) < count else _utc(_latest(found, count))


def _latest(stamps: np.ndarray[Any, Any], count: int) -> int:
    """The ``count``-th largest value."""
    return int(np.partition(stamps, len(stamps) - count)[len(stamps) - count])


def request_ids(log: TableFiles, deployment: str) -> pa.Array:
    """The distinct request ids ``deployment`` logged (shadow included)."""
    found = rows(log, deployment, None, None, ["request_id"], include_shadow=True)
    if found.num_rows == 0:
        return pa.array([], pa.string())
    return pc.unique(found.column("request_id").combine_chunks())


def latest_labels(labels: TableFiles, deployment: str | None) -> pa.Table:
    """The labels of ``deployment`` (None: all), the latest label of a request labelled twice, in label order."""
    files = [file for file in labels.meeting(None, None, **_only(deployment)) if file.rows]
    if not files:
        return pa.table({})
    table = pa.concat_tables([_plain(part) for part in read_tables(files)])
    if deployment is not None:
        table = table.filter(pc.equal(table.column("deployment"), deployment))
    table = table.sort_by("labelled_at")
    ids = table.column("request_id").to_numpy(zero_copy_only=False)
    _, last_from_end = np.unique(ids[::-1], return_index=True)
    return table.take(pa.array(np.sort(len(ids) - 1 - last_from_end)))


def labelled_predictions(
    log: TableFiles, labels: TableFiles, deployment: str, start: datetime | None, end: datetime | None
) -> pa.Table:
    """The non-shadow rows of ``deployment`` in ``[start, end)`` with their request's latest label
    (:data:`LABELLED_SCHEMA`), in no particular order: one query, in which DuckDB reads local files with its own
    Parquet reader (only the columns it needs, on every core)."""
    low, high = _micros(start), _micros(end)
    logged = [file for file in log.meeting(low, high, deployment=deployment) if file.rows]
    labelled = [file for file in labels.meeting(deployment=deployment) if file.rows]
    if not logged or not labelled:
        return LABELLED_SCHEMA.empty_table()
    bounds = "".join(
        [
            "" if low is None else " AND epoch_us(log.timestamp) >= $low",
            "" if high is None else " AND epoch_us(log.timestamp) < $high",
        ]
    )
    params: dict[str, Any] = {"deployment": deployment}
    params |= {key: value for key, value in (("low", low), ("high", high)) if value is not None}
    # files written before the log had a score column lack it: read as null
    score = "log.score" if any(file.has_column("score") for file in logged) else "CAST(NULL AS DOUBLE)"
    with shared_engine().cursor() as connection:
        found = connection.sql(
            f"""
            WITH labels AS (
                SELECT request_id, arg_max(label, labelled_at) AS label
                FROM {_scan(connection, labelled, "label_rows")}
                WHERE deployment = $deployment
                GROUP BY request_id
            )
            SELECT log.timestamp, log.model_name, log.model_version, log.prediction, labels.label, {score} AS score
            FROM {_scan(connection, logged, "log_rows")} AS log JOIN labels USING (request_id)
            WHERE log.deployment = $deployment AND NOT log.is_shadow{bounds}
            """,
            params=params,
        ).to_arrow_table()
    if found.num_rows == 0:
        return LABELLED_SCHEMA.empty_table()
    name = found.column("model_name").cast(pa.string())
    return pa.table(
        {
            "timestamp": found.column("timestamp").cast(LABELLED_SCHEMA.field("timestamp").type),
            "model_name": name,
            "model": pc.binary_join_element_wise(name, found.column("model_version").cast(pa.string()), ":"),
            "prediction": found.column("prediction").cast(pa.float64()),
            "label": found.column("label").cast(pa.float64()),
            "score": found.column("score").cast(pa.float64()),
        },
        schema=LABELLED_SCHEMA,
    )


def _scan(connection: duckdb.DuckDBPyConnection, files: Sequence[DataFile], name: str) -> str:
    """The SQL source of the rows of ``files``: DuckDB reads local files itself; files elsewhere (an object store)
    are read as Arrow (their scalar columns, kept) and registered as ``name`` on ``connection``."""
    paths = local_paths(files[0].filesystem, [file.path for file in files])
    if paths:
        return parquet_scan(paths)
    connection.register(name, pa.concat_tables([_plain(table) for table in read_tables(files)]))
    return name
