"""The contract every OfflineStore implementation passes.

Subclass :class:`OfflineStoreContract` and provide a fixture ``offline_store`` yielding an open, empty
store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyarrow as pa
import pytest

from fti.backends.ports import CompactingStore
from fti.errors import BackendError, ConflictError, NotFoundError, ValidationError

if TYPE_CHECKING:
    from fti.backends.ports import OfflineStore

__all__ = ["OfflineStoreContract"]

_SCHEMA = pa.schema([("key", pa.int64()), ("value", pa.float64()), ("name", pa.string())])


def _batch(start: int, size: int) -> pa.RecordBatch:
    keys = pa.array(range(start, start + size), pa.int64())
    return pa.record_batch(
        [keys, pa.array([float(k) / 2 for k in range(start, start + size)]), pa.array([f"n{k}" for k in keys])],
        schema=_SCHEMA,
    )


def _reader(*batches: pa.RecordBatch) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(_SCHEMA, list(batches))


class _BoomError(Exception):
    pass


class OfflineStoreContract:
    """Behaviour shared by every offline store."""

    def test_missing_table(self, offline_store: OfflineStore) -> None:
        assert not offline_store.exists("groups/none")
        assert offline_store.version("groups/none") is None
        with pytest.raises(NotFoundError, match="Table 'groups/none' does not exist"):
            offline_store.read("groups/none")

    def test_write_creates_then_appends_versions(self, offline_store: OfflineStore) -> None:
        assert offline_store.write("groups/g", _reader(_batch(0, 10), _batch(10, 5))) == 0
        assert offline_store.exists("groups/g")
        assert offline_store.write("groups/g", _reader(_batch(100, 3))) == 1
        assert offline_store.version("groups/g") == 1
        latest = offline_store.read("groups/g").to_table().sort_by("key")
        assert latest.num_rows == 18
        assert latest.schema.names == ["key", "value", "name"]
        assert latest.column("name").to_pylist()[-1] == "n102"

    def test_merge_schema_adds_columns_and_struct_fields(self, offline_store: OfflineStore) -> None:
        offline_store.write("t", _reader(_batch(0, 2)))
        with pytest.raises(BackendError):  # a column the table lacks is refused without merge_schema
            offline_store.write(
                "t", pa.Table.from_batches([_batch(2, 1)]).append_column("extra", pa.array([1])).to_reader()
            )
        inputs = pa.StructArray.from_arrays([pa.array([1.0])], names=["a"])
        wider = pa.Table.from_batches([_batch(2, 1)]).append_column("inputs", inputs)
        assert offline_store.write("t", wider.to_reader(), merge_schema=True) == 1
        more = pa.StructArray.from_arrays([pa.array(["x"]), pa.array([2.0])], names=["b", "a"])
        offline_store.write(
            "t", pa.Table.from_batches([_batch(3, 1)]).append_column("inputs", more).to_reader(), merge_schema=True
        )
        table = offline_store.read("t").to_table().sort_by("key")
        assert table.column("inputs").to_pylist() == [None, None, {"a": 1.0, "b": None}, {"a": 2.0, "b": "x"}]
        assert offline_store.read("t").schema.field("inputs").type == pa.struct(
            [("a", pa.float64()), ("b", pa.string())]
        )

    def test_read_at_version(self, offline_store: OfflineStore) -> None:
        offline_store.write("t", _reader(_batch(0, 4)))
        offline_store.write("t", _reader(_batch(4, 4)))
        assert offline_store.read("t", version=0).count_rows() == 4
        assert offline_store.read("t", version=1).count_rows() == 8
        with pytest.raises(NotFoundError, match="no version 7"):
            offline_store.read("t", version=7)

    def test_added_gives_the_files_of_one_commit(self, offline_store: OfflineStore) -> None:
        offline_store.write("t", _reader(_batch(0, 4)))
        offline_store.write("t", _reader(_batch(4, 3)))
        first, second = offline_store.added("t", 0), offline_store.added("t", 1)
        assert first.to_table().column("key").to_pylist() == [0, 1, 2, 3]
        assert second.to_table().column("key").to_pylist() == [4, 5, 6]
        assert not set(first.files) & set(second.files)
        assert set(first.files) | set(second.files) == set(offline_store.read("t").files)  # the same paths
        with second.filesystem.open_input_file(second.files[0]) as source:  # on read's file system
            assert source.size() > 0
        with pytest.raises(NotFoundError, match="Table 't' has no version 9"):
            offline_store.added("t", 9)
        with pytest.raises(NotFoundError, match="Table 'none' does not exist"):
            offline_store.added("none", 0)

    def test_overwrite_replaces_rows_in_a_new_version(self, offline_store: OfflineStore) -> None:
        offline_store.write("t", _reader(_batch(0, 4)))
        other = pa.table({"x": pa.array([1, 2], pa.int32())})
        assert offline_store.write("t", other.to_reader(), mode="overwrite") == 1
        assert offline_store.read("t").to_table().equals(other)
        assert offline_store.read("t", version=0).count_rows() == 4

    def test_failing_reader_commits_nothing(self, offline_store: OfflineStore) -> None:
        offline_store.write("t", _reader(_batch(0, 4)))

        def batches() -> Iterator[pa.RecordBatch]:
            yield _batch(10, 1000)
            raise _BoomError("source broke")

        with pytest.raises(BackendError, match="could not write table 't'"):
            offline_store.write("t", pa.RecordBatchReader.from_batches(_SCHEMA, batches()))
        assert offline_store.version("t") == 0
        assert offline_store.read("t").count_rows() == 4

    def test_failing_first_write_creates_no_table(self, offline_store: OfflineStore) -> None:
        def batches() -> Iterator[pa.RecordBatch]:
            yield _batch(0, 10)
            raise _BoomError("source broke")

        with pytest.raises(BackendError):
            offline_store.write("t", pa.RecordBatchReader.from_batches(_SCHEMA, batches()))
        assert not offline_store.exists("t")

    def test_write_at_an_exact_version(self, offline_store: OfflineStore) -> None:
        assert offline_store.write("t", _reader(_batch(0, 4)), version=0) == 0
        assert offline_store.write("t", _reader(_batch(4, 4)), version=1) == 1
        with pytest.raises(ConflictError, match="Table 't' cannot take version 1: another writer committed"):
            offline_store.write("t", _reader(_batch(8, 4)), version=1)
        offline_store.write("u", _reader(_batch(8, 4)), version=0)
        with pytest.raises(ConflictError, match="cannot take version 0"):
            offline_store.write("u", _reader(_batch(8, 4)), version=0)
        assert offline_store.read("t").count_rows() == 8

    def test_a_stale_writer_cannot_commit(self, offline_store: OfflineStore) -> None:
        offline_store.write("t", _reader(_batch(0, 4)))

        def racing() -> Iterator[pa.RecordBatch]:
            # another writer (its own thread, as a driver may not nest calls) commits version 1 meanwhile
            other = threading.Thread(target=offline_store.write, args=("t", _reader(_batch(100, 1))))
            other.start()
            other.join()
            yield _batch(4, 4)

        with pytest.raises(ConflictError, match="cannot take version 1"):
            offline_store.write("t", pa.RecordBatchReader.from_batches(_SCHEMA, racing()), version=1)
        assert offline_store.version("t") == 1
        assert offline_store.read("t").count_rows() == 5

    def test_appends_meeting_each_other_all_commit(self, offline_store: OfflineStore) -> None:
        offline_store.write("t", _reader(_batch(0, 4)))
        taken: list[int] = []

        def racing() -> Iterator[pa.RecordBatch]:
            yield _batch(4, 4)
            # another writer (its own thread, as a driver may not nest calls) appends meanwhile
            other = threading.Thread(target=lambda: taken.append(offline_store.write("t", _reader(_batch(100, 1)))))
            other.start()
            other.join()

        assert offline_store.write("t", pa.RecordBatchReader.from_batches(_SCHEMA, racing())) == 2
        assert taken == [1]
        assert offline_store.read("t").count_rows() == 9

    def test_value_ranges_and_deleting_rows(self, offline_store: OfflineStore) -> None:
        if not isinstance(offline_store, CompactingStore):
            pytest.skip("not a compacting store")
        offline_store.write("t", _reader(_batch(0, 4)))
        offline_store.write("t", _reader(_batch(10, 2)))
        ranges = offline_store.value_ranges("t", "key").sort_by("min")
        assert ranges.column("min").to_pylist() == [0, 10] and ranges.column("max").to_pylist() == [3, 11]
        assert all(value > 1_600_000_000_000 for value in ranges.column("written_at").to_pylist())
        assert offline_store.delete_rows("t", "key", [1, 11, 50]) == 2
        assert offline_store.delete_rows("t", "key", []) == 0
        keys = offline_store.read("t").to_table().column("key").to_pylist()
        assert sorted(keys) == [0, 2, 3, 10]

    def test_large_streamed_write(self, offline_store: OfflineStore) -> None:
        batches = (_batch(start, 10_000) for start in range(0, 200_000, 10_000))
        offline_store.write("big", pa.RecordBatchReader.from_batches(_SCHEMA, batches))
        assert offline_store.read("big").count_rows() == 200_000

    @pytest.mark.parametrize("name", ["../escape", "/abs", "a//b", "a b"])
    def test_unsafe_table_names_are_rejected(self, offline_store: OfflineStore, name: str) -> None:
        with pytest.raises(ValidationError, match="Invalid artifact key"):
            offline_store.write(name, _reader(_batch(0, 1)))
        with pytest.raises(ValidationError, match="Invalid artifact key"):
            offline_store.exists(name)

    def test_delete_table_removes_every_version(self, offline_store: OfflineStore) -> None:
        offline_store.write("gone", pa.table({"x": [1]}).to_reader())
        offline_store.write("gone", pa.table({"x": [2]}).to_reader())
        offline_store.write("kept", pa.table({"x": [3]}).to_reader())
        offline_store.delete_table("gone")
        assert not offline_store.exists("gone") and offline_store.version("gone") is None
        offline_store.delete_table("gone")  # a missing table is not an error
        assert offline_store.read("kept").to_table().column("x").to_pylist() == [3]
        offline_store.write("gone", pa.table({"x": [4]}).to_reader())  # the name can be used again
        assert offline_store.version("gone") == 0

    def test_ping_and_describe(self, offline_store: OfflineStore) -> None:
        offline_store.ping()
        assert offline_store.describe()
