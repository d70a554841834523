"""Reading one file as a stream of Arrow record batches: CSV, Parquet and JSON lines, with Arrow's own readers.

Every reader yields batches as it reads (Arrow's streaming CSV and JSON readers, Parquet row groups), so
a file of any size passes through in bounded memory. Reader errors become ValidationErrors that name
the file, and for CSV the line and column, and say how to fix the input or the options.
"""

from __future__ import annotations

import copy
import os
import re
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.fs as pafs
import pyarrow.json as pjson
import pyarrow.parquet as pq

from fti.errors import ValidationError

__all__ = ["FileFormat", "FormatOptions", "arrow_type", "read_file"]

FileFormat = Literal["csv", "parquet", "json"]

#: bytes the CSV and JSON readers parse at a time: large blocks amortize per-batch costs downstream
_BLOCK_BYTES = 8 << 20
_CONVERSION = re.compile(
    r"In CSV column #(\d+): (?:Row #(\d+): )?CSV conversion error to ([^:]+): invalid value '(.*)'"
)


@dataclass(frozen=True, slots=True)
class FormatOptions:
    """How to parse files: CSV layout, null markers, column types, timestamp formats and time zone.

    ``column_types`` maps column names to Arrow types or their names (``"int64"``, ``"double"``,
    ``"string"``, ``"timestamp[us]"``); ``timestamp_formats`` are ``strptime`` formats tried in order
    (ISO 8601 always works); naive timestamps are taken to be in ``timezone`` (default: UTC, stored
    without a zone).
    """

    delimiter: str = ","
    header: bool = True
    column_names: tuple[str, ...] | None = None
    null_values: tuple[str, ...] | None = None
    column_types: Mapping[str, Any] = field(default_factory=dict)
    timestamp_formats: tuple[str, ...] = ()
    timezone: str | None = None


def arrow_type(value: Any, column: str) -> pa.DataType:
    """The Arrow type ``value`` names (a DataType or an alias such as ``"double"``)."""
    if isinstance(value, pa.DataType):
        return value
    text = str(value).strip()
    if text.startswith("timestamp[") and "tz=" in text:
        unit, _, zone = text[len("timestamp[") : -1].partition(",")
        return pa.timestamp(unit.strip(), tz=zone.split("=", 1)[1].strip())
    try:
        return pa.type_for_alias(text)
    except ValueError:
        raise ValidationError(
            f"Column type {value!r} of column '{column}' is not an Arrow type: use a name such as 'int64', "
            "'double', 'string', 'bool', 'date32' or 'timestamp[us]'."
        ) from None


def read_file(
    filesystem: pafs.FileSystem,
    path: str,
    shown: str,
    file_format: FileFormat,
    options: FormatOptions,
    schema: pa.Schema | None,
    size: int = 0,
) -> Iterator[tuple[pa.RecordBatch, int]]:
    """Batches of one file with the bytes read so far; ``schema`` (from the first file) fixes later files' types.

    The CSV and JSON readers make one batch of each block they parse, so the bytes read so far are about the
    blocks parsed (at most the file's ``size``).

    Raises:
        ValidationError: the file is malformed or does not match ``schema`` (naming ``shown``).
    """
    if file_format == "parquet":
        batches = _parquet(filesystem, path, shown)
    elif file_format == "json":
        batches = _json(filesystem, path, shown, options, schema)
    else:
        batches = _csv(filesystem, path, shown, options, schema)
    for count, batch in enumerate(batches, start=1):
        yield _conform(_localized(batch, options.timezone), schema, shown), min(size, count * _BLOCK_BYTES)


def _csv(
    filesystem: pafs.FileSystem, path: str, shown: str, options: FormatOptions, schema: pa.Schema | None
) -> Iterator[pa.RecordBatch]:
    types = {name: arrow_type(value, name) for name, value in options.column_types.items()}
    if schema is not None:
        types = {item.name: item.type for item in schema} | types
    read_options = pcsv.ReadOptions(
        block_size=_BLOCK_BYTES,
        column_names=list(options.column_names) if options.column_names else None,
        autogenerate_column_names=not options.header and not options.column_names,
    )
    convert = pcsv.ConvertOptions(
        column_types=types,
        null_values=list(options.null_values) if options.null_values is not None else None,
        strings_can_be_null=options.null_values is not None,
        timestamp_parsers=[*options.timestamp_formats, pcsv.ISO8601] if options.timestamp_formats else None,
    )
    parse = pcsv.ParseOptions(delimiter=options.delimiter)
    stream = _open_stream(filesystem, path, shown)
    try:
        yield from _parsed_blocks(stream, read_options, parse, convert)
    except pa.ArrowInvalid as exc:
        raise _csv_error(filesystem, path, shown, exc, read_options, parse) from None
    finally:
        stream.close()


def _line_blocks(stream: pa.NativeFile) -> Iterator[bytes]:
    """The stream in blocks of about ``_BLOCK_BYTES`` that end at a line end (the last one where the stream ends)."""
    rest = b""
    while True:
        data = stream.read(_BLOCK_BYTES)
        if not data:
            if rest:
                yield rest
            return
        data = rest + data
        cut = data.rfind(b"\n") + 1
        if cut:
            yield data[:cut]
        rest = data[cut:]


def _parsed_blocks(
    stream: pa.NativeFile, read_options: pcsv.ReadOptions, parse: pcsv.ParseOptions, convert: pcsv.ConvertOptions
) -> Iterator[pa.RecordBatch]:
    """The batches of a CSV stream, its blocks parsed by several threads at once, in order.

    Arrow's streaming reader parses one block after another; its reader of a whole file in parallel holds the
    file. Here the first block is parsed alone, which names the columns and infers their types (as Arrow's
    streaming reader does), then the later blocks are parsed a few at a time with those names and types
    declared (declared types also convert about 1.7x faster than inferred ones). Blocks end at line ends, as
    Arrow's own do without ``newlines_in_values``.
    """
    blocks = _line_blocks(stream)
    first = next(blocks, b"")
    table = _parse_block(first, read_options, parse, convert)
    yield from table.to_batches()
    later_options = pcsv.ReadOptions(column_names=table.schema.names, use_threads=False)
    later_convert = copy.copy(convert)
    later_convert.column_types = dict(zip(table.schema.names, table.schema.types, strict=True))
    workers = max(2, min(os.cpu_count() or 2, 8))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fti-csv") as pool:
        pending: deque[Future[pa.Table]] = deque()
        try:
            for block in blocks:
                pending.append(pool.submit(_parse_block, block, later_options, parse, later_convert))
                if len(pending) > workers:
                    yield from pending.popleft().result().to_batches()
            while pending:
                yield from pending.popleft().result().to_batches()
        finally:
            for future in pending:
                future.cancel()


def _parse_block(
    block: bytes, read_options: pcsv.ReadOptions, parse: pcsv.ParseOptions, convert: pcsv.ConvertOptions
) -> pa.Table:
    """One block parsed in the calling thread, as one chunk."""
    options = copy.copy(read_options)
    options.use_threads = False
    options.block_size = max(len(block) + 1, 1 << 20)
    return pcsv.read_csv(pa.BufferReader(block), read_options=options, parse_options=parse, convert_options=convert)


def _csv_error(
    filesystem: pafs.FileSystem,
    path: str,
    shown: str,
    exc: pa.ArrowInvalid,
    read_options: pcsv.ReadOptions,
    parse: pcsv.ParseOptions,
) -> ValidationError:
    text = str(exc).strip()
    found = _CONVERSION.search(text)
    if found:
        index, _, target, value = found.groups()
        names = _header(filesystem, path, read_options, parse)
        column = names[int(index)] if int(index) < len(names) else f"#{index}"
        return ValidationError(
            f"File {shown}: column '{column}' has the value {value!r}, which is not a valid {target}. Fix the value, "
            f"add it to null_values, or read the column as another type with column_types={{'{column}': 'string'}}."
        )
    if text.startswith("CSV parse error"):
        line = _parse_error_line(filesystem, path, read_options, parse)
        detail = text.removeprefix("CSV parse error: ")
        detail = re.sub(r"^Row #\d+: ", "", detail)
        where = f" line {line}" if line is not None else ""
        return ValidationError(
            f"File {shown}{where} is malformed: {detail}. Fix the line, or check the delimiter and header options."
        )
    return ValidationError(f"File {shown} cannot be read as CSV: {text}")


def _parse_error_line(
    filesystem: pafs.FileSystem, path: str, read_options: pcsv.ReadOptions, parse: pcsv.ParseOptions
) -> int | None:
    """The line of the first malformed row: Arrow counts lines only when it parses in one thread, so only the
    error path pays for that second, single-threaded read."""
    serial = pcsv.ReadOptions(
        use_threads=False,
        block_size=read_options.block_size,
        column_names=read_options.column_names,
        autogenerate_column_names=read_options.autogenerate_column_names,
    )
    with filesystem.open_input_stream(path) as stream:
        try:
            for _ in pcsv.open_csv(
                stream,
                read_options=serial,
                parse_options=parse,
                convert_options=pcsv.ConvertOptions(column_types={}, include_columns=[]),
            ):
                pass
        except pa.ArrowInvalid as exc:
            found = re.search(r"Row #(\d+)", str(exc))
            return int(found.group(1)) if found else None
    return None


def _header(
    filesystem: pafs.FileSystem, path: str, read_options: pcsv.ReadOptions, parse: pcsv.ParseOptions
) -> list[str]:
    with filesystem.open_input_stream(path) as stream:
        reader = pcsv.open_csv(
            stream,
            read_options=read_options,
            parse_options=parse,
            convert_options=pcsv.ConvertOptions(include_columns=[]),
        )
        names: list[str] = reader.schema.names
    if names:
        return names
    with filesystem.open_input_stream(path) as stream:
        first = stream.read(1 << 16).decode("utf-8", "replace").splitlines()
    return first[0].split(parse.delimiter) if first else []


def _json(
    filesystem: pafs.FileSystem, path: str, shown: str, options: FormatOptions, schema: pa.Schema | None
) -> Iterator[pa.RecordBatch]:
    explicit = pa.schema([pa.field(name, arrow_type(value, name)) for name, value in options.column_types.items()])
    if schema is not None:
        explicit = pa.schema([field for field in schema if field.name not in set(explicit.names)] + list(explicit))
    parse = pjson.ParseOptions(
        explicit_schema=explicit if len(explicit) else None,
        unexpected_field_behavior="infer" if schema is None else "ignore",
    )
    stream = _open_stream(filesystem, path, shown)
    try:
        yield from pjson.open_json(stream, read_options=pjson.ReadOptions(block_size=_BLOCK_BYTES), parse_options=parse)
    except pa.ArrowInvalid as exc:
        raise ValidationError(
            f"File {shown} is not valid JSON lines (one JSON object per line): {str(exc).strip()}. Fix the line, "
            "or declare the column's type with column_types."
        ) from None
    finally:
        stream.close()


def _parquet(filesystem: pafs.FileSystem, path: str, shown: str) -> Iterator[pa.RecordBatch]:
    try:
        handle = filesystem.open_input_file(path)
    except FileNotFoundError:
        raise _missing(shown) from None
    try:
        try:
            parquet = pq.ParquetFile(handle)
        except pa.ArrowInvalid as exc:
            raise ValidationError(f"File {shown} is not a Parquet file: {str(exc).strip()}.") from None
        yield from parquet.iter_batches(batch_size=131_072)
    finally:
        handle.close()


def _open_stream(filesystem: pafs.FileSystem, path: str, shown: str) -> pa.NativeFile:
    try:
        return filesystem.open_input_stream(path)
    except FileNotFoundError:
        raise _missing(shown) from None


def _missing(shown: str) -> ValidationError:
    return ValidationError(f"File {shown} disappeared while it was being read; run the ingestion again.")


def _localized(batch: pa.RecordBatch, timezone: str | None) -> pa.RecordBatch:
    """Naive timestamps read in ``timezone`` become instants (stored in UTC)."""
    if timezone is None or not any(pa.types.is_timestamp(t) and t.tz is None for t in batch.schema.types):
        return batch
    columns = [
        pc.assume_timezone(column, timezone, ambiguous="earliest", nonexistent="earliest")
        if pa.types.is_timestamp(column.type) and column.type.tz is None
        else column
        for column in batch.columns
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _conform(batch: pa.RecordBatch, schema: pa.Schema | None, shown: str) -> pa.RecordBatch:
    """``batch`` with the columns and types of the first file's ``schema``."""
    if schema is None or batch.schema.equals(schema):
        return batch
    missing = [name for name in schema.names if name not in batch.schema.names]
    extra = [name for name in batch.schema.names if name not in schema.names]
    if missing or extra:
        problems = [f"lacks column(s) {', '.join(map(repr, missing))}"] if missing else []
        problems += [f"has extra column(s) {', '.join(map(repr, extra))}"] if extra else []
        raise ValidationError(
            f"File {shown} {' and '.join(problems)}, unlike the first file read ({', '.join(schema.names)}). "
            "Read files with different columns as separate sources."
        )
    columns = []
    for target in schema:
        values = batch.column(batch.schema.get_field_index(target.name))
        if not values.type.equals(target.type):
            try:
                values = pc.cast(values, target.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise ValidationError(
                    f"File {shown}: column '{target.name}' is {values.type}, but the first file read has "
                    f"{target.type}. Declare the column's type with column_types."
                ) from None
        columns.append(values)
    return pa.RecordBatch.from_arrays(columns, schema=schema)
