"""Files as a source: CSV, Parquet and JSON lines on the local disk or S3, one path or a glob, incremental by file.

The cursor remembers each file read with its size and modification time. A later read skips those files
and reads the new ones; a file that changed since is an error, or is read again with
``on_change="reingest"`` (its rows then replace the rows with the same key and event time).

Example:
    >>> source = fti.sources.csv("data/*.csv", null_values=["", "n/a"], timezone="Europe/Berlin")  # doctest: +SKIP
    >>> source = fti.sources.parquet("s3://bucket/events/*.parquet")  # doctest: +SKIP
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa
import pyarrow.fs as pafs

from fti.core.sources import Cursor, SourceBatch, SourceInfo, SourceParts
from fti.errors import BackendError, NotFoundError, ValidationError
from fti.sources.formats import FileFormat, FormatOptions, arrow_type, read_file

__all__ = ["FileSource", "format_of"]

OnChange = Literal["error", "reingest"]
_GLOB = set("*?[")
_EXTENSIONS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}


def format_of(path: str) -> FileFormat:
    """The file format a path's extension names (``.csv``, ``.parquet``, ``.jsonl``..., optionally ``.gz``)."""
    name = path.lower().removesuffix(".gz").removesuffix(".bz2").removesuffix(".zst")
    for extension, kind in _EXTENSIONS.items():
        if name.endswith(extension):
            return kind
    raise ValidationError(
        f"Cannot tell the format of {path!r} from its extension: use fti.sources.csv, parquet or json, or name "
        "files .csv, .parquet or .jsonl."
    )


@dataclass(frozen=True, slots=True)
class _File:
    path: str  # on the source's file system
    shown: str  # as the user knows it (absolute path or s3://bucket/key)
    size: int
    mtime_ns: int

    @property
    def fingerprint(self) -> dict[str, int]:
        return {"size": self.size, "mtime_ns": self.mtime_ns}


class FileSource:
    """Files matching a path or glob, locally or on S3, read with Arrow's streaming readers."""

    def __init__(
        self,
        location: str,
        file_format: FileFormat,
        options: FormatOptions,
        *,
        on_change: OnChange = "error",
        name: str | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> None:
        if on_change not in ("error", "reingest"):
            raise ValidationError(f"on_change must be 'error' or 'reingest', got {on_change!r}.")
        self._is_s3 = location.startswith("s3://")
        self._pattern = location if self._is_s3 else str(Path(location).expanduser().absolute())
        self._format = file_format
        self._options = options
        self._on_change = on_change
        self._endpoint_url = endpoint_url
        self._region = region
        self._info = SourceInfo(file_format, self._pattern, name or f"{file_format}:{self._pattern}")

    @property
    def info(self) -> SourceInfo:
        """Kind (the format), the path or glob, and the name keying the cursor."""
        return self._info

    def schema(self) -> pa.Schema:
        """The columns of the first matching file."""
        filesystem, files = self._filesystem(), self._list()
        for batch, _ in read_file(filesystem, files[0].path, files[0].shown, self._format, self._options, None):
            return batch.schema
        return pa.schema([])

    def read(self, cursor: Cursor | None) -> Iterator[SourceBatch]:
        """Batches of the files not read before, in path order; each file's last batch puts it in the cursor."""
        known: dict[str, Any] = dict((cursor or {}).get("files", {}))
        todo = [item for item in self._list() if self._is_new(item, known.get(item.shown))]
        return self._read(todo, known, None)

    def split(self, cursor: Cursor | None, parts: int) -> SourceParts | None:
        """The files not read before in at most ``parts`` runs of files in path order, of about equal bytes each
        (a file is never cut); None for fewer than two new files.

        Every part reads its files with the column types of the first new file, as :meth:`read` does.
        """
        known: dict[str, Any] = dict((cursor or {}).get("files", {}))
        todo = [item for item in self._list() if self._is_new(item, known.get(item.shown))]
        if len(todo) < 2 or parts < 2:
            return None
        schema = None
        first = todo[0]
        for batch, _ in read_file(self._filesystem(), first.path, first.shown, self._format, self._options, None):
            schema = batch.schema
            break
        sizes = [max(1, item.size) for item in todo]
        total = sum(sizes)
        count = min(parts, len(todo))
        runs: list[list[_File]] = [[] for _ in range(count)]
        done = 0
        for item, size in zip(todo, sizes, strict=True):
            # a file goes to the run its middle byte falls in
            runs[min(count - 1, (2 * done + size) * count // (2 * total))].append(item)
            done += size
        read = [item.shown for item in todo]
        cursor_after = {"files": known | {item.shown: item.fingerprint for item in todo}}
        return SourceParts(
            tuple(_FilePart(self, tuple(run), schema) for run in runs if run), cursor_after, {"files": read}
        )

    def _read(self, todo: Sequence[_File], known: dict[str, Any], schema: pa.Schema | None) -> Iterator[SourceBatch]:
        filesystem = self._filesystem()
        done_bytes = 0
        read_files: list[str] = []
        for item in todo:
            held: tuple[pa.RecordBatch, int] | None = None
            for batch, position in read_file(
                filesystem, item.path, item.shown, self._format, self._options, schema, item.size
            ):
                schema = schema or batch.schema
                if held is not None:
                    yield SourceBatch(
                        held[0], {"files": known}, {"files": [*read_files, item.shown]}, done_bytes + held[1]
                    )
                held = (batch, position)
            done_bytes += item.size
            known = {**known, item.shown: item.fingerprint}
            read_files = [*read_files, item.shown]
            if held is not None:
                yield SourceBatch(held[0], {"files": known}, {"files": read_files}, done_bytes)

    def _is_new(self, item: _File, previous: Mapping[str, Any] | None) -> bool:
        if previous is None:
            return True
        if dict(previous) == item.fingerprint:
            return False
        if self._on_change == "reingest":
            return True
        raise ValidationError(
            f"File {item.shown} changed since it was read (size {previous.get('size')} -> {item.size} bytes): pass "
            "on_change='reingest' to read it again (its rows replace those with the same key and event time), "
            "or restore the file."
        )

    # -- listing -----------------------------------------------------------------------------------

    def _filesystem(self) -> pafs.FileSystem:
        if not self._is_s3:
            return pafs.LocalFileSystem()
        endpoint = self._endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        try:
            return pafs.S3FileSystem(
                region=self._region or os.environ.get("AWS_REGION") or "us-east-1",
                endpoint_override=endpoint.split("://", 1)[-1] if endpoint else None,
                scheme="http" if endpoint and endpoint.startswith("http://") else "https",
            )
        except OSError as exc:
            raise BackendError(f"Cannot open S3 for {self._pattern}: {_short(exc)}") from exc

    def _list(self) -> list[_File]:
        files = self._list_s3() if self._is_s3 else self._list_local()
        if not files:
            raise NotFoundError(f"No file matches {self._pattern}: check the path (globs such as *.csv are allowed).")
        return sorted(files, key=lambda item: item.shown)

    def _list_local(self) -> list[_File]:
        pattern = self._pattern
        if not _GLOB & set(pattern):
            path = Path(pattern)
            if path.is_dir():
                pattern = str(path / "**" / "*")
            elif not path.is_file():
                raise NotFoundError(f"File {pattern} does not exist.")
        found = []
        for name in glob.glob(pattern, recursive=True):  # noqa: PTH207 (an absolute pattern: Path.glob takes relative ones)
            path = Path(name)
            if path.is_file():
                stat = path.stat()
                found.append(_File(name, name, stat.st_size, stat.st_mtime_ns))
        return found

    def _list_s3(self) -> list[_File]:
        filesystem = self._filesystem()
        key = self._pattern.removeprefix("s3://")
        first_glob = min((key.index(char) for char in _GLOB if char in key), default=None)
        try:
            if first_glob is None:
                infos = [filesystem.get_file_info(key)]
                if infos[0].type == pafs.FileType.NotFound:
                    raise NotFoundError(f"File {self._pattern} does not exist.")
                if infos[0].type == pafs.FileType.Directory:
                    infos = filesystem.get_file_info(pafs.FileSelector(key, recursive=True))
            else:
                base = key[: key.rfind("/", 0, first_glob)]
                selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
                infos = [info for info in filesystem.get_file_info(selector) if fnmatchcase(info.path, key)]
        except OSError as exc:
            raise BackendError(f"Cannot list {self._pattern}: {_short(exc)}") from exc
        return [
            _File(info.path, f"s3://{info.path}", int(info.size or 0), int(info.mtime_ns or 0))
            for info in infos
            if info.type == pafs.FileType.File
        ]


@dataclass(frozen=True, slots=True)
class _FilePart:
    """A part of a file source's new files (:meth:`FileSource.split`): reads just them, with the given column types."""

    source: FileSource
    files: tuple[_File, ...]
    columns: pa.Schema | None

    @property
    def info(self) -> SourceInfo:
        """The whole source's."""
        return self.source.info

    def schema(self) -> pa.Schema:
        """The column types the part's files are read with."""
        return self.columns if self.columns is not None else self.source.schema()

    def read(self, cursor: Cursor | None) -> Iterator[SourceBatch]:
        """Batches of the part's files (the cursor is the whole source's concern: ``cursor`` is ignored)."""
        return self.source._read(self.files, {}, self.columns)


def file_options(
    *,
    delimiter: str = ",",
    header: bool = True,
    column_names: Sequence[str] | None = None,
    null_values: Sequence[str] | None = None,
    column_types: Mapping[str, Any] | None = None,
    timestamp_formats: Sequence[str] | None = None,
    timezone: str | None = None,
) -> FormatOptions:
    """Checked :class:`FormatOptions`."""
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValidationError(f"delimiter must be one character, got {delimiter!r}.")
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                f"Unknown time zone {timezone!r}: use a name such as 'Europe/Berlin' or 'UTC'."
            ) from None
    return FormatOptions(
        delimiter=delimiter,
        header=bool(header),
        column_names=tuple(column_names) if column_names else None,
        null_values=tuple(null_values) if null_values is not None else None,
        column_types={name: arrow_type(value, name) for name, value in (column_types or {}).items()},
        timestamp_formats=tuple(timestamp_formats or ()),
        timezone=timezone,
    )


def _short(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
