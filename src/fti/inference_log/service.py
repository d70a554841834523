"""The inference log service: one object writes the log and its labels and answers every read of them.

The model server writes through it (it is the server's :class:`~fti.inference_log.writer.RequestLogSink`),
monitoring reads windows and labelled predictions through it, and the dashboard its traffic, spans and A/B
inputs: one read path (the data files that meet a window, see :mod:`fti.inference_log.queries`) and one cache,
owned by the instance (:class:`~fti.inference_log.cache.LogCache`).

Every read takes ``max_age``: how many seconds old the look at the tables' versions may be. The default, 0, looks
for new commits now, so a script sees every prediction logged before its call; the dashboard allows a few
seconds, so a page costs no look at the tables. A write through this object is seen by its next read whatever the
``max_age``.

Example:
    >>> log = project.inference_log  # doctest: +SKIP
    >>> log.spans()["fraud"].rows, log.read("fraud", columns=["prediction"]).num_rows  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.errors import BackendError, ConflictError, ValidationError
from fti.inference_log import queries
from fti.inference_log.cache import MAX_COLUMN_BYTES, MAX_RESULTS, LogCache, TableSpec
from fti.inference_log.inputs import conform_inputs, inputs_type
from fti.inference_log.schema import (
    INFERENCE_LOG_TABLE,
    INPUTS_COLUMN,
    LABEL_COLUMNS,
    LABELS_SCHEMA,
    LABELS_TABLE,
    LOG_COLUMNS,
    LOG_DICTIONARY,
    REQUEST_LOG_SCHEMA,
    STORED_LOG_SCHEMA,
    conform_log_batch,
)
from fti.inference_log.summaries import summarize_commit
from fti.inference_log.traffic import Traffic, traffic
from fti.inference_log.window import CHECKED_COLUMNS, LogWindow, WindowBounds, WindowSpec

if TYPE_CHECKING:
    from fti.backends.ports import OfflineStore
    from fti.inference_log.files import TableFiles
    from fti.inference_log.queries import LogSpan

__all__ = ["InferenceLog"]

_LOG = TableSpec(INFERENCE_LOG_TABLE, LOG_COLUMNS, LOG_DICTIONARY)
#: what tells one logged row from another: a request's answer by one model at one time
_IDENTITY = ("request_id", "timestamp", "model_name", "is_shadow")
_LABELS = TableSpec(LABELS_TABLE, LABEL_COLUMNS, ("deployment",))
_logger = logging.getLogger(__name__)
T = TypeVar("T")


class InferenceLog:
    """The inference log of a project's offline store: logged predictions and their labels.

    Args:
        offline: the offline store holding the ``inference_log`` and ``inference_labels`` tables.
        max_results: query results the cache keeps at most.
        max_column_bytes: bytes of the log's scalar columns the cache keeps in memory at most.
    """

    def __init__(
        self, offline: OfflineStore, *, max_results: int = MAX_RESULTS, max_column_bytes: int = MAX_COLUMN_BYTES
    ) -> None:
        self._offline = offline
        self._cache = LogCache(offline, max_results=max_results, max_column_bytes=max_column_bytes)
        self._inputs: dict[str, pa.DataType] | None = None

    # -- writing -----------------------------------------------------------------------------------

    def write(self, batch: pa.Table) -> None:
        """Append one batch of logged predictions (schema ``REQUEST_LOG_SCHEMA``, and the ``inputs`` struct of typed
        features when it has one) as one commit, and store the summary of its files beside them (see
        :mod:`fti.inference_log.summaries`).

        A typed feature the table holds under another type is logged in the row's ``features`` JSON instead (see
        :func:`~fti.inference_log.inputs.conform_inputs`); new ones are added to the table's ``inputs`` struct.
        """
        if not batch.num_rows:
            return
        batch = _conformed(batch)
        try:
            version = self._write_log(batch)
        except (BackendError, ConflictError):
            if INPUTS_COLUMN not in batch.column_names:
                raise
            # another writer may have added the same feature under another type, or changed the schema at the same
            # time (a conflict): look at the table's features again and retry once
            self._inputs = None
            version = self._write_log(batch)
        self._cache.recheck()
        try:
            summarize_commit(self._offline, INFERENCE_LOG_TABLE, version)
        except Exception as exc:  # the rows are committed: the write succeeded, a missing summary is made later
            _logger.warning(
                "Commit %s of the inference log was not summarized (done on first use): %s", version, exc, exc_info=True
            )

    def _write_log(self, batch: pa.Table) -> int:
        """Commit ``batch``, its ``inputs`` fitted to the table's typed features (the table's struct extended)."""
        if INPUTS_COLUMN not in batch.column_names:
            # a log written before a column was added to the schema (``score``) gets it with this append
            return self._offline.write(INFERENCE_LOG_TABLE, _reader(batch), merge_schema=True)
        known = self._known_inputs()
        batch = conform_inputs(batch, known)
        added = inputs_type(batch.schema)
        version = self._offline.write(INFERENCE_LOG_TABLE, _reader(batch), merge_schema=True)
        self._inputs = {**known, **{name: kind for name, kind in added.items() if name not in known}}
        return version

    def _known_inputs(self) -> dict[str, pa.DataType]:
        """The typed features the log table holds (looked up once, then kept up to date by this object's writes)."""
        if self._inputs is None:
            exists = self._offline.version(INFERENCE_LOG_TABLE) is not None
            self._inputs = inputs_type(self._offline.read(INFERENCE_LOG_TABLE).schema) if exists else {}
        return self._inputs

    def write_new(self, batch: pa.Table) -> int:
        """Append the rows of ``batch`` the log does not hold yet (the same request id, time, model and shadow
        flag): a request-log spool replayed after a crash is logged exactly once. Returns the rows appended."""
        if not batch.num_rows:
            return 0
        batch = _conformed(batch)
        stamps = batch.column("timestamp")
        start, end = pc.min(stamps).as_py(), pc.max(stamps).as_py() + timedelta(microseconds=1)
        self._cache.recheck()
        logged = self.read(None, start, end, include_shadow=True, columns=_IDENTITY)
        if logged.num_rows:
            logged = logged.select(list(_IDENTITY)).group_by(list(_IDENTITY), use_threads=False).aggregate([])
            logged = logged.append_column("logged", pa.repeat(True, logged.num_rows))
            # joined on the identity and row number only: the other columns (a struct of features) stay out of it
            keys = batch.select(list(_IDENTITY)).append_column("row", pa.array(np.arange(batch.num_rows)))
            joined = keys.join(logged, list(_IDENTITY), join_type="left outer", use_threads=False)
            fresh = joined.filter(pc.is_null(joined.column("logged"))).column("row").to_numpy()
            batch = batch.take(pa.array(np.sort(fresh)))
        self.write(batch)
        return int(batch.num_rows)

    def write_labels(self, labels: pa.Table) -> int:
        """Append ground-truth labels keyed by request id (``request_id``, ``deployment``, ``label``, optionally
        ``labelled_at``); returns the rows written.

        Raises:
            ValidationError: a column is missing or a request id is null.
        """
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
        self._cache.recheck()
        return int(table.num_rows)

    # -- rows --------------------------------------------------------------------------------------

    def read(
        self,
        deployment: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        include_shadow: bool = False,
        columns: Sequence[str] | None = None,
        max_age: float = 0.0,
    ) -> pa.Table:
        """Logged predictions of ``deployment`` (None: every deployment) with ``start <= timestamp < end``, oldest
        first; shadow predictions only with ``include_shadow``.

        ``columns`` reads only those columns of the log (``timestamp`` is always read); the logged features are
        read from the data files that hold rows of the window only.
        """
        log = self._files(_LOG, max_age)
        every = list(log.reader.schema.names) if log.reader is not None else STORED_LOG_SCHEMA.names
        names = every if columns is None else list(dict.fromkeys(["timestamp", *columns]))
        if INPUTS_COLUMN not in every:  # a log written before typed inputs: every feature is in the JSON
            names = [name for name in names if name != INPUTS_COLUMN]
        if log.reader is None:
            return STORED_LOG_SCHEMA.empty_table().select(names)
        rows = queries.rows(log, deployment, start, end, names, include_shadow=include_shadow)
        return _as_logged(rows)

    def read_window(
        self,
        deployment: str,
        window: WindowSpec = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        max_age: float = 0.0,
    ) -> LogWindow:
        """The deployment's non-shadow rows in a window (a duration ending at ``end``, the last N rows, or
        ``start``/``end``), the columns a monitoring check reads, their features parsed. A window of the last N rows
        starts at the N-th latest row's time (only the files from there on are read).

        Raises:
            ValidationError: the window is malformed, or given both as a duration and as ``start``.
        """
        bounds = WindowBounds.of(window, start=start, end=end)
        first = bounds.start
        if bounds.last_rows is not None:
            bound = self.nth_latest_time(deployment, bounds.start, bounds.end, bounds.last_rows, max_age=max_age)
            first = bound if bound is not None and (first is None or bound > first) else first
        log = self.read(deployment, first, bounds.end, columns=CHECKED_COLUMNS, max_age=max_age)
        if bounds.last_rows is not None and log.num_rows > bounds.last_rows:
            log = log.slice(log.num_rows - bounds.last_rows)
        return LogWindow.of(deployment, first, bounds.end, log)

    def request_ids(self, deployment: str, *, max_age: float = 0.0) -> pa.Array:
        """The distinct request ids ``deployment`` logged (shadow predictions included)."""
        log = self._files(_LOG, max_age)
        return self._cache.remember(
            ("request_ids", log.version, deployment), lambda: queries.request_ids(log, deployment)
        )

    def read_labels(self, deployment: str | None = None, *, max_age: float = 0.0) -> pa.Table:
        """Labels recorded for ``deployment`` (None: all); the latest label wins for a request labelled twice."""
        labels = self._files(_LABELS, max_age)
        found = queries.latest_labels(labels, deployment)
        return found if found.num_columns else LABELS_SCHEMA.empty_table()

    # -- aggregates --------------------------------------------------------------------------------

    def spans(self, *, max_age: float = 0.0) -> dict[str, LogSpan]:
        """Per deployment: non-shadow rows, first and last request times (from the files' footers and summaries)."""
        log = self._files(_LOG, max_age)
        return self._cache.remember(("spans", log.version), lambda: queries.log_spans(log))

    def nth_latest_time(
        self, deployment: str, start: datetime | None, end: datetime | None, rows: int, *, max_age: float = 0.0
    ) -> datetime | None:
        """The time of the ``rows``-th latest non-shadow row of ``deployment`` in ``[start, end)``, or None if
        fewer."""
        log = self._files(_LOG, max_age)
        key = ("nth", log.version, deployment, start, end, rows)
        return self._cache.remember(key, lambda: queries.nth_latest_time(log, deployment, start, end, rows))

    def traffic(
        self, deployment: str, start: datetime, end: datetime, bucket: timedelta, *, max_age: float = 0.0
    ) -> Traffic:
        """Requests, rows and p50/p99 latency per bucket and variant (a request's latency counted once per
        model); buckets of whole hours from the files' summaries."""
        log = self._files(_LOG, max_age)
        key = ("traffic", log.version, deployment, start, end, bucket)
        return self._cache.remember(key, lambda: traffic(log, deployment, start, end, bucket))

    def labelled_predictions(
        self, deployment: str, start: datetime | None = None, end: datetime | None = None, *, max_age: float = 0.0
    ) -> pa.Table:
        """Non-shadow predictions in ``[start, end)`` joined with their request's latest label, in no particular
        order: ``timestamp``, ``model_name``, ``model`` (``name:version``), ``prediction`` and ``label``."""
        log, labels = self._files(_LOG, max_age), self._files(_LABELS, max_age)
        key = ("labelled", log.version, labels.version, deployment, start, end)
        return self._cache.remember(key, lambda: queries.labelled_predictions(log, labels, deployment, start, end))

    def remember(
        self, parts: tuple[Any, ...], compute: Callable[[], T], *, labels: bool = False, max_age: float = 0.0
    ) -> T:
        """``compute()``, kept until the log (and with ``labels``, the labels) change: what a caller derives from
        this log (an A/B analysis, say) shares its cache. ``parts`` name the computation and its arguments."""
        versions = (self._files(_LOG, max_age).version, self._files(_LABELS, max_age).version if labels else None)
        return self._cache.remember(("derived", *versions, *parts), compute)

    def recheck(self) -> None:
        """Make the next read look for new log rows and labels now, whatever ``max_age`` it allows."""
        self._cache.recheck()

    def files(self, *, max_age: float = 0.0) -> TableFiles:
        """The log's data files as the cache holds them (each says whether its columns are in memory)."""
        return self._files(_LOG, max_age)

    @property
    def cached_bytes(self) -> int:
        """Bytes of the log's scalar columns kept in memory now (at most ``max_column_bytes``)."""
        return self._cache.column_bytes

    def _files(self, table: TableSpec, max_age: float) -> TableFiles:
        return self._cache.files(table, max_age=max_age)


def _as_logged(rows: pa.Table) -> pa.Table:
    """``rows`` with the log schema's fields (the files read back lose their columns' non-null flags)."""
    known = set(REQUEST_LOG_SCHEMA.names)
    fields = [
        REQUEST_LOG_SCHEMA.field(name) if name in known else rows.schema.field(name) for name in rows.column_names
    ]
    return rows.cast(pa.schema(fields))


def _conformed(batch: pa.Table) -> pa.Table:
    """``batch`` in the log's schema: its columns in order and types, and its ``inputs`` struct when it has one."""
    conformed = conform_log_batch(batch)
    if INPUTS_COLUMN not in batch.column_names:
        return conformed
    inputs = batch.column(INPUTS_COLUMN)
    if not pa.types.is_struct(inputs.type):
        raise ValidationError(
            f"The log's '{INPUTS_COLUMN}' column must be a struct of the features, got {inputs.type}: nothing written."
        )
    return conformed.append_column(INPUTS_COLUMN, inputs)


def _reader(table: pa.Table) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
