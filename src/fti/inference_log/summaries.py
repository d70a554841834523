"""Summaries of the inference log's data files, kept next to them: per file, each deployment's span (non-shadow rows,
first and last request) and the hourly rollup of its requests and latency (see :mod:`fti.inference_log.rollup`).

The log's writer stores the summary of each file it commits (:func:`summarize_commit`), so the dashboard shows a
month of traffic from a few small summaries instead of reading a month of rows. A file without a summary (written
before summaries existed, or rewritten by a compaction) is summarized from its columns on first use
(:func:`file_summary`), and its summary stored then.

A summary is an Arrow IPC file ``_fti_summaries/<data file name>.arrow`` in the table's folder: Delta readers and
vacuum leave folders whose name starts with ``_`` alone. It names the rows of its data file; one that does not
match its file, or cannot be read, is ignored (and replaced). Data files never change once written, so neither do
their summaries.
"""

from __future__ import annotations

import json
import logging
import posixpath
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.fs as pafs

from fti.inference_log.files import DataFile, data_files, is_local
from fti.inference_log.rollup import ROLLUP_SCHEMA, FileRollup, file_rollup, file_spans
from fti.inference_log.schema import LOG_COLUMNS, LOG_DICTIONARY

if TYPE_CHECKING:
    from fti.backends.ports import OfflineStore

__all__ = ["SUMMARY_FOLDER", "FileSummary", "file_summary", "summarize_commit"]

SUMMARY_FOLDER = "_fti_summaries"
_FORMAT = 1
_KEY = b"fti.summary"
_logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FileSummary:
    """One data file in brief: per deployment ``(non-shadow rows, first, last)`` (microseconds), and the rollup."""

    spans: dict[str, tuple[int, int, int]]
    rollup: FileRollup


def file_summary(file: DataFile) -> FileSummary:
    """The summary of one data file: kept in memory once used; else read from beside the file; else computed from
    the file's columns and stored beside it (best effort: a read-only table is summarized again next time)."""
    return file.derived("summary", _summary)


def summarize_commit(offline: OfflineStore, table: str, version: int) -> int:
    """Store the summary of each data file that commit ``version`` of ``table`` added; returns how many."""
    files = data_files(offline.added(table, version), LOG_COLUMNS, LOG_DICTIONARY)
    for file in files:
        _store(file, _computed(file))
    return len(files)


def _summary(file: DataFile) -> FileSummary:
    found = _load(file)
    if found is None:
        found = _computed(file)
        try:
            _store(file, found)
        except Exception as exc:  # a summary not stored is made again next time: it never fails a read
            _logger.debug("The summary of %s was not stored: %s", file.path, exc)
    return found


def _computed(file: DataFile) -> FileSummary:
    return FileSummary(file_spans(file), file_rollup(file))


def _path(file: DataFile) -> str:
    return f"{SUMMARY_FOLDER}/{posixpath.basename(file.path)}.arrow"


def _load(file: DataFile) -> FileSummary | None:
    """The stored summary of ``file``, or None if there is none that matches it."""
    try:
        with file.filesystem.open_input_file(_path(file)) as source:
            table = pa.ipc.open_file(source).read_all()
        about = json.loads((table.schema.metadata or {})[_KEY])
        rollup = table.replace_schema_metadata(None)
        if about["format"] != _FORMAT or about["rows"] != file.rows or rollup.schema != ROLLUP_SCHEMA:
            return None
        spans = {str(name): (int(rows), int(first), int(last)) for name, (rows, first, last) in about["spans"].items()}
        edges = tuple((tuple(identity), tuple(group)) for identity, group in about["edges"])
    except (OSError, pa.ArrowException, KeyError, TypeError, ValueError):
        return None
    return FileSummary(spans, FileRollup(rollup, edges))


def _store(file: DataFile, summary: FileSummary) -> None:
    """Write ``summary`` beside ``file``; on a local disk through a temporary file, so a reader never sees half."""
    about: dict[str, Any] = {
        "format": _FORMAT,
        "rows": file.rows,
        "spans": summary.spans,
        "edges": summary.rollup.edges,
    }
    table = summary.rollup.rollup.replace_schema_metadata({_KEY: json.dumps(about).encode()})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    data = sink.getvalue()
    filesystem, path = file.filesystem, _path(file)
    if not is_local(filesystem):  # an object store's put is atomic
        with filesystem.open_output_stream(path) as out:
            out.write(data)
        return
    filesystem.create_dir(SUMMARY_FOLDER, recursive=True)
    partial = f"{SUMMARY_FOLDER}/.{uuid.uuid4().hex}.partial"
    try:
        with filesystem.open_output_stream(partial) as out:
            out.write(data)
        filesystem.move(partial, path)
    finally:
        if filesystem.get_file_info(partial).type != pafs.FileType.NotFound:
            filesystem.delete_file(partial)
