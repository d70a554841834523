"""The contract of vector columns (embeddings) and of scanning, for online stores that hold them.

Subclass :class:`VectorColumnContract` beside :class:`~fti.testing.online_store.OnlineStoreContract`
(same ``online_store`` fixture). Rules: a ``fixed_size_list<float32 or float64>[n]`` column comes back
bit for bit (NaN, -0.0, nulls) from ``read``, ``read_one`` and ``scan``; a vector of another length is
refused before anything is written, naming the column and the dimension; a binary column is refused
with what to store instead; ``scan`` returns every key once with the values ``read`` gives.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pytest

from fti.backends.ports import ScanningStore
from fti.errors import ValidationError

if TYPE_CHECKING:
    from fti.backends.ports import OnlineStore

__all__ = ["VectorColumnContract"]

_TIME = datetime(2026, 1, 1, tzinfo=UTC)
_DIMENSION = 12


def _vector_rows(count: int, value_type: pa.DataType | None = None) -> pa.Table:
    value_type = value_type or pa.float32()
    rng = np.random.default_rng(count)
    values = rng.standard_normal(count * _DIMENSION).astype(value_type.to_pandas_dtype())
    values[:3] = [np.nan, -0.0, np.inf]
    mask = pa.array(np.arange(count) % 7 == 3)  # some rows have no vector
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(values), _DIMENSION, mask=mask)
    return pa.table(
        {
            "doc": pa.array([f"doc:{i}%" for i in range(count)]),  # separators and escapes in keys
            "part": pa.array(np.arange(count) % 3, pa.int32()),
            "embedding": vectors,
            "ts": pa.array([_TIME + timedelta(seconds=i) for i in range(count)], pa.timestamp("us", tz="UTC")),
        }
    )


def _create(store: OnlineStore, rows: pa.Table, table: str = "docs_1") -> str:
    store.create_table(table, ["doc", "part"], "ts", rows.schema)
    return table


def _bits(table: pa.Table) -> list[object]:
    """The rows with float vectors compared by their bytes (NaN equals NaN, -0.0 differs from 0.0)."""
    return [
        (row["doc"], row["part"], None if row["embedding"] is None else np.asarray(row["embedding"]).tobytes())
        for row in table.select(["doc", "part", "embedding"]).to_pylist()
    ]


class VectorColumnContract:
    """Vector columns and scanning, shared by every online store that holds them."""

    @pytest.mark.parametrize("value_type", [pa.float32(), pa.float64()])
    @pytest.mark.parametrize("count", [3, 60, 400])  # the few-, some- and many-row read paths
    def test_vectors_round_trip_exactly(self, online_store: OnlineStore, value_type: pa.DataType, count: int) -> None:
        rows = _vector_rows(count, value_type)
        table = _create(online_store, rows)
        assert online_store.write(table, rows) == count
        keys = rows.select(["doc", "part"])
        back = online_store.read(table, keys)
        assert back.schema.field("embedding").type == pa.list_(value_type, _DIMENSION)
        assert _bits(back) == _bits(rows)
        for index in range(min(count, 4)):  # row 3 has no vector
            one = online_store.read_one(table, (rows["doc"][index].as_py(), rows["part"][index].as_py()))
            assert one is not None
            expected = back["embedding"][index].as_py()
            assert (one["embedding"] is None) == (expected is None) == (index == 3)
            assert np.asarray(one["embedding"], value_type.to_pandas_dtype()).tobytes() == (
                np.asarray(expected, value_type.to_pandas_dtype()).tobytes()
            )

    def test_scan_returns_every_row_once_as_read_gives_it(self, online_store: OnlineStore) -> None:
        assert isinstance(online_store, ScanningStore)
        rows = _vector_rows(250)
        table = _create(online_store, rows)
        online_store.write(table, rows)
        batches = list(online_store.scan(table, ["embedding"], batch_rows=100))
        assert all(batch.num_rows <= 100 for batch in batches)
        scanned = pa.concat_tables(batches)
        assert scanned.column_names == ["doc", "part", "embedding", "ts"]
        assert sorted(_bits(scanned), key=str) == sorted(_bits(rows), key=str)
        assert scanned.sort_by("doc")["ts"].equals(rows.sort_by("doc")["ts"])

    def test_a_vector_of_another_dimension_is_refused_before_any_write(self, online_store: OnlineStore) -> None:
        rows = _vector_rows(5)
        table = _create(online_store, rows)
        short = [[0.5] * _DIMENSION] * 4 + [[0.5] * (_DIMENSION - 1)]
        bad = rows.set_column(2, "embedding", pa.array(short, pa.list_(pa.float32())))
        with pytest.raises(ValidationError, match=rf"'embedding' holds vectors of {_DIMENSION} dimensions, but row 4"):
            online_store.write(table, bad)
        assert online_store.count(table) == 0

    def test_a_binary_column_is_refused_saying_what_to_store_instead(self, online_store: OnlineStore) -> None:
        schema = pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us", tz="UTC")), ("image", pa.binary())])
        with pytest.raises(ValidationError, match=r"'image'.*binary.*object-store key or URL.*embedding"):
            online_store.create_table("images_1", ["id"], "ts", schema)

    def test_a_list_of_no_fixed_size_is_refused_saying_how_to_fix_it(self, online_store: OnlineStore) -> None:
        schema = pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us")), ("tags", pa.list_(pa.float32()))])
        with pytest.raises(ValidationError, match=r"'tags'.*fixed size.*pyarrow.list_\(pyarrow.float32\(\), DIMENSION"):
            online_store.create_table("tags_1", ["id"], "ts", schema)
