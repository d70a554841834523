"""Delta Lake tables in a local folder or under ``s3://bucket/prefix``; one write is one Delta transaction.

A writer streams Arrow record batches into Parquet files and publishes them with one commit to the
table's ``_delta_log``; a reader opens the table at a version. A write that fails or is killed midway
leaves only unreferenced files: readers keep seeing the previous version.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

import pyarrow.fs as pafs
from pydantic import BaseModel, ConfigDict

from fti.backends.settings import parse_backend_config
from fti.core.features import TableCompaction
from fti.core.naming import validate_artifact_key
from fti.errors import BackendError, ConflictError, NotFoundError, ValidationError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as pads

__all__ = ["TARGET_FILE_BYTES", "DeltaOfflineConfig", "DeltaOfflineStore"]

#: the writer buffers about one file per stream, so this bounds a large insert's memory; 16 MiB files made an
#: insert of 10M rows 2.3x the cost of the raw write (many small Parquet files), 64 MiB 1.1x
TARGET_FILE_BYTES = 64 << 20
#: compaction writes files of about this size; files under half the writer's size count as small
_COMPACTED_FILE_BYTES = 64 << 20
_SMALL_FILE_BYTES = TARGET_FILE_BYTES // 2
#: columns never worth a dictionary: ``_fti_row`` numbers every row of a commit once
_UNIQUE_COLUMNS = frozenset({"_fti_row"})
#: rows an append buffers before it encodes them as one Parquet row group
_ROW_GROUP_BYTES = 16 << 20
#: commits an append tries, each at the version after the newest, before it gives up to writers taking them all
_APPEND_ATTEMPTS = 20
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1)


class DeltaOfflineConfig(BaseModel):
    """Settings of the Delta Lake offline store. S3 credentials come from the environment (AWS_*)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    uri: str
    endpoint_url: str | None = None
    region: str | None = None


class DeltaOfflineStore:
    """Offline store of Delta Lake tables named by relative keys such as ``feature_groups/cards_v1``."""

    def __init__(self, config: DeltaOfflineConfig) -> None:
        self.config = config
        self._is_open = False

    @classmethod
    def config_from(cls, options: Mapping[str, Any]) -> DeltaOfflineConfig:
        """Validate options: ``uri`` is an absolute folder or ``s3://bucket/prefix``."""
        config = parse_backend_config(DeltaOfflineConfig, options, "offline_store")
        uri = config.uri
        if uri.startswith("s3://"):
            if not uri[5:].split("/")[0]:
                raise ValidationError(f"Invalid offline_store.uri {uri!r}: expected s3://bucket/prefix.")
        elif "://" in uri and not uri.startswith("file://"):
            raise ValidationError(f"Invalid offline_store.uri {uri!r}: expected a folder or s3://bucket/prefix.")
        elif not Path(uri.removeprefix("file://")).is_absolute():
            raise ValidationError(f"Invalid offline_store.uri {uri!r}: the folder must be an absolute path.")
        return config

    @property
    def _is_s3(self) -> bool:
        return self.config.uri.startswith("s3://")

    # -- lifecycle ---------------------------------------------------------------------------------

    def open(self) -> None:
        """Check the driver is installed and create the local folder; nothing else connects."""
        if not self._is_s3:
            Path(self._root()).mkdir(parents=True, exist_ok=True)
        self._is_open = True

    def close(self) -> None:
        """Nothing is held between calls."""
        self._is_open = False

    def ping(self) -> None:
        """Check the folder or bucket can be listed."""
        self._require_open()
        if not self._is_s3:
            if not Path(self._root()).is_dir():
                raise BackendError(f"Offline store {self.describe()} is not a folder.")
            return
        self.exists("_fti_ping")

    def describe(self) -> str:
        """The folder or s3:// URI and the endpoint, if any."""
        where = self.config.uri.rstrip("/")
        return f"{where} at {self.config.endpoint_url}" if self.config.endpoint_url else where

    # -- tables ------------------------------------------------------------------------------------

    def write(
        self,
        table: str,
        data: pa.RecordBatchReader,
        *,
        mode: Literal["append", "overwrite"] = "append",
        version: int | None = None,
        merge_schema: bool = False,
    ) -> int:
        """Stream ``data`` into ``table`` as one transaction (creating the table); return the new version.

        With ``merge_schema``, an append adds the columns (and struct fields) of ``data`` the table lacks.

        An append of flat columns of plain types (numbers, booleans, strings, dates, timestamps in µs) is encoded by
        pyarrow's Parquet writer and published by a Delta transaction (:meth:`_append`, :meth:`_create`); other
        writes go through the driver's ``write_deltalake``. Both write the same Parquet settings.

        With ``version``, commit exactly that version or raise ConflictError (another writer took it).
        If reading ``data`` fails midway, nothing is committed and the reader's error is raised as a
        BackendError (chained).
        """
        from deltalake import CommitProperties, DeltaTable, write_deltalake
        from deltalake.exceptions import CommitFailedError

        uri = self._uri(table)
        target: Any = uri
        if version is not None:
            current = self.version(table)
            if (current is None and version != 0) or (current is not None and version != current + 1):
                raise ConflictError(_taken(table, version, current))
            if current is not None:
                target = DeltaTable(uri, version=current, storage_options=self._storage_options())
        elif mode == "append" and self.exists(table):
            # Appends from several writers at once all commit (the driver retries a blind append on the next
            # version); writing through the table object tells which version this one took.
            target = self._open_table(table, None)
        schema_mode: Literal["overwrite", "merge"] | None = (
            "overwrite" if mode == "overwrite" else "merge" if merge_schema else None
        )
        if mode == "append" and schema_mode is None:
            if isinstance(target, str) and _fits(data.schema, _delta_schema(data.schema)):
                return self._create(table, data, target)
            if not isinstance(target, str) and _fits(data.schema, target.schema()):
                return self._append(table, data, target, exact=version is not None)
        try:
            write_deltalake(
                target,
                data,
                mode=mode,
                schema_mode=schema_mode,
                storage_options=self._storage_options(),
                target_file_size=TARGET_FILE_BYTES,
                writer_properties=_writer_properties(data.schema),
                # creating a table is not retried: the one that lost a race to create it fails as a conflict
                commit_properties=(
                    CommitProperties(max_commit_retries=0)
                    if version is not None or (mode == "append" and isinstance(target, str))
                    else None
                ),
            )
        except CommitFailedError as exc:
            raise ConflictError(_taken(table, version, self.version(table))) from exc
        except Exception as exc:  # driver errors at the adapter edge (STYLE.md E5)
            raise BackendError(
                f"Offline store {self.describe()} could not write table '{table}': {_short(exc)}"
            ) from exc
        if version is not None:
            return version
        return int(target.version()) if not isinstance(target, str) else int(self._open_table(table, None).version())

    def _create(self, table: str, data: pa.RecordBatchReader, uri: str) -> int:
        """Create ``table`` with ``data`` as its version 0, encoded as :meth:`_append` does; ConflictError if another
        writer created it meanwhile (creating a table is not retried)."""
        from deltalake import CommitProperties
        from deltalake.transaction import create_table_with_add_actions

        if not self._is_s3:
            Path(uri).mkdir(parents=True, exist_ok=True)
        actions = self._write_files(table, data)
        try:
            create_table_with_add_actions(
                uri,
                _delta_schema(data.schema),
                actions,
                mode="error",
                storage_options=self._storage_options(),
                commit_properties=CommitProperties(max_commit_retries=0),
            )
        except Exception as exc:  # driver errors at the adapter edge (STYLE.md E5)
            if self.exists(table):
                raise ConflictError(_taken(table, 0, self.version(table))) from exc
            raise BackendError(
                f"Offline store {self.describe()} could not write table '{table}': {_short(exc)}"
            ) from exc
        return 0

    def _write_files(self, table: str, data: pa.RecordBatchReader) -> list[Any]:
        try:
            return _write_files(self._filesystem(table), data)
        except Exception as exc:  # driver errors at the adapter edge (STYLE.md E5)
            raise BackendError(
                f"Offline store {self.describe()} could not write table '{table}': {_short(exc)}"
            ) from exc

    def _append(self, table: str, data: pa.RecordBatchReader, target: Any, *, exact: bool) -> int:
        """Append ``data`` to the existing table ``target`` (a DeltaTable at the version to follow): Parquet files
        written by pyarrow, published by one Delta transaction; return the version it took.

        Pyarrow's Parquet writer encodes rows in about a third of the CPU time of the driver's writer, with the
        same settings. With ``exact``, only the version after ``target``'s is taken (else ConflictError); otherwise
        a version another writer took meanwhile is skipped, as the driver does with a blind append.
        """
        from deltalake import CommitProperties
        from deltalake.exceptions import CommitFailedError

        actions = self._write_files(table, data)
        for _ in range(_APPEND_ATTEMPTS):
            version = int(target.version()) + 1
            try:
                target.create_write_transaction(
                    actions,
                    mode="append",
                    schema=target.schema(),
                    commit_properties=CommitProperties(max_commit_retries=0),
                )
                return version
            except CommitFailedError as exc:
                if exact:
                    raise ConflictError(_taken(table, version, self.version(table))) from exc
            except Exception as exc:  # driver errors at the adapter edge (STYLE.md E5)
                raise BackendError(
                    f"Offline store {self.describe()} could not write table '{table}': {_short(exc)}"
                ) from exc
            target = self._open_table(table, None)
            if not _fits(data.schema, target.schema()):
                raise ConflictError(
                    f"Table '{table}' changed its schema while a write was appending to it. Retry the write."
                )
        raise ConflictError(_taken(table, None, self.version(table)))

    def read(self, table: str, version: int | None = None) -> pads.Dataset:
        """The table at ``version`` (default: the latest) as a pyarrow Dataset; NotFoundError if absent.

        A plain dataset of the version's Parquet files: the driver's own dataset builds a statistics
        expression per file in Python, which costs more than reading a small table (the files' footers
        hold the same statistics for filtered scans).
        """
        import pyarrow as pa
        import pyarrow.dataset as pads

        delta = self._open_table(table, version)
        try:
            schema = pa.schema(delta.schema().to_arrow())
            paths = [
                unquote(path) for path in pa.table(delta.get_add_actions(flatten=False)).column("path").to_pylist()
            ]
            return pads.dataset(paths, schema=schema, format="parquet", filesystem=self._filesystem(table))
        except Exception as exc:  # driver errors at the adapter edge (STYLE.md E5)
            raise BackendError(
                f"Offline store {self.describe()} could not read table '{table}': {_short(exc)}"
            ) from exc

    def added(self, table: str, version: int) -> pads.FileSystemDataset:
        """The data files the commit of ``version`` added (its ``add`` actions), as a dataset on :meth:`read`'s file
        system; NotFoundError for a missing table or version."""
        import pyarrow.dataset as pads

        if not self.exists(table):
            raise NotFoundError(f"Table '{table}' does not exist in offline store {self.describe()}.")
        filesystem = self._filesystem(table)
        try:
            with filesystem.open_input_stream(f"_delta_log/{version:020d}.json") as stream:
                actions = [json.loads(line) for line in stream.read().decode().splitlines() if line.strip()]
        except (FileNotFoundError, OSError) as exc:
            raise NotFoundError(
                f"Table '{table}' has no version {version} in offline store {self.describe()}."
            ) from exc
        paths = [unquote(action["add"]["path"]) for action in actions if "add" in action]
        schema = self.read(table, version).schema if not paths else None
        return pads.dataset(paths, schema=schema, format="parquet", filesystem=filesystem)

    def version(self, table: str) -> int | None:
        """The table's latest version, or None if there is no such table."""
        if not self.exists(table):
            return None
        return int(self._open_table(table, None).version())

    def exists(self, table: str) -> bool:
        """Whether a Delta table is stored under ``table``."""
        from deltalake import DeltaTable

        uri = self._uri(table)
        try:
            return bool(DeltaTable.is_deltatable(uri, storage_options=self._storage_options()))
        except Exception as exc:  # driver errors at the adapter edge
            raise BackendError(f"Offline store {self.describe()} is unreachable: {_short(exc)}") from exc

    def delete_table(self, table: str) -> None:
        """Remove ``table`` with every version and file; a missing table is not an error."""
        path = self._uri(table)
        filesystem: pafs.FileSystem = self._s3 if self._is_s3 else pafs.LocalFileSystem()
        if self._is_s3:
            path = path.removeprefix("s3://")
        try:
            if filesystem.get_file_info(path).type != pafs.FileType.NotFound:
                filesystem.delete_dir(path)
        except OSError as exc:  # driver errors at the adapter edge (STYLE.md E5)
            raise BackendError(
                f"Offline store {self.describe()} could not delete table '{table}': {_short(exc)}"
            ) from exc

    # -- maintenance -------------------------------------------------------------------------------

    def compact(self, table: str) -> TableCompaction:
        """Rewrite the newest version's small files into files of about 64 MB, as one new version (Delta's optimize).

        The files are written with the settings of :meth:`write` (no dictionary for floating-point columns).
        """
        import pyarrow as pa

        delta = self._open_table(table, None)
        try:
            schema = pa.schema(delta.schema().to_arrow())
            metrics = delta.optimize.compact(
                target_size=_COMPACTED_FILE_BYTES, writer_properties=_writer_properties(schema)
            )
        except Exception as exc:  # driver errors at the adapter edge (STYLE.md E5)
            raise BackendError(
                f"Offline store {self.describe()} could not compact table '{table}': {_short(exc)}"
            ) from exc
        removed, added = int(metrics.get("numFilesRemoved", 0)), int(metrics.get("numFilesAdded", 0))
        version = int(self._open_table(table, None).version()) if removed else None
        return TableCompaction(version, removed, added)

    def small_files(self, table: str) -> int:
        """How many of the newest version's files are under half the size a write aims for."""
        import pyarrow as pa
        import pyarrow.compute as pc

        sizes = pa.table(self._open_table(table, None).get_add_actions(flatten=True)).column("size_bytes")
        return int(pc.sum(pc.less(sizes, _SMALL_FILE_BYTES)).as_py() or 0)

    def vacuum(self, table: str, retain: timedelta, keep_versions: Sequence[int]) -> int:
        """Delete files that no version newer than ``retain`` reads, keeping those ``keep_versions`` read, and files
        of writes that never committed (older than ``retain``); return how many were deleted."""
        delta = self._open_table(table, None)
        try:
            removed = delta.vacuum(
                retention_hours=int(retain.total_seconds() // 3600),
                dry_run=False,
                enforce_retention_duration=False,
                keep_versions=sorted(set(keep_versions)),
                full=True,
            )
        except Exception as exc:  # driver errors at the adapter edge (STYLE.md E5)
            raise BackendError(
                f"Offline store {self.describe()} could not vacuum table '{table}': {_short(exc)}"
            ) from exc
        return len(removed)

    def value_ranges(self, table: str, column: str) -> pa.Table:
        """Per file of the newest version: ``min`` and ``max`` of the integer ``column`` from the log's file
        statistics (null where the writer kept none) and ``written_at`` (milliseconds since 1970)."""
        import pyarrow as pa

        actions = pa.table(self._open_table(table, None).get_add_actions(flatten=True))
        empty = pa.nulls(actions.num_rows, pa.int64())
        return pa.table(
            {
                "min": actions.column(f"min.{column}").cast(pa.int64())
                if f"min.{column}" in actions.schema.names
                else empty,
                "max": actions.column(f"max.{column}").cast(pa.int64())
                if f"max.{column}" in actions.schema.names
                else empty,
                "written_at": actions.column("modification_time").cast(pa.int64()),
            }
        )

    def delete_rows(self, table: str, column: str, values: Sequence[int]) -> int:
        """Delete the rows whose integer ``column`` is one of ``values`` (Delta's delete: files holding none stay)."""
        if not values:
            return 0
        delta = self._open_table(table, None)
        try:
            metrics = delta.delete(f"{column} IN ({', '.join(str(int(value)) for value in values)})")
        except Exception as exc:  # driver errors at the adapter edge (STYLE.md E5)
            raise BackendError(
                f"Offline store {self.describe()} could not delete rows of table '{table}': {_short(exc)}"
            ) from exc
        return int(metrics.get("num_deleted_rows", 0))

    # -- internals ---------------------------------------------------------------------------------

    def _open_table(self, table: str, version: int | None) -> Any:
        from deltalake import DeltaTable

        uri = self._uri(table)
        if not self.exists(table):
            raise NotFoundError(f"Table '{table}' does not exist in offline store {self.describe()}.")
        try:
            return DeltaTable(uri, version=version, storage_options=self._storage_options())
        except Exception as exc:  # driver errors at the adapter edge
            text = _short(exc)
            if version is not None and ("version" in text.lower() or "not found" in text.lower()):
                raise NotFoundError(
                    f"Table '{table}' has no version {version} in offline store {self.describe()}."
                ) from exc
            raise BackendError(f"Offline store {self.describe()} could not open table '{table}': {text}") from exc

    def _filesystem(self, table: str) -> pafs.FileSystem:
        """The table's folder as an Arrow file system (Arrow's own, on a local disk or S3: it reads several times
        faster than the driver's Python handler, and writes files beside the table's, as the driver's cannot)."""
        if not self._is_s3:
            return pafs.SubTreeFileSystem(self._uri(table), pafs.LocalFileSystem())
        return pafs.SubTreeFileSystem(self._uri(table).removeprefix("s3://"), self._s3)

    @functools.cached_property
    def _s3(self) -> pafs.S3FileSystem:
        """Arrow's S3 client for the bucket's endpoint (credentials from the environment, like the driver's)."""
        endpoint = self.config.endpoint_url
        return pafs.S3FileSystem(
            region=self.config.region or "us-east-1",
            endpoint_override=endpoint.split("://", 1)[-1] if endpoint else None,
            scheme="http" if endpoint and endpoint.startswith("http://") else "https",
        )

    def _require_open(self) -> None:
        if not self._is_open:
            raise BackendError("The offline store is not open: call open() first.")

    def _root(self) -> str:
        return self.config.uri.removeprefix("file://").rstrip("/")

    def _uri(self, table: str) -> str:
        self._require_open()
        return f"{self._root()}/{validate_artifact_key(table)}"

    def _storage_options(self) -> dict[str, str] | None:
        if not self._is_s3:
            return None
        options = {"AWS_REGION": self.config.region or "us-east-1"}
        if self.config.endpoint_url:
            options["AWS_ENDPOINT_URL"] = self.config.endpoint_url
            if self.config.endpoint_url.startswith("http://"):
                options["AWS_ALLOW_HTTP"] = "true"
        return options


def _writer_properties(schema: pa.Schema) -> Any:
    """Parquet settings of the driver's writer (and of :func:`_write_files`): Snappy, and no dictionary for
    floating-point columns (nor ``_fti_row``).

    Measured floats rarely repeat, so their dictionary is built, overflows and is thrown away in every row
    group: without it the writer encodes 1M rows of 20 floats in 2.8x less CPU time and the files are 8% smaller.
    Every Parquet reader reads plain-encoded columns.
    """
    import pyarrow as pa
    from deltalake import ColumnProperties, WriterProperties

    plain = ColumnProperties(dictionary_enabled=False)
    columns = {
        field.name: plain for field in schema if pa.types.is_floating(field.type) or field.name in _UNIQUE_COLUMNS
    }
    return WriterProperties(compression="SNAPPY", column_properties=columns or None)


def _delta_schema(schema: pa.Schema) -> Any:
    """``schema`` as a Delta schema, or None where Delta has no type for a column."""
    from deltalake import Schema

    try:
        return Schema.from_arrow(schema)
    except Exception:  # a type Delta lacks: the driver's writer says so
        return None


def _fits(schema: pa.Schema, delta: Any) -> bool:
    """Whether pyarrow's writer can write ``schema``'s rows into a table of the Delta schema ``delta``: the same
    flat, nullable columns, of types whose Parquet encoding the driver's writer shares (numbers, booleans, strings,
    dates, timestamps in µs), so that Delta reads them back as the driver's own files."""
    import pyarrow as pa

    if delta is None:
        return False
    try:
        stored = pa.schema(delta.to_arrow())
    except Exception:  # a type Arrow cannot hold: the driver's writer decides
        return False
    if stored.names != schema.names:
        return False
    for field, kept in zip(schema, stored, strict=True):
        kind = field.type
        simple = (
            pa.types.is_integer(kind)
            or pa.types.is_floating(kind)
            or pa.types.is_boolean(kind)
            or pa.types.is_string(kind)
            or pa.types.is_date32(kind)
            or (pa.types.is_timestamp(kind) and kind.unit == "us")
        )
        if not simple or not kind.equals(kept.type) or not kept.nullable:
            return False
    return True


def _write_files(filesystem: pafs.FileSystem, data: pa.RecordBatchReader) -> list[Any]:
    """``data`` as Parquet files of about :data:`TARGET_FILE_BYTES` in the table's folder (the settings of
    :func:`_writer_properties`), and their add actions: size, row count, null counts, and the bounds of the
    integer, floating-point, boolean, date and timestamp columns (:func:`_bound_formats`)."""
    import time
    import uuid

    import pyarrow as pa
    import pyarrow.parquet as pq
    from deltalake.transaction import AddAction

    schema = data.schema
    dictionary = [
        field.name for field in schema if not pa.types.is_floating(field.type) and field.name not in _UNIQUE_COLUMNS
    ]
    formats = _bound_formats(schema)
    actions: list[Any] = []
    pending: list[pa.RecordBatch] = []
    pending_bytes = written = 0
    writer: pq.ParquetWriter | None = None
    path = ""

    def flush() -> None:
        nonlocal pending, pending_bytes, written, writer, path
        if not pending:
            return
        if writer is None:
            path = f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
            writer = pq.ParquetWriter(
                path, schema, filesystem=filesystem, compression="snappy", use_dictionary=dictionary
            )
        writer.write_table(pa.Table.from_batches(pending, schema=schema), row_group_size=1 << 30)
        written += pending_bytes
        pending, pending_bytes = [], 0
        if written >= TARGET_FILE_BYTES:
            close()

    def close() -> None:
        nonlocal writer, written
        if writer is None:
            return
        writer.close()
        metadata = writer.writer.metadata  # the footer just written
        writer, written = None, 0
        actions.append(_add_action(filesystem, path, metadata, formats, AddAction, int(time.time() * 1000)))

    try:
        for batch in data:
            if len(batch):
                pending.append(batch)
                pending_bytes += batch.nbytes
                if pending_bytes >= _ROW_GROUP_BYTES:
                    flush()
        flush()
        close()
    except BaseException:
        if writer is not None:  # release the file; no commit references it (vacuum removes it)
            writer.close()
        raise
    return actions


def _bound_formats(schema: pa.Schema) -> dict[str, Callable[[Any], Any]]:
    """The columns whose bounds an add action records, each with how a bound (the footer's raw value) is written
    in Delta's statistics: integers and floats as numbers (an infinite bound as null, NaN never a bound, as
    the Parquet footer leaves it out), booleans as ``true``/``false``, dates as ``YYYY-MM-DD``, timestamps in
    milliseconds as Delta's writer writes them (``...T...Z`` with a time zone, ``... ...`` without; truncated to
    the millisecond, as the Delta reader widens a maximum by one millisecond). These are the bounds readers
    prune files by (a time range of a feature group, a delete's values, a filter on a feature); text is left
    without (the driver truncates it to a prefix; Delta's statistics are optional per column)."""
    import pyarrow as pa

    formats: dict[str, Callable[[Any], Any]] = {}
    for field in schema:
        kind = field.type
        if pa.types.is_integer(kind):
            formats[field.name] = int
        elif pa.types.is_float32(kind) or pa.types.is_float64(kind):
            formats[field.name] = _float_bound
        elif pa.types.is_boolean(kind):
            formats[field.name] = bool
        elif pa.types.is_date32(kind):
            formats[field.name] = lambda days: (_EPOCH_DAY + timedelta(days=int(days))).isoformat()
        elif pa.types.is_timestamp(kind) and kind.unit == "us":
            zoned = kind.tz is not None
            formats[field.name] = functools.partial(_timestamp_bound, zoned=zoned)
    return formats


def _float_bound(value: float) -> float | None:
    """A floating-point bound as the Delta driver writes it: the number, or null where it is infinite (JSON has
    no infinity; a null bound prunes nothing)."""
    return float(value) if math.isfinite(value) else None


def _timestamp_bound(microseconds: int, *, zoned: bool) -> str:
    """A timestamp bound (microseconds since the epoch) as Delta's statistics write it: to the millisecond."""
    moment = _EPOCH + timedelta(milliseconds=int(microseconds) // 1000)
    text = moment.replace(tzinfo=None).isoformat(timespec="milliseconds")
    return text + "Z" if zoned else text.replace("T", " ")


def _add_action(
    filesystem: pafs.FileSystem,
    path: str,
    metadata: Any,
    formats: dict[str, Callable[[Any], Any]],
    action: Any,
    now_ms: int,
) -> Any:
    """The add action of one written file, with its statistics from the file's footer: row count, null counts,
    and the bounds of the columns in ``formats`` (see :func:`_bound_formats`)."""
    names = [metadata.schema.column(index).name for index in range(metadata.num_columns)]
    nulls = dict.fromkeys(names, 0)
    low: dict[str, Any] = {}
    high: dict[str, Any] = {}
    exact = set(formats)
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index, name in enumerate(names):
            statistics = row_group.column(index).statistics
            if statistics is None or not statistics.has_null_count:
                nulls.pop(name, None)
                exact.discard(name)
                continue
            if name in nulls:
                nulls[name] += int(statistics.null_count)
            if name in exact and statistics.has_min_max:
                low[name] = min(low.get(name, statistics.min_raw), statistics.min_raw)
                high[name] = max(high.get(name, statistics.max_raw), statistics.max_raw)
            elif name in exact and statistics.null_count != row_group.num_rows:
                exact.discard(name)
    bounded = [name for name in names if name in exact and name in low]
    stats = {
        "numRecords": metadata.num_rows,
        "minValues": {name: formats[name](low[name]) for name in bounded},
        "maxValues": {name: formats[name](high[name]) for name in bounded},
        "nullCount": nulls,
    }
    size = filesystem.get_file_info(path).size
    return action(path, int(size or 0), {}, now_ms, True, json.dumps(stats))


def _taken(table: str, version: int | None, current: int | None) -> str:
    return (
        f"Table '{table}' cannot take version {0 if version is None else version}: another writer committed "
        f"meanwhile (latest is {'none' if current is None else current}). Retry the write."
    )


def _short(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
