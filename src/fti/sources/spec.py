"""Sources written as text: a path, a glob, a URL, or a YAML file (what ``fti ingest SPEC`` takes).

``./data/*.csv`` and ``s3://bucket/events/*.parquet`` are files (their format from the extension);
``postgresql://user@host/db/table?cursor=id`` is a table (``?table=`` names it on other databases);
``https://...`` is a JSON API; a ``.yaml`` file holds one source with its options::

    kind: csv                      # csv, parquet, json, sql or http
    path: data/*.csv
    null_values: ["", "n/a"]
    ingest:                        # optional: how to prepare the rows (see FeatureGroup.insert)
      rename: {monthly spend: monthly_spend}
      parse_dates: [ts]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict

from fti.core.settings_errors import describe_settings_error
from fti.core.sources import Source
from fti.errors import NotFoundError, ValidationError
from fti.sources.files import FileSource, file_options, format_of
from fti.sources.http import HttpSource, Pagination
from fti.sources.sql import SqlSource

__all__ = ["IngestSpec", "SourceSpec", "load_spec", "open_source"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PaginationSpec(_Model):
    """``pagination:`` of an HTTP source."""

    kind: Literal["page_number", "offset", "cursor_token", "link_header"]
    param: str = ""
    size_param: str | None = None
    size: int | None = None
    start: int = 1
    path: str = ""


class IngestSpec(_Model):
    """``ingest:``: how rows are prepared before validation (a SQL transform runs in DuckDB over ``source``)."""

    rename: dict[str, str] | None = None
    normalize_names: bool = False
    parse_dates: list[str] | dict[str, str] | None = None
    transform: str | None = None


class SourceSpec(_Model):
    """One source and its options, as a YAML file writes it."""

    kind: Literal["csv", "parquet", "json", "files", "sql", "http"]
    name: str | None = None
    # files
    path: str | None = None
    delimiter: str = ","
    header: bool = True
    column_names: list[str] | None = None
    null_values: list[str] | None = None
    column_types: dict[str, str] | None = None
    timestamp_formats: list[str] | None = None
    timezone: str | None = None
    on_change: Literal["error", "reingest"] = "error"
    endpoint_url: str | None = None
    region: str | None = None
    # sql
    url: str | None = None
    table: str | None = None
    query: str | None = None
    cursor: str | None = None
    chunk_rows: pydantic.PositiveInt = 100_000
    # http
    params: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    records: str | None = None
    pagination: PaginationSpec | None = None
    cursor_field: str | None = None
    cursor_param: str | None = None
    retries: pydantic.NonNegativeInt = 5
    rate_limit: pydantic.PositiveFloat | None = None
    ingest: IngestSpec = IngestSpec()

    def build(self) -> Source:
        """The source this spec describes."""
        if self.kind == "sql":
            if not self.url:
                raise ValidationError("A sql source needs url: (a SQLAlchemy URL).")
            return SqlSource(
                self.url,
                table=self.table,
                query=self.query,
                cursor=self.cursor,
                chunk_rows=self.chunk_rows,
                column_types=self.column_types,
                name=self.name,
            )
        if self.kind == "http":
            if not self.url:
                raise ValidationError("An http source needs url:.")
            paging = None if self.pagination is None else Pagination(**self.pagination.model_dump())
            return HttpSource(
                self.url,
                params=self.params,
                headers=self.headers,
                records=self.records,
                pagination=paging,
                cursor_field=self.cursor_field,
                cursor_param=self.cursor_param,
                retries=self.retries,
                rate_limit=self.rate_limit,
                column_types=self.column_types,
                name=self.name,
            )
        if not self.path:
            raise ValidationError(f"A {self.kind} source needs path: (a file, a folder or a glob).")
        options = file_options(
            delimiter=self.delimiter,
            header=self.header,
            column_names=self.column_names,
            null_values=self.null_values,
            column_types=self.column_types,
            timestamp_formats=self.timestamp_formats,
            timezone=self.timezone,
        )
        kind = format_of(self.path) if self.kind == "files" else self.kind
        return FileSource(
            self.path,
            kind,
            options,
            on_change=self.on_change,
            name=self.name,
            endpoint_url=self.endpoint_url,
            region=self.region,
        )


def load_spec(text: str) -> SourceSpec:
    """The spec a path, glob, URL or YAML file names."""
    if text.endswith((".yaml", ".yml")):
        path = Path(text)
        if not path.is_file():
            raise NotFoundError(f"Source spec {text} does not exist.")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ValidationError(f"Source spec {text} is not valid YAML: {exc}") from None
        if isinstance(data, dict) and isinstance(data.get("path"), str) and "://" not in data["path"]:
            # a relative path in a spec file is relative to the file, wherever the command runs
            data["path"] = str(path.parent / Path(data["path"]).expanduser())
        try:
            return SourceSpec.model_validate(data)
        except pydantic.ValidationError as exc:
            raise ValidationError(describe_settings_error(exc, f"source spec {text}")) from None
    scheme = text.partition("://")[0].lower() if "://" in text else ""
    if scheme in ("http", "https"):
        return SourceSpec(kind="http", url=text)
    if scheme in ("", "s3", "file"):
        return SourceSpec(kind="files", path=text.removeprefix("file://"))
    return _sql_spec(text)


def _sql_spec(text: str) -> SourceSpec:
    base, _, query = text.partition("?")
    options = dict(parse_qsl(query))
    table, cursor = options.pop("table", None), options.pop("cursor", None)
    if table is None and base.startswith("postgresql") and urlsplit(base).path.count("/") >= 2:
        base, _, table = base.rpartition("/")
    if not table:
        raise ValidationError(
            f"Source {text!r} names no table: use postgresql://user@host/db/table or add ?table=NAME (and "
            "?cursor=COLUMN to read only new rows)."
        )
    url = base + (f"?{urlencode(options)}" if options else "")
    return SourceSpec(kind="sql", url=url, table=table, cursor=cursor)


def open_source(text: str) -> Source:
    """The source a path, glob, URL or YAML file names (see the module docstring)."""
    return load_spec(text).build()
