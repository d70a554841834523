"""A database table or query as a source: any SQLAlchemy URL, read in chunks, incremental by a cursor column.

Each read first asks the database for the cursor column's largest value after the stored cursor, then
streams the rows between the two: one read covers an exact, recorded range, whatever is inserted
meanwhile. The cursor column must grow with new rows (an id from a sequence, an ``updated_at``
timestamp); rows sharing the last value read must all be there when it is read.

PostgreSQL is read through ADBC (Arrow from the server's binary COPY, decoded by a thread of its own a
couple of batches ahead) when ``adbc-driver-postgresql`` is installed, otherwise, like every other
database, through SQLAlchemy in chunks of ``chunk_rows``.

Example:
    >>> source = fti.sources.sql("postgresql://app@db/shop", table="orders", cursor="id")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from fti.core.read_ahead import read_ahead
from fti.core.sources import Cursor, SourceBatch, SourceInfo, SourceParts
from fti.errors import BackendError, MissingExtraError, NotFoundError, ValidationError
from fti.sources.formats import arrow_type

__all__ = ["SqlSource"]

_CHUNK_ROWS = 100_000
#: batches the ADBC driver decodes ahead of their consumer (each about 16 MB)
_READ_AHEAD = 2


class SqlSource:
    """Rows of a table or query, newest since the cursor column's stored value."""

    def __init__(
        self,
        url: str,
        *,
        table: str | None = None,
        query: str | None = None,
        cursor: str | None = None,
        chunk_rows: int = _CHUNK_ROWS,
        column_types: Mapping[str, Any] | None = None,
        fast_path: bool = True,
        name: str | None = None,
    ) -> None:
        import sqlalchemy as sa

        if (table is None) == (query is None):
            raise ValidationError("A SQL source reads a table or a query: pass exactly one of table= and query=.")
        if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
            raise ValidationError(f"chunk_rows must be a positive whole number, got {chunk_rows!r}.")
        try:
            self._url = sa.engine.make_url(url)
        except sa.exc.ArgumentError:
            raise ValidationError(
                f"Invalid database URL {url!r}: use a SQLAlchemy URL such as postgresql://user@host/db."
            ) from None
        self._table, self._query, self._cursor_column = table, query, cursor
        self._chunk_rows = chunk_rows
        self._types = {key: arrow_type(value, key) for key, value in (column_types or {}).items()}
        self._fast_path = fast_path
        what = f"table {table}" if table is not None else "query"
        location = f"{self._url.render_as_string(hide_password=True)} {what}"
        self._info = SourceInfo("sql", location, name or f"sql:{location}")

    @property
    def info(self) -> SourceInfo:
        """Kind ``sql``, the URL without password and the table, and the name keying the cursor."""
        return self._info

    def schema(self) -> pa.Schema:
        """The columns of the table or query (read from its first rows)."""
        for batch in self._stream(self._select("*", None, None, limit=1)):
            return batch.schema
        return pa.schema([])

    def read(self, cursor: Cursor | None) -> Iterator[SourceBatch]:
        """Rows after the stored cursor value up to the largest one now; all rows without a cursor column."""
        column = self._cursor_column
        after = _decode(cursor.get("value"), str(cursor.get("type"))) if cursor and column else None
        through = None
        if column is not None:
            through = self._largest(after)
            if through is None:
                return
        span = {"column": column, "after": _encode(after)[0], "through": _encode(through)[0]} if column else {}
        state = dict(cursor or {})
        final = {"column": column, "value": _encode(through)[0], "type": _encode(through)[1]} if column else {}
        held: pa.RecordBatch | None = None
        total = 0
        for batch in self._stream(self._select("*", after, through)):
            if held is not None:
                total += held.nbytes
                yield SourceBatch(held, state, span, total)
            held = batch
        if held is not None:
            yield SourceBatch(held, final, span, total + held.nbytes)

    def split(self, cursor: Cursor | None, parts: int) -> SourceParts | None:
        """The rows after the stored cursor value up to the largest one now, in at most ``parts`` ranges of the
        cursor column of equal width (``(after, b1], (b1, b2], ... (bn, through]``); None without a cursor column,
        for one whose values have no width (strings), or for fewer than two distinct values to read."""
        column = self._cursor_column
        if column is None or parts < 2:
            return None
        after = _decode(cursor.get("value"), str(cursor.get("type"))) if cursor else None
        through = self._largest(after)
        low = after if after is not None else self._smallest()
        if through is None or low is None or not isinstance(through, _RANGED) or isinstance(through, bool):
            return None
        width = through - low
        bounds = [
            low + width * index / parts if isinstance(width, float) else low + width * index // parts
            for index in range(1, parts)
        ]
        edges = [
            after,
            *sorted({bound for bound in bounds if bound < through and (after is None or bound > after)}),
            through,
        ]
        if len(edges) < 3:
            return None
        ranges = tuple(_SqlRange(self, edges[index], edges[index + 1]) for index in range(len(edges) - 1))
        value, kind = _encode(through)
        span = {"column": column, "after": _encode(after)[0], "through": value}
        return SourceParts(ranges, {"column": column, "value": value, "type": kind}, span)

    # -- queries -----------------------------------------------------------------------------------

    def _select(self, what: str, after: Any, through: Any, limit: int | None = None) -> tuple[str, dict[str, Any]]:
        preparer = self._dialect().identifier_preparer
        if self._table is not None:
            source = ".".join(preparer.quote(part) for part in self._table.split("."))
        else:
            source = f"({self._query}) AS fti_query"
        conditions, params = [], {}
        if self._cursor_column is not None:
            quoted = preparer.quote(self._cursor_column)
            if after is not None:
                conditions.append(f"{quoted} > :after")
                params["after"] = after
            if through is not None:
                conditions.append(f"{quoted} <= :through")
                params["through"] = through
        sql = f"SELECT {what} FROM {source}" + (f" WHERE {' AND '.join(conditions)}" if conditions else "")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return sql, params

    def _largest(self, after: Any) -> Any:
        column = self._dialect().identifier_preparer.quote(str(self._cursor_column))
        for batch in self._stream(self._select(f"max({column}) AS fti_largest", after, None)):
            if batch.num_rows:
                return batch.column(0)[0].as_py()
        return None

    def _smallest(self) -> Any:
        column = self._dialect().identifier_preparer.quote(str(self._cursor_column))
        for batch in self._stream(self._select(f"min({column}) AS fti_smallest", None, None)):
            if batch.num_rows:
                return batch.column(0)[0].as_py()
        return None

    def _dialect(self) -> Any:
        return self._url.get_dialect()()

    def _stream(self, statement: tuple[str, dict[str, Any]]) -> Iterator[pa.RecordBatch]:
        if self._fast_path and self._url.get_backend_name() == "postgresql" and _installed("adbc_driver_postgresql"):
            yield from self._adbc(statement)
        else:
            yield from self._sqlalchemy(statement)

    def _adbc(self, statement: tuple[str, dict[str, Any]]) -> Iterator[pa.RecordBatch]:
        import adbc_driver_manager
        import adbc_driver_postgresql.dbapi as adbc
        import sqlalchemy as sa

        sql, params = statement
        # ADBC takes no named parameters: the cursor bounds (values read back from this database) are inlined
        # by SQLAlchemy's literal rendering, which quotes them for the dialect.
        text = (
            sa.text(sql).bindparams(**params).compile(dialect=self._dialect(), compile_kwargs={"literal_binds": True})
        )
        uri = self._url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            with adbc.connect(uri) as connection, connection.cursor() as cursor:
                cursor.execute(str(text))
                # the driver decodes the server's rows in a thread of its own, beside their validation
                batches = read_ahead(iter(cursor.fetch_record_batch()), _READ_AHEAD)
                try:
                    for batch in batches:
                        yield self._typed(batch)
                finally:
                    batches.close()  # the reading thread is done before the connection closes
        except adbc_driver_manager.Error as exc:
            raise self._error(exc) from exc

    def _sqlalchemy(self, statement: tuple[str, dict[str, Any]]) -> Iterator[pa.RecordBatch]:
        import sqlalchemy as sa

        sql, params = statement
        url = self._url
        if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        try:
            engine = sa.create_engine(url)
        except ModuleNotFoundError as exc:
            raise MissingExtraError(
                f"Reading {self._info.location} needs its database driver ({exc.name}): pip install 'fti[sql]'."
            ) from exc
        schema: pa.Schema | None = None
        try:
            with engine.connect() as connection:
                result = connection.execution_options(stream_results=True).execute(sa.text(sql), params)
                names = list(result.keys())
                for rows in result.partitions(self._chunk_rows):
                    batch = self._typed(_batch(names, rows, schema))
                    schema = schema or batch.schema
                    yield batch
        except sa.exc.SQLAlchemyError as exc:
            raise self._error(exc) from exc
        finally:
            engine.dispose()

    def _typed(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if not self._types:
            return batch
        columns = [
            batch.column(i).cast(self._types[name]) if name in self._types else batch.column(i)
            for i, name in enumerate(batch.schema.names)
        ]
        return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)

    def _error(self, exc: BaseException) -> Exception:
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        lowered = text.lower()
        if "does not exist" in lowered or "no such table" in lowered or "undefined" in lowered:
            return NotFoundError(f"Database {self._info.location}: {text}. Check the table, query and cursor column.")
        if "syntax" in lowered or "no such column" in lowered:
            return ValidationError(f"Database {self._info.location}: {text}. Check the query and cursor column.")
        return BackendError(f"Database {self._info.location} cannot be read: {text}")


#: cursor values that split into ranges of equal width
_RANGED = (int, float, datetime, date)


@dataclass(frozen=True, slots=True)
class _SqlRange:
    """A part of a SQL source's new rows (:meth:`SqlSource.split`): those whose cursor value is in
    ``(after, through]``."""

    source: SqlSource
    after: Any
    through: Any

    @property
    def info(self) -> SourceInfo:
        """The whole source's."""
        return self.source.info

    def schema(self) -> pa.Schema:
        """The whole source's."""
        return self.source.schema()

    def read(self, cursor: Cursor | None) -> Iterator[SourceBatch]:
        """The range's rows (the cursor is the whole source's concern: ``cursor`` is ignored)."""
        total = 0
        for batch in self.source._stream(self.source._select("*", self.after, self.through)):
            total += batch.nbytes
            yield SourceBatch(batch, {}, {}, total)


def _batch(names: list[str], rows: Sequence[Any], schema: pa.Schema | None) -> pa.RecordBatch:
    """Rows from the driver as one batch (transposed in C), typed like the first batch."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = []
    for i, values in enumerate(columns):
        target = schema.field(i).type if schema is not None else None
        try:
            arrays.append(
                pa.array(values, type=target if target is not None and not pa.types.is_null(target) else None)
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            raise ValidationError(
                f"Column '{names[i]}' holds values of another type than in the first rows read ({target}); "
                f"declare its type with column_types={{'{names[i]}': ...}}."
            ) from None
    if schema is not None and any(
        pa.types.is_null(f.type) and not pa.types.is_null(a.type) for f, a in zip(schema, arrays, strict=True)
    ):
        raise ValidationError(
            f"A column of {', '.join(names)} had only nulls in the first rows read; declare its type with column_types."
        )
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _encode(value: Any) -> tuple[Any, str]:
    """A cursor value as JSON and its type."""
    if value is None:
        return None, "none"
    if isinstance(value, datetime):
        return value.isoformat(), "timestamp"
    if isinstance(value, date):
        return value.isoformat(), "date"
    if isinstance(value, bool):
        return value, "bool"
    if isinstance(value, int):
        return value, "int"
    if isinstance(value, float):
        return value, "float"
    return str(value), "string"


def _decode(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "timestamp":
        return datetime.fromisoformat(str(value))
    if kind == "date":
        return date.fromisoformat(str(value))
    return value
