"""An HTTP JSON API as a source: paginated, retried, rate limited, incremental by a cursor field.

Each page's records (found with a JMESPath expression such as ``data.items``) become one Arrow batch.
Requests are retried on 429 and 5xx answers and on connection errors, waiting as ``Retry-After`` says or
backing off exponentially. Headers may name environment variables (``"Bearer ${API_TOKEN}"``): their
values are read at request time and never stored or shown.

Example:
    >>> source = fti.sources.http(
    ...     "https://api.example.com/v1/orders", records="data", headers={"Authorization": "Bearer ${API_TOKEN}"},
    ...     pagination=fti.sources.cursor_token("cursor", "next"), cursor_field="id", cursor_param="since_id",
    ... )  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urlencode

import pyarrow as pa
import pyarrow.compute as pc

from fti.core.sources import Cursor, SourceBatch, SourceInfo
from fti.errors import BackendError, MissingExtraError, NotFoundError, ValidationError
from fti.sources.formats import arrow_type

__all__ = ["HttpSource", "Pagination"]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MAX_WAIT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Pagination:
    """How to ask for the next page: by page number, offset, a cursor token from the answer, or the Link header."""

    kind: Literal["page_number", "offset", "cursor_token", "link_header"]
    param: str = ""
    size_param: str | None = None
    size: int | None = None
    start: int = 1
    path: str = ""


class HttpSource:
    """Records of a JSON API, page after page."""

    def __init__(
        self,
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
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValidationError(f"Invalid API URL {url!r}: it must start with http:// or https://.")
        if rate_limit is not None and rate_limit <= 0:
            raise ValidationError(f"rate_limit is requests per second and must be positive, got {rate_limit!r}.")
        if cursor_param is not None and cursor_field is None:
            raise ValidationError("cursor_param sends the cursor field's last value: pass cursor_field too.")
        self._url, self._params, self._headers = url, dict(params or {}), dict(headers or {})
        self._records = records
        self._pagination = pagination
        self._cursor_field, self._cursor_param = cursor_field, cursor_param
        self._retries, self._backoff, self._timeout = int(retries), float(backoff), float(timeout)
        self._interval = 0.0 if rate_limit is None else 1.0 / rate_limit
        self._types = {key: arrow_type(value, key) for key, value in (column_types or {}).items()}
        location = url + (f"?{urlencode(self._params)}" if self._params else "")
        self._info = SourceInfo("http", location, name or f"http:{location}")
        self._last_request = 0.0

    @property
    def info(self) -> SourceInfo:
        """Kind ``http``, the URL with its query parameters (never headers), and the name keying the cursor."""
        return self._info

    def schema(self) -> pa.Schema:
        """The columns of the first page's records."""
        for batch in self._pages(None):
            return batch[0].schema
        return pa.schema([])

    def read(self, cursor: Cursor | None) -> Iterator[SourceBatch]:
        """Every page's records newer than the cursor field's stored value."""
        field = self._cursor_field
        after = cursor.get("value") if cursor and field else None
        state = dict(cursor or {})
        largest = after
        held: SourceBatch | None = None
        for pages, (page_batch, read) in enumerate(self._pages(after), start=1):
            batch = page_batch
            if field is not None:
                batch, largest = _newer(batch, field, after, largest)
            span = {"pages": pages} | ({"column": field, "after": after, "through": largest} if field else {})
            if held is not None:
                yield held
            held = SourceBatch(batch, state, span, read)
        if held is not None:
            final = {"field": field, "value": largest} if field is not None else {}
            yield SourceBatch(held.data, final, held.span, held.bytes_read)

    # -- pages -------------------------------------------------------------------------------------

    def _pages(self, after: Any) -> Iterator[tuple[pa.RecordBatch, int]]:
        try:
            import httpx
            import jmespath  # noqa: F401 (checked here, used per page)
        except ModuleNotFoundError as exc:
            raise MissingExtraError("HTTP sources need the 'http' extra: pip install 'fti[http]'") from exc
        params = dict(self._params)
        if self._cursor_param is not None and after is not None:
            params[self._cursor_param] = after
        paging = self._pagination
        if paging is not None and paging.kind in ("page_number", "offset"):
            params[paging.param] = paging.start if paging.kind == "page_number" else 0
            if paging.size_param is not None and paging.size is not None:
                params[paging.size_param] = paging.size
        url: str | None = self._url
        schema: pa.Schema | None = None
        total = page = 0
        with httpx.Client(timeout=self._timeout, follow_redirects=True) as client:
            while url is not None:
                page += 1
                response = self._get(client, url, params, page)
                total += len(response.content)
                body = _json(response, self._info.location, page)
                records = self._records_of(body, page)
                if records:
                    batch = self._batch(records, schema, page)
                    schema = schema or batch.schema
                    yield batch, total
                url, params = self._next(url, params, response, body, len(records))

    def _next(
        self, url: str, params: dict[str, Any], response: Any, body: Any, count: int
    ) -> tuple[str | None, dict[str, Any]]:
        paging = self._pagination
        if paging is None:
            return None, params
        if paging.kind == "link_header":
            link = response.links.get("next", {}).get("url")
            return (str(link), {}) if link else (None, params)
        if paging.kind == "cursor_token":
            token = _search(paging.path, body)
            return (url, {**params, paging.param: token}) if token not in (None, "") else (None, params)
        if count == 0 or (paging.size is not None and count < paging.size):
            return None, params
        step = 1 if paging.kind == "page_number" else count
        return url, {**params, paging.param: int(params[paging.param]) + step}

    def _get(self, client: Any, url: str, params: dict[str, Any], page: int) -> Any:
        import httpx

        headers = {key: _expand(value, key) for key, value in self._headers.items()}
        for attempt in range(self._retries + 1):
            self._pace()
            try:
                # empty params would drop the query of a next-page URL from a Link header
                response = client.get(url, params=params or None, headers=headers)
            except httpx.TransportError as exc:
                if attempt == self._retries:
                    raise BackendError(
                        f"API {self._info.location} is unreachable (page {page}, {attempt + 1} tries): {exc}"
                    ) from exc
                time.sleep(self._wait(None, attempt))
                continue
            if response.status_code != 429 and response.status_code < 500:
                break
            if attempt == self._retries:
                raise BackendError(
                    f"API {self._info.location} answered {response.status_code} to page {page} after "
                    f"{attempt + 1} tries: {response.text[:200]!r}. Nothing was committed; run the ingestion again."
                )
            time.sleep(self._wait(response.headers.get("Retry-After"), attempt))
        if response.status_code == 404:
            raise NotFoundError(f"API {self._info.location} answered 404 Not Found to page {page}: check the URL.")
        if response.status_code >= 400:
            raise ValidationError(
                f"API {self._info.location} refused page {page} with {response.status_code}: "
                f"{response.text[:200]!r}. Check the URL, parameters and headers."
            )
        return response

    def _pace(self) -> None:
        if self._interval:
            wait = self._last_request + self._interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self._last_request = time.monotonic()

    def _wait(self, retry_after: str | None, attempt: int) -> float:
        if retry_after:
            try:
                return min(float(retry_after), _MAX_WAIT_SECONDS)
            except ValueError:
                try:
                    moment = parsedate_to_datetime(retry_after).timestamp()
                    return float(min(max(moment - time.time(), 0.0), _MAX_WAIT_SECONDS))
                except (TypeError, ValueError):
                    pass
        return float(min(self._backoff * 2.0**attempt, _MAX_WAIT_SECONDS))

    def _records_of(self, body: Any, page: int) -> list[dict[str, Any]]:
        records = _search(self._records, body) if self._records else body
        if records is None:
            return []
        if not isinstance(records, list) or any(not isinstance(item, dict) for item in records):
            where = f"at {self._records!r}" if self._records else "at the top level"
            raise ValidationError(
                f"API {self._info.location} page {page}: expected a list of JSON objects {where}, got "
                f"{type(records).__name__}. Set records= to the JMESPath of the list, e.g. 'data.items'."
            )
        return records

    def _batch(self, records: list[dict[str, Any]], schema: pa.Schema | None, page: int) -> pa.RecordBatch:
        try:
            if schema is None:
                table = pa.Table.from_pylist(records)
                if self._types:
                    fields = [pa.field(f.name, self._types.get(f.name, f.type)) for f in table.schema]
                    table = pa.Table.from_pylist(records, schema=pa.schema(fields))
            else:
                table = pa.Table.from_pylist(records, schema=schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ValidationError(
                f"API {self._info.location} page {page}: records do not fit the columns of the first page "
                f"({exc}). Declare the column types with column_types."
            ) from None
        return table.combine_chunks().to_batches()[0]


def _newer(batch: pa.RecordBatch, field: str, after: Any, largest: Any) -> tuple[pa.RecordBatch, Any]:
    """The records whose cursor field is after ``after``, and the largest value seen so far."""
    if field not in batch.schema.names:
        raise ValidationError(
            f"The API's records have no cursor field '{field}'; they have {', '.join(batch.schema.names)}."
        )
    values = batch.column(batch.schema.get_field_index(field))
    if after is not None:
        batch = batch.filter(pc.fill_null(pc.greater(values, pa.scalar(after).cast(values.type)), False))
        values = batch.column(batch.schema.get_field_index(field))
    top = pc.max(values).as_py() if len(values) else None
    if top is not None and (largest is None or top > largest):
        largest = top
    return batch, largest


def _search(expression: str, body: Any) -> Any:
    import jmespath

    return jmespath.search(expression, body)


def _json(response: Any, location: str, page: int) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ValidationError(f"API {location} page {page} is not JSON: {exc}. Nothing was committed.") from None


def _expand(value: str, header: str) -> str:
    def variable(found: re.Match[str]) -> str:
        name = found.group(1)
        if name not in os.environ:
            raise ValidationError(f"Header '{header}' needs the environment variable {name}, which is not set.")
        return os.environ[name]

    return _ENV.sub(variable, value)
