"""Sources a feature pipeline reads from: files (CSV, Parquet, JSON lines; local or S3), SQL databases and
HTTP JSON APIs. Each streams Arrow record batches from where its cursor stopped, so an ingestion that runs
again reads only what is new.

Example:
    >>> import fti
    >>> project = fti.connect()  # doctest: +SKIP
    >>> cards = project.get_feature_group("cards")  # doctest: +SKIP
    >>> cards.insert(fti.sources.csv("data/*.csv"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fti.core.sources import Source, SourceBatch, SourceInfo
from fti.sources.files import FileSource, OnChange, file_options, format_of
from fti.sources.http import HttpSource, Pagination
from fti.sources.spec import open_source
from fti.sources.sql import SqlSource

__all__ = [
    "FileSource",
    "HttpSource",
    "Pagination",
    "Source",
    "SourceBatch",
    "SourceInfo",
    "SqlSource",
    "csv",
    "cursor_token",
    "files",
    "json",
    "link_header",
    "offset",
    "open_source",
    "page_number",
    "parquet",
    "sql",
]


def csv(
    path: str,
    *,
    delimiter: str = ",",
    header: bool = True,
    column_names: Sequence[str] | None = None,
    null_values: Sequence[str] | None = None,
    column_types: Mapping[str, Any] | None = None,
    timestamp_formats: Sequence[str] | None = None,
    timezone: str | None = None,
    on_change: OnChange = "error",
    name: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> FileSource:
    """CSV files: a path, a folder or a glob, on the local disk or ``s3://bucket/prefix/*.csv``.

    Args:
        path: the file, folder or glob (``**`` matches folders).
        delimiter: the field separator (``"\\t"`` for TSV).
        header: whether the first line names the columns (else ``column_names``, or f0, f1, ...).
        column_names: the columns' names, for files without a header.
        null_values: strings read as null (default: Arrow's, such as ``""``, ``"NULL"``, ``"NaN"``).
        column_types: column name -> Arrow type or its name (``"int64"``, ``"double"``, ``"string"``).
        timestamp_formats: ``strptime`` formats of timestamp columns, tried in order after ISO 8601.
        timezone: the zone of naive timestamps (``"Europe/Berlin"``); they are stored as UTC instants.
        on_change: what a file read before and changed since does: ``"error"`` or ``"reingest"``.
        name: the name keying the cursor (default: ``csv:`` and the absolute path).
        endpoint_url: the S3 API endpoint (default: ``AWS_ENDPOINT_URL``, else AWS).
        region: the S3 region (default: ``AWS_REGION``, else us-east-1).

    Example:
        >>> fti.sources.csv("data/*.csv", null_values=["", "n/a"], timezone="Europe/Berlin")  # doctest: +SKIP
    """
    options = file_options(
        delimiter=delimiter,
        header=header,
        column_names=column_names,
        null_values=null_values,
        column_types=column_types,
        timestamp_formats=timestamp_formats,
        timezone=timezone,
    )
    return FileSource(path, "csv", options, on_change=on_change, name=name, endpoint_url=endpoint_url, region=region)


def parquet(
    path: str,
    *,
    timezone: str | None = None,
    on_change: OnChange = "error",
    name: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> FileSource:
    """Parquet files: a path, a folder or a glob, local or on S3 (options as for :func:`csv`)."""
    options = file_options(timezone=timezone)
    return FileSource(
        path, "parquet", options, on_change=on_change, name=name, endpoint_url=endpoint_url, region=region
    )


def json(
    path: str,
    *,
    column_types: Mapping[str, Any] | None = None,
    timezone: str | None = None,
    on_change: OnChange = "error",
    name: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> FileSource:
    """JSON lines files (one object per line): a path, a folder or a glob, local or on S3 (see :func:`csv`)."""
    options = file_options(column_types=column_types, timezone=timezone)
    return FileSource(path, "json", options, on_change=on_change, name=name, endpoint_url=endpoint_url, region=region)


def files(path: str, **options: Any) -> FileSource:
    """Files of the format their extension names (``.csv``, ``.parquet``, ``.jsonl``), with that format's options."""
    readers = {"csv": csv, "parquet": parquet, "json": json}
    reader: Any = readers[format_of(path)]
    source: FileSource = reader(path, **options)
    return source


def sql(
    url: str,
    *,
    table: str | None = None,
    query: str | None = None,
    cursor: str | None = None,
    chunk_rows: int = 100_000,
    column_types: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> SqlSource:
    """A table or query of any SQLAlchemy database, read in chunks; with ``cursor``, only rows after the last read.

    Args:
        url: a SQLAlchemy URL, e.g. ``postgresql://app@db/shop`` or ``sqlite:///shop.db``.
        table: the table (``schema.table`` allowed), or
        query: a SELECT whose rows to read.
        cursor: a column that grows with new rows (an id, an ``updated_at``): each read takes the rows
            after the last value read, up to the largest value at the time of reading.
        chunk_rows: rows per batch on the SQLAlchemy path.
        column_types: column name -> Arrow type, for columns whose type the driver does not tell.
        name: the name keying the cursor (default: ``sql:``, the URL without password and the table).

    Example:
        >>> fti.sources.sql("postgresql://app@db/shop", table="orders", cursor="id")  # doctest: +SKIP
    """
    return SqlSource(
        url, table=table, query=query, cursor=cursor, chunk_rows=chunk_rows, column_types=column_types, name=name
    )


def http(
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    records: str | None = None,
    pagination: Pagination | None = None,
    cursor_field: str | None = None,
    cursor_param: str | None = None,
    retries: int = 5,
    backoff: float = 0.5,
    rate_limit: float | None = None,
    timeout: float = 30.0,
    column_types: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> HttpSource:
    """A JSON API, page by page, retried on 429 and 5xx (honouring ``Retry-After``).

    Args:
        url: the endpoint.
        params: query parameters of every request.
        headers: request headers; ``${NAME}`` is replaced by the environment variable NAME at request time,
            so tokens are never stored.
        records: the JMESPath of the records' list in each answer (default: the answer is the list).
        pagination: :func:`page_number`, :func:`offset`, :func:`cursor_token` or :func:`link_header`
            (default: one request).
        cursor_field: a field that grows with new records: each read keeps the records after the last one.
        cursor_param: a query parameter that sends the last value of ``cursor_field`` to the API.
        retries: how often to retry a request answered 429 or 5xx, or not answered.
        backoff: the first wait between retries in seconds, doubled after each (when no ``Retry-After``).
        rate_limit: at most this many requests per second.
        timeout: seconds to wait for an answer.
        column_types: column name -> Arrow type, for fields whose type the first page does not show.
        name: the name keying the cursor (default: ``http:`` and the URL with its parameters).
    """
    return HttpSource(
        url,
        params=params,
        headers=headers,
        records=records,
        pagination=pagination,
        cursor_field=cursor_field,
        cursor_param=cursor_param,
        retries=retries,
        backoff=backoff,
        rate_limit=rate_limit,
        timeout=timeout,
        column_types=column_types,
        name=name,
    )


def page_number(
    param: str = "page", *, start: int = 1, size_param: str | None = None, size: int | None = None
) -> Pagination:
    """Pages by number (``?page=1``, ``2``...) until a page has no records (or fewer than ``size``)."""
    return Pagination("page_number", param=param, start=start, size_param=size_param, size=size)


def offset(param: str = "offset", *, size_param: str = "limit", size: int = 100) -> Pagination:
    """Pages by offset (``?offset=0&limit=100``, ``100``...) until a page has fewer than ``size`` records."""
    return Pagination("offset", param=param, size_param=size_param, size=size, start=0)


def cursor_token(param: str = "cursor", path: str = "next_cursor") -> Pagination:
    """Pages by a token: each answer's ``path`` (JMESPath) is sent as ``param`` until it is missing or null."""
    return Pagination("cursor_token", param=param, path=path)


def link_header() -> Pagination:
    """Pages by the ``Link: <...>; rel="next"`` header, until an answer has none."""
    return Pagination("link_header")
