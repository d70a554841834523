"""Vector search: the top-k rows of a feature group by cosine similarity to a vector (or a text's embedding).

The online search scans the group's online table batch by batch (a store's :class:`ScanningStore`
capability): each batch's vectors become one NumPy matrix, scored with one matrix-vector product, and
only the rows that can still be in the top k are kept. The offline search asks DuckDB the same question
over the group's latest row per key (what the online table holds) with ``array_cosine_similarity``. Both
order by similarity, then by key, so they return the same neighbours.

Rows without a vector, or with a zero vector, are never neighbours. ``filter`` keeps rows whose column
equals a value, or is one of a list of values, for every column given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.backends.ports import ScanningStore
from fti.core.vectors import is_vector_type
from fti.errors import ValidationError
from fti.features.online import ensure_online_table, latest_query, online_store
from fti.features.schema import schema_from_specs
from fti.features.sql import query_engine, quote, register_dataset
from fti.features.time_travel import describe_group

if TYPE_CHECKING:
    from fti.core.features import FeatureGroupRecord
    from fti.features.queries import Query, QueryPart
    from fti.features.stores import FeatureStores
    from fti.features.time_travel import Snapshot

__all__ = ["SCORE_COLUMN", "NeighborSearch", "find_vector_part", "plan_search"]

#: the column of the result holding each neighbour's cosine similarity to the query
SCORE_COLUMN = "score"
_SCAN_ROWS = 20_000


class NeighborSearch:
    """One search: the group, its vector column, the query vector, k, the filter and the columns returned."""

    def __init__(
        self,
        record: FeatureGroupRecord,
        column: str,
        query: np.ndarray,
        k: int,
        filters: dict[str, pa.Array],
        features: tuple[str, ...],
    ) -> None:
        self.record = record
        self.column = column
        self.query = query
        self.k = k
        self.filters = filters
        self.features = features

    @property
    def _keys(self) -> tuple[str, ...]:
        return tuple(self.record.primary_key)

    def _order(self) -> list[tuple[str, str]]:
        return [(SCORE_COLUMN, "descending"), *((name, "ascending") for name in self._keys)]

    def online(self, stores: FeatureStores) -> pa.Table:
        """The top k of the group's online table."""
        if not self.record.is_online:
            raise ValidationError(
                f"{describe_group(self.record).capitalize()} is not online: search it offline with "
                "find_neighbors(..., online=False), or create a version with online=True."
            )
        store = online_store(stores, self.record)
        if not isinstance(store, ScanningStore):
            raise ValidationError(f"The online store of {describe_group(self.record)} cannot scan its rows.")
        table = ensure_online_table(store, self.record)
        wanted = tuple(dict.fromkeys((*self.features, self.column, *self.filters)))
        best: pa.Table | None = None
        for batch in store.scan(table, list(wanted), batch_rows=_SCAN_ROWS):
            candidates = self._candidates(batch)
            merged = candidates if best is None else pa.concat_tables([best, candidates])
            best = merged.sort_by(self._order()).slice(0, self.k)
        return best if best is not None else self._empty()

    def _candidates(self, batch: pa.Table) -> pa.Table:
        """The rows of ``batch`` that pass the filter and score at least its k-th best, with their score."""
        keep = np.ones(batch.num_rows, dtype=bool)
        for name, values in self.filters.items():
            keep &= pc.fill_null(pc.is_in(batch.column(name), value_set=values), False).to_numpy(zero_copy_only=False)
        vectors = batch.column(self.column).combine_chunks()
        keep &= vectors.is_valid().to_numpy(zero_copy_only=False)
        size = vectors.type.list_size
        flat = vectors.values.slice(vectors.offset * size, len(vectors) * size)
        matrix = flat.to_numpy(zero_copy_only=False).reshape(len(vectors), size)
        scores = _cosine(matrix, self.query)
        keep &= np.isfinite(scores)
        rows = np.flatnonzero(keep)
        if len(rows) > self.k:  # every row tied with the k-th best stays: the key decides among them later
            kth = np.partition(scores[rows], len(rows) - self.k)[len(rows) - self.k]
            rows = rows[scores[rows] >= kth]
        chosen = batch.take(pa.array(rows)).select([*self._keys, *self.features])
        return chosen.append_column(SCORE_COLUMN, pa.array(scores[rows], pa.float64()))

    def offline(self, stores: FeatureStores, view: Snapshot) -> pa.Table:
        """The top k of the group's latest row per key, in DuckDB."""
        if view.commit is None:
            return self._empty()
        size = int(self.query.shape[0])
        vector = f"CAST({quote(self.column)} AS FLOAT[{size}])"
        conditions = [f"{quote(self.column)} IS NOT NULL"]
        parameters: list[Any] = [self.query.astype(np.float32).tolist()]
        for name, values in self.filters.items():
            conditions.append(f"list_contains(?, {quote(name)})")
            parameters.append(values.to_pylist())
        columns = ", ".join(quote(name) for name in (*self._keys, *self.features))
        keys = ", ".join(f"{quote(name)} ASC" for name in self._keys)
        connection = query_engine()
        try:
            register_dataset(connection, "raw_rows", stores.offline.read(self.record.table))
            latest = latest_query(self.record, view.commit_condition())
            scored = (
                f"SELECT {columns}, CAST(array_cosine_similarity({vector}, CAST(? AS FLOAT[{size}])) AS DOUBLE) "
                f"AS {SCORE_COLUMN} FROM ({latest}) WHERE {' AND '.join(conditions)}"
            )
            sql = (
                f"SELECT * FROM ({scored}) WHERE isfinite({SCORE_COLUMN}) "
                f"ORDER BY {SCORE_COLUMN} DESC, {keys} LIMIT {self.k}"
            )
            return connection.sql(sql, params=parameters).to_arrow_table()
        finally:
            connection.close()

    def _empty(self) -> pa.Table:
        schema = schema_from_specs(self.record.schema or ())
        assert schema is not None
        fields = [schema.field(name) for name in (*self._keys, *self.features)]
        return pa.schema([*fields, pa.field(SCORE_COLUMN, pa.float64())]).empty_table()


def _cosine(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row to the unit-length ``query`` (NaN for a zero or non-finite row).

    In the vectors' own precision (float32 for embeddings), as DuckDB computes it offline: no copy of the
    batch is made. Row by row with einsum rather than a matrix product, whose result for a row can differ in
    the last bit with the batch around it: equal vectors score equally wherever the scan cuts its batches, so
    the key decides between them."""
    products = np.einsum("ij,j->i", matrix, query.astype(matrix.dtype))
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(products / norms, dtype=np.float64)


def plan_search(
    record: FeatureGroupRecord,
    query: Any,
    k: int,
    *,
    column: str | None = None,
    filter: Mapping[str, Any] | None = None,
    features: Sequence[str] | None = None,
    model: str | None = None,
) -> NeighborSearch:
    """Check a search's arguments against the group's schema and embed a text query.

    Raises:
        ValidationError: naming the argument: no such (vector) column, a query of another dimension, k not
            a positive integer, a filter column that does not exist.
    """
    what = describe_group(record)
    schema = schema_from_specs(record.schema or ())
    if schema is None:
        raise ValidationError(f"{what.capitalize()} has no schema yet: insert data into it first.")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValidationError(f"find_neighbors on {what}: k must be a whole number from 1 up, got {k!r}.")
    name = _vector_column(what, schema, column)
    size = int(schema.field(name).type.list_size)
    vector = _query_vector(what, query, name, size, model)
    filters = {key: _filter_values(what, schema, key, value) for key, value in (filter or {}).items()}
    fixed = {*record.primary_key}
    chosen = [n for n in schema.names if n not in fixed and n != record.event_time and n != name]
    if features is not None:
        unknown = [n for n in features if n not in schema.names]
        if unknown:
            raise ValidationError(f"find_neighbors on {what}: no column {unknown}; the group has {schema.names}.")
        chosen = [n for n in features if n not in fixed]
    return NeighborSearch(record, name, vector, k, filters, tuple(chosen))


def find_vector_part(query: Query, column: str | None, what: str) -> tuple[QueryPart, str]:
    """The part of a view's query that selects the vector feature ``column`` (by its name in the view),
    and the column's name in its group; the only vector feature when ``column`` is None."""
    found: list[tuple[QueryPart, str]] = []
    for part in query.parts:
        schema = schema_from_specs(part.group.record.schema or ())
        if schema is None:
            continue
        for feature in part.features:
            if is_vector_type(schema.field(feature).type) and column in (None, part.prefix + feature):
                found.append((part, feature))
    if len(found) != 1:
        names = [part.prefix + feature for part, feature in found]
        wanted = "no vector feature" if column is None else f"no vector feature {column!r}"
        problem = f"has {wanted}" if not found else f"has several vector features {names}: name one with column="
        raise ValidationError(
            f"find_neighbors on {what}: the view {problem} (a fixed-size list of floats, e.g. from fti.embed)."
        )
    return found[0]


def _vector_column(what: str, schema: pa.Schema, column: str | None) -> str:
    vectors: list[str] = [str(item.name) for item in schema if is_vector_type(item.type)]
    if column is None:
        if len(vectors) != 1:
            found = f"has {len(vectors)} ({', '.join(vectors)})" if vectors else "has none"
            raise ValidationError(
                f"find_neighbors on {what} needs one vector column (a fixed-size list of floats); it {found}: "
                "name it with column=."
            )
        return vectors[0]
    if column not in schema.names or column not in vectors:
        raise ValidationError(
            f"find_neighbors on {what}: column {column!r} is not a vector column; vector columns: {vectors or 'none'}."
        )
    return column


def _query_vector(what: str, query: Any, column: str, size: int, model: str | None) -> np.ndarray:
    if isinstance(query, str):
        from fti.llm.embeddings import embed

        query = embed([query], model=model)[0]
    try:
        vector = np.asarray(query, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(
            f"find_neighbors on {what}: the query must be a text or a vector of {size} numbers, "
            f"got {type(query).__name__}."
        ) from None
    if vector.shape != (size,):
        raise ValidationError(
            f"find_neighbors on {what}: column '{column}' holds vectors of {size} dimensions, but the query has "
            f"shape {vector.shape}: embed the query with the model that embedded the column."
        )
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0:
        raise ValidationError(f"find_neighbors on {what}: the query vector is zero or not finite.")
    return vector / norm


def _filter_values(what: str, schema: pa.Schema, name: str, value: Any) -> pa.Array:
    if name not in schema.names:
        raise ValidationError(
            f"find_neighbors on {what}: filter column {name!r} does not exist; it has {schema.names}."
        )
    values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
    try:
        return pa.array(values, type=schema.field(name).type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise ValidationError(
            f"find_neighbors on {what}: filter {name!r} must hold {schema.field(name).type} values, got {values!r}."
        ) from exc
