"""The contract every OnlineStore implementation passes.

Subclass :class:`OnlineStoreContract` and provide two fixtures: ``online_store``, an open store with
no tables, and ``online_store_spec``, the ``(kind, options)`` that build another instance on the same
storage (the multi-process tests open their own in child processes). Override
:meth:`OnlineStoreContract.is_writing` if the store's progress is not visible through ``count``.

Rules every store keeps: per key, the row with the newest event time wins whatever the arrival order;
for equal event times the later write wins (within one ``write`` call, rows apply in order); a read
returns one row per requested key in request order, nulls for missing keys; values come back with the
exact type and value they were written with.

Over 400 lines: it is one suite for one port (STYLE.md B8), a test per rule and per value type; split in
two, a new store could pass half of it.
"""

from __future__ import annotations

import math
import multiprocessing
import struct
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pytest

from fti.backends.kinds import create_backend
from fti.errors import ConflictError, NotFoundError, ValidationError

if TYPE_CHECKING:
    from fti.backends.ports import OnlineStore

__all__ = ["OnlineStoreContract", "versioned_rows"]

BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
SIMPLE_SCHEMA = pa.schema(
    [("id", pa.int64()), ("ts", pa.timestamp("us", tz="UTC")), ("amount", pa.float64()), ("label", pa.string())]
)
TYPED_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("ts", pa.timestamp("ns", tz="UTC")),
        ("i32", pa.int32()),
        ("i64", pa.int64()),
        ("f32", pa.float32()),
        ("f64", pa.float64()),
        ("flag", pa.bool_()),
        ("name", pa.string()),
        ("seen_at", pa.timestamp("us", tz="Europe/Paris")),
        ("naive", pa.timestamp("ms")),
        ("day", pa.date32()),
        ("i8", pa.int8()),
        ("u32", pa.uint32()),
    ]
)


def versioned_rows(keys: range | list[int], version: int) -> pa.Table:
    """Rows of SIMPLE_SCHEMA whose values encode key and version, so a torn row is detectable."""
    ids = np.asarray(keys, dtype=np.int64)
    return pa.table(
        {
            "id": ids,
            "ts": pa.array([BASE_TIME + timedelta(seconds=version)] * len(ids), pa.timestamp("us", tz="UTC")),
            "amount": ids * 1000.0 + version,
            "label": pa.array([f"v{version}"] * len(ids)),
        },
        schema=SIMPLE_SCHEMA,
    )


def _write_versions(kind: str, options: dict[str, Any], table: str, versions: list[int], keys: int) -> None:
    store: OnlineStore = create_backend("online_store", kind, options)
    store.open()
    try:
        for version in versions:
            store.write(table, versioned_rows(range(keys), version))
    finally:
        store.close()


def _bits(column: pa.Array) -> pa.Array:
    # NaN != NaN and 0.0 == -0.0 in value comparisons; compare floats by their bits instead.
    if pa.types.is_floating(column.type):
        return column.view(pa.int64() if pa.types.is_float64(column.type) else pa.int32())
    return column


def _same_values(actual: dict[str, Any] | None, expected: dict[str, Any]) -> bool:
    """Equal dicts, floats compared by their bits (NaN, -0.0) and types compared too."""
    if actual is None or list(actual) != list(expected):
        return False
    for name, want in expected.items():
        got = actual[name]
        if type(got) is not type(want):
            return False
        if isinstance(want, float) and struct.pack("<d", got) != struct.pack("<d", want):
            return False
        if not isinstance(want, float) and got != want:
            return False
    return True


def assert_same_rows(actual: pa.Table, expected: pa.Table) -> None:
    """Exact equality of schema, values and nulls (floats compared by bits)."""
    assert actual.schema.equals(expected.schema), f"{actual.schema} != {expected.schema}"
    for name in expected.column_names:
        got = _bits(actual.column(name).combine_chunks())
        want = _bits(expected.column(name).combine_chunks())
        assert got.equals(want), f"column {name}: {got.to_pylist()} != {want.to_pylist()}"


def _typed_rows() -> pa.Table:
    nan = float("nan")
    paris = pa.timestamp("us", tz="Europe/Paris")
    return pa.table(
        {
            "id": [1, 2, 3, 4],
            "ts": pa.array([1_767_225_600_123_456_789, 1, -86_400_000_000_001, 2**62], pa.timestamp("ns", tz="UTC")),
            "i32": pa.array([2**31 - 1, -(2**31), 0, None], pa.int32()),
            "i64": [2**63 - 1, -(2**63), 0, None],
            "f32": pa.array([np.float32(1 / 3), np.float32(-0.0), np.float32(3.4e38), None], pa.float32()),
            "f64": [nan, -0.0, math.inf, 5e-324],
            "flag": [True, False, None, True],
            "name": ["plain", "ünïcödé ✓ 🚀", "", "a:b%3A\nc\\d\x00e"],
            "seen_at": pa.array([0, -1, 253_402_300_799_999_999, None], paris),
            "naive": pa.array([1_700_000_000_123, None, -1, 0], pa.timestamp("ms")),
            "day": pa.array([date(2026, 1, 1), date(1900, 2, 28), None, date(9999, 12, 31)], pa.date32()),
            "i8": pa.array([-128, 127, None, 0], pa.int8()),
            "u32": pa.array([2**32 - 1, 0, 7, None], pa.uint32()),
        },
        schema=TYPED_SCHEMA,
    )


class OnlineStoreContract:
    """Behaviour shared by every online store."""

    def is_writing(self, store: OnlineStore, table: str, count_before: int) -> bool:
        """Whether a write by another process has visibly started (new keys have appeared)."""
        return store.count(table) > count_before

    def _simple(self, store: OnlineStore, table: str = "cards_1") -> str:
        store.create_table(table, ["id"], "ts", SIMPLE_SCHEMA)
        return table

    def test_rows_come_back_in_request_order(self, online_store: OnlineStore) -> None:
        table = self._simple(online_store)
        assert online_store.write(table, versioned_rows(range(10), 1)) == 10
        result = online_store.read(table, [(7,), (2,), (9,)])
        assert result.column_names == ["id", "amount", "label", "ts"]
        assert result.to_pydict() == {
            "id": [7, 2, 9],
            "amount": [7001.0, 2001.0, 9001.0],
            "label": ["v1", "v1", "v1"],
            "ts": [BASE_TIME + timedelta(seconds=1)] * 3,
        }

    def test_missing_keys_read_as_nulls_with_null_event_time(self, online_store: OnlineStore) -> None:
        table = self._simple(online_store)
        online_store.write(table, versioned_rows([1, 3], 1))
        keys = pa.table({"id": [3, 2, 1, 99]})
        result = online_store.read(table, keys)
        assert result.column("id").to_pylist() == [3, 2, 1, 99]
        assert result.column("amount").to_pylist() == [3001.0, None, 1001.0, None]
        assert result.column("ts").is_null().to_pylist() == [False, True, False, True]

    def test_duplicate_and_single_keys(self, online_store: OnlineStore) -> None:
        table = self._simple(online_store)
        online_store.write(table, versioned_rows(range(3), 1))
        assert online_store.read(table, [2, 2, 0]).column("amount").to_pylist() == [2001.0, 2001.0, 1.0]
        assert online_store.read(table, [(1,)]).column("label").to_pylist() == ["v1"]
        assert online_store.read(table, [(5,)]).column("label").to_pylist() == [None]
        empty = online_store.read(table, [])
        assert empty.num_rows == 0
        assert empty.column_names == ["id", "amount", "label", "ts"]

    def test_older_event_never_overwrites_newer(self, online_store: OnlineStore) -> None:
        table = self._simple(online_store)
        assert online_store.write(table, versioned_rows(range(5), 3)) == 5
        assert online_store.write(table, versioned_rows(range(5), 2)) == 0
        result = online_store.read(table, [(k,) for k in range(5)])
        assert result.column("label").to_pylist() == ["v3"] * 5
        assert online_store.count(table) == 5

    def test_large_write_over_a_partly_loaded_table(self, online_store: OnlineStore) -> None:
        # Big enough for several round trips of a bulk writer: loaded keys first (newer, older and equally
        # old rows among them), then keys that are new to the table.
        table = self._simple(online_store)
        loaded, fresh = 30_000, 30_000
        assert online_store.write(table, versioned_rows(range(loaded), 5)) == loaded
        ids = np.arange(loaded + fresh)
        version = np.where(ids >= loaded, 4, np.where(ids % 3 == 0, 3, 7))  # every third loaded key is older
        rows = pa.table(
            {
                "id": ids,
                "ts": pa.array(
                    [BASE_TIME + timedelta(seconds=int(v)) for v in version], SIMPLE_SCHEMA.field("ts").type
                ),
                "amount": ids * 1000.0 + version,
                "label": pa.array([f"v{v}" for v in version]),
            },
            schema=SIMPLE_SCHEMA,
        )
        assert online_store.write(table, rows) == loaded - loaded // 3 + fresh
        labels = online_store.read(table, [(int(k),) for k in ids]).column("label").to_pylist()
        expected = np.where(ids >= loaded, "v4", np.where(ids % 3 == 0, "v5", "v7"))
        assert labels == expected.tolist()
        assert online_store.count(table) == loaded + fresh

    def test_out_of_order_arrivals_keep_latest_per_key(self, online_store: OnlineStore) -> None:
        table = self._simple(online_store)
        rng = np.random.default_rng(7)
        keys, versions = 500, 6
        everything = pa.concat_tables([versioned_rows(range(keys), v) for v in range(versions)])
        shuffled = everything.take(rng.permutation(everything.num_rows))
        for batch in np.array_split(np.arange(shuffled.num_rows), 7):
            online_store.write(table, shuffled.take(batch))
        result = online_store.read(table, [(k,) for k in range(keys)])
        assert_same_rows(result.select(SIMPLE_SCHEMA.names), versioned_rows(range(keys), versions - 1))
        assert online_store.count(table) == keys

    def test_equal_event_time_later_write_wins(self, online_store: OnlineStore) -> None:
        table = self._simple(online_store)
        first = versioned_rows([1, 2], 5)
        second = first.set_column(3, "label", pa.array(["second", "second"]))
        online_store.write(table, first)
        assert online_store.write(table, second) == 2
        assert online_store.read(table, [1, 2]).column("label").to_pylist() == ["second", "second"]
        # Within one write, rows apply in order: the last of equal event times wins.
        third = second.set_column(3, "label", pa.array(["third", "third"]))
        online_store.write(table, pa.concat_tables([third, second.slice(0, 1), first.slice(1, 1)]))
        assert online_store.read(table, [1, 2]).column("label").to_pylist() == ["second", "v5"]

    def test_types_round_trip_exactly(self, online_store: OnlineStore) -> None:
        online_store.create_table("typed", ["id"], "ts", TYPED_SCHEMA)
        rows = _typed_rows()
        online_store.write("typed", rows)
        result = online_store.read("typed", pa.table({"id": [4, 3, 2, 1]}))
        expected = rows.take([3, 2, 1, 0])
        assert_same_rows(result.select(TYPED_SCHEMA.names), expected)
        assert result.schema.field("seen_at").type == pa.timestamp("us", tz="Europe/Paris")
        # Larger requests may take other (vectorized) paths: they must give the same values.
        for repeats in (4, 20, 300):
            many = online_store.read("typed", pa.table({"id": [4, 3, 2, 1] * repeats}))
            assert_same_rows(many.select(TYPED_SCHEMA.names), rows.take([3, 2, 1, 0] * repeats))
            with_missing = online_store.read("typed", pa.table({"id": [9] + [1] * (2 * repeats)}))
            assert with_missing.column("ts").null_count == 1
            assert with_missing.slice(0, 1).drop_columns(["id"]).to_pylist() == [
                {name: None for name in TYPED_SCHEMA.names if name != "id"}
            ]

    def test_read_one_gives_the_values_of_read(self, online_store: OnlineStore) -> None:
        online_store.create_table("typed", ["id"], "ts", TYPED_SCHEMA)
        online_store.write("typed", _typed_rows())
        for key in (1, 2, 4, (2,), [4]):  # row 3 holds a time Python's datetime cannot represent in Paris
            expected = online_store.read("typed", [key]).to_pylist()[0]
            del expected["id"]
            assert _same_values(online_store.read_one("typed", key), expected)
        chosen = online_store.read_one("typed", 1, ["f64", "name"])
        assert chosen is not None and list(chosen) == ["f64", "name", "ts"]
        assert online_store.read_one("typed", 99) is None
        composite = pa.schema([("a", pa.string()), ("b", pa.int32()), ("ts", pa.timestamp("us", tz="UTC"))])
        composite = composite.append(pa.field("v", pa.float64()))
        online_store.create_table("pairs", ["a", "b"], "ts", composite)
        rows = pa.table({"a": ["x:y", "x"], "b": [1, 2], "ts": [BASE_TIME, BASE_TIME], "v": [0.5, 1.5]}, composite)
        online_store.write("pairs", rows)
        assert online_store.read_one("pairs", ("x:y", 1)) == {"v": 0.5, "ts": BASE_TIME}
        assert online_store.read_one("pairs", ("x", 1)) is None

    def test_read_one_converts_or_refuses_keys_like_read(self, online_store: OnlineStore) -> None:
        table = self._simple(online_store)
        online_store.write(table, versioned_rows([5], 1))
        assert online_store.read_one(table, np.int64(5)) == {
            "amount": 5001.0,
            "label": "v1",
            "ts": BASE_TIME + timedelta(seconds=1),
        }
        with pytest.raises(ValidationError, match="Key column 'id' of online table 'cards_1' must be int64"):
            online_store.read_one(table, "five")
        with pytest.raises(ValidationError, match=r"has 2 values; expected 1"):
            online_store.read_one(table, (5, 6))
        with pytest.raises(NotFoundError, match="Online table 'nope' does not exist"):
            online_store.read_one("nope", 5)

    def test_date_event_time(self, online_store: OnlineStore) -> None:
        schema = pa.schema([("id", pa.string()), ("day", pa.date32()), ("value", pa.int32())])
        online_store.create_table("daily", ["id"], "day", schema)
        online_store.write("daily", pa.table({"id": ["a"], "day": [date(2026, 1, 2)], "value": [2]}, schema=schema))
        online_store.write("daily", pa.table({"id": ["a"], "day": [date(1969, 1, 1)], "value": [1]}, schema=schema))
        result = online_store.read("daily", [("a",)])
        assert result.to_pylist() == [{"id": "a", "value": 2, "day": date(2026, 1, 2)}]

    def test_composite_primary_key(self, online_store: OnlineStore) -> None:
        schema = pa.schema(
            [("shop", pa.string()), ("card", pa.int32()), ("ts", pa.timestamp("s")), ("spend", pa.float64())]
        )
        online_store.create_table("spend", ["shop", "card"], "ts", schema)
        rows = pa.table(
            {
                "shop": ["a:b", "a", "a%3Ab", "a:b", "b"],
                "card": [1, 1, 1, 2, -1],
                "ts": pa.array([10, 10, 10, 10, 10], pa.timestamp("s")),
                "spend": [1.0, 2.0, 3.0, 4.0, 5.0],
            },
            schema=schema,
        )
        online_store.write("spend", rows)
        assert online_store.count("spend") == 5
        keys = [("b", -1), ("a%3Ab", 1), ("a:b", 1), ("a", 1), ("a:b", 2), ("a:b", 3), ("a", 2)]
        result = online_store.read("spend", keys)
        assert result.column("spend").to_pylist() == [5.0, 3.0, 1.0, 2.0, 4.0, None, None]
        assert result.column("shop").to_pylist() == [key[0] for key in keys]
        many = online_store.read("spend", keys * 50)
        assert many.column("spend").to_pylist() == [5.0, 3.0, 1.0, 2.0, 4.0, None, None] * 50
        by_table = online_store.read("spend", pa.table({"card": pa.array([2], pa.int64()), "shop": ["a:b"]}))
        assert by_table.column("spend").to_pylist() == [4.0]

    def test_wide_key_and_large_read(self, online_store: OnlineStore) -> None:
        names = [f"k{i}" for i in range(10)]
        schema = pa.schema([*(pa.field(n, pa.int32()) for n in names), ("ts", pa.date32()), ("v", pa.int64())])
        online_store.create_table("wide", names, "ts", schema)
        count = 5000
        ids = np.arange(count, dtype=np.int32)
        rows = pa.table(
            {**{n: ids + i for i, n in enumerate(names)}, "ts": pa.array([date(2026, 1, 1)] * count), "v": ids * 2},
            schema=schema,
        )
        online_store.write("wide", rows)
        order = np.random.default_rng(5).permutation(count)
        result = online_store.read("wide", rows.select(names).take(order))
        assert result.column("v").to_numpy().tolist() == (order * 2).tolist()

    def test_read_selected_columns(self, online_store: OnlineStore) -> None:
        table = self._simple(online_store)
        online_store.write(table, versioned_rows([1], 1))
        result = online_store.read(table, [1], columns=["label"])
        assert result.column_names == ["id", "label", "ts"]
        assert online_store.read(table, [1], columns=["ts", "id"]).column_names == ["id", "ts"]
        with pytest.raises(ValidationError, match="Online table 'cards_1' has no column 'nope': read one of amount"):
            online_store.read(table, [1], columns=["nope"])

    def test_null_features_replace_old_values(self, online_store: OnlineStore) -> None:
        table = self._simple(online_store)
        online_store.write(table, versioned_rows([1], 1))
        newer = versioned_rows([1], 2).set_column(2, "amount", pa.array([None], pa.float64()))
        online_store.write(table, newer)
        assert online_store.read(table, [1]).to_pylist()[0]["amount"] is None

    def test_create_is_idempotent_and_refuses_another_definition(self, online_store: OnlineStore) -> None:
        table = self._simple(online_store)
        online_store.create_table(table, ["id"], "ts", SIMPLE_SCHEMA)
        with pytest.raises(ConflictError, match="Online table 'cards_1' already exists with key"):
            online_store.create_table(table, ["label"], "ts", SIMPLE_SCHEMA)
        with pytest.raises(ConflictError, match="delete it first or use another name"):
            online_store.create_table(table, ["id"], "ts", SIMPLE_SCHEMA.remove(3))

    def test_delete_and_recreate(self, online_store: OnlineStore) -> None:
        table = self._simple(online_store)
        online_store.write(table, versioned_rows(range(20), 1))
        online_store.delete_table(table)
        online_store.delete_table(table)
        with pytest.raises(NotFoundError, match="Online table 'cards_1' does not exist"):
            online_store.read(table, [1])
        other = pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us", tz="UTC")), ("score", pa.int64())])
        online_store.create_table(table, ["id"], "ts", other)
        assert online_store.count(table) == 0
        assert online_store.read(table, [1]).column("score").to_pylist() == [None]

    def test_tables_are_independent_and_survive_reopen(self, online_store: OnlineStore) -> None:
        self._simple(online_store, "a_1")
        self._simple(online_store, "a_2")
        online_store.write("a_1", versioned_rows([1], 1))
        online_store.write("a_2", versioned_rows([1], 2))
        online_store.close()
        online_store.open()
        assert online_store.read("a_1", [1]).column("label").to_pylist() == ["v1"]
        assert online_store.read("a_2", [1]).column("label").to_pylist() == ["v2"]

    def test_names_are_validated(self, online_store: OnlineStore) -> None:
        with pytest.raises(ValidationError, match="Invalid online table name 'x; drop table y'"):
            online_store.create_table("x; drop table y", ["id"], "ts", SIMPLE_SCHEMA)
        with pytest.raises(ValidationError, match="names starting with '_fti' are reserved"):
            online_store.create_table("_fti_online_tables", ["id"], "ts", SIMPLE_SCHEMA)
        bad_column = SIMPLE_SCHEMA.append(pa.field('a" text', pa.string()))
        with pytest.raises(ValidationError, match="Invalid column name in online table 'cards_1'"):
            online_store.create_table("cards_1", ["id"], "ts", bad_column)
        with pytest.raises(ValidationError, match="Invalid online table name"):
            online_store.read("bad name", [1])

    def test_definitions_are_validated(self, online_store: OnlineStore) -> None:
        listed = SIMPLE_SCHEMA.append(pa.field("tags", pa.list_(pa.string())))
        with pytest.raises(ValidationError, match=r"Column 'tags' of online table 't' has type list<item: string>"):
            online_store.create_table("t", ["id"], "ts", listed)
        with pytest.raises(ValidationError, match="Online table 't' has no column 'card' for its key or event time"):
            online_store.create_table("t", ["card"], "ts", SIMPLE_SCHEMA)
        with pytest.raises(ValidationError, match="Event time column 'amount' of online table 't' has type double"):
            online_store.create_table("t", ["id"], "amount", SIMPLE_SCHEMA)
        with pytest.raises(NotFoundError, match=r"Online table 't' does not exist in .*create_table"):
            online_store.count("t")

    def test_bad_rows_are_refused_before_any_write(self, online_store: OnlineStore) -> None:
        table = self._simple(online_store)
        rows = versioned_rows(range(3), 1)
        with pytest.raises(ValidationError, match=r"missing \['label'\], unexpected none"):
            online_store.write(table, rows.drop_columns(["label"]))
        null_key = rows.set_column(0, "id", pa.array([1, None, 3], pa.int64()))
        with pytest.raises(ValidationError, match="Key column 'id' of online table 'cards_1' is null in row 1"):
            online_store.write(table, null_key)
        null_time = rows.set_column(1, "ts", pa.array([None, None, None], pa.timestamp("us", tz="UTC")))
        with pytest.raises(ValidationError, match=r"Event time column 'ts' .* is null in row 0"):
            online_store.write(table, null_time)
        wrong = rows.set_column(2, "amount", pa.array(["x", "y", "z"]))
        with pytest.raises(
            ValidationError, match="Column 'amount' of online table 'cards_1' must be double, got string"
        ):
            online_store.write(table, wrong)
        assert online_store.count(table) == 0
        castable = rows.set_column(0, "id", pa.array([0, 1, 2], pa.int32()))
        assert online_store.write(table, castable) == 3

    def test_bad_keys_are_refused(self, online_store: OnlineStore) -> None:
        table = self._simple(online_store)
        with pytest.raises(ValidationError, match="Key column 'id' of online table 'cards_1' must be int64, got str"):
            online_store.read(table, [("seven",)])
        with pytest.raises(ValidationError, match=r"Key 0 \(1, 2\) for online table 'cards_1' has 2 values"):
            online_store.read(table, [(1, 2)])
        with pytest.raises(ValidationError, match="lack key column 'id': pass id"):
            online_store.read(table, pa.table({"card": [1]}))

    def test_ping_and_describe(self, online_store: OnlineStore) -> None:
        online_store.ping()
        assert online_store.describe()

    def test_concurrent_writers_from_two_processes(
        self, online_store: OnlineStore, online_store_spec: tuple[str, dict[str, Any]]
    ) -> None:
        table = self._simple(online_store)
        kind, options = online_store_spec
        rng = np.random.default_rng(3)
        evens = [int(v) for v in rng.permutation(np.arange(0, 30, 2))]
        odds = [int(v) for v in rng.permutation(np.arange(1, 30, 2))]
        context = multiprocessing.get_context("spawn")
        writers = [
            context.Process(target=_write_versions, args=(kind, options, table, versions, 300))
            for versions in (evens, odds)
        ]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(timeout=120)
            assert writer.exitcode == 0
        result = online_store.read(table, [(k,) for k in range(300)])
        assert_same_rows(result.select(SIMPLE_SCHEMA.names), versioned_rows(range(300), 29))

    def test_killed_writer_leaves_old_or_new_rows(
        self, online_store: OnlineStore, online_store_spec: tuple[str, dict[str, Any]]
    ) -> None:
        table = self._simple(online_store)
        old_keys, new_keys = 60_000, 150_000
        online_store.write(table, versioned_rows(range(old_keys), 1))
        kind, options = online_store_spec
        child = _start_writer(kind, options, table, new_keys, version=2)
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "writing"
            deadline = time.monotonic() + 60
            while not self.is_writing(online_store, table, old_keys):
                assert child.poll() is None, "the write finished before it could be interrupted"
                assert time.monotonic() < deadline
                time.sleep(0.005)
            child.kill()
        finally:
            child.kill()
            child.wait(timeout=30)
            if child.stdout is not None:
                child.stdout.close()
        assert child.returncode == -9
        result = online_store.read(table, pa.table({"id": pa.array(np.arange(new_keys))}))
        old, new = versioned_rows(range(new_keys), 1), versioned_rows(range(new_keys), 2)
        labels = result.column("label").to_numpy(zero_copy_only=False)
        is_new = labels == "v2"
        is_old = labels == "v1"
        assert bool((is_new | is_old)[:old_keys].all()), "a key lost its row"
        assert bool((is_new | (labels == None))[old_keys:].all())  # noqa: E711
        for mask, source in ((is_new, new), (is_old, old)):
            picked = pa.array(np.flatnonzero(mask))
            assert_same_rows(result.take(picked).select(SIMPLE_SCHEMA.names), source.take(picked))
        # Running the write again completes it (rows with an equal event time are written again).
        assert online_store.write(table, versioned_rows(range(new_keys), 2)) == new_keys
        final = online_store.read(table, pa.table({"id": pa.array(np.arange(new_keys))}))
        assert_same_rows(final.select(SIMPLE_SCHEMA.names), new)
        assert online_store.count(table) == new_keys


def _start_writer(kind: str, options: dict[str, Any], table: str, keys: int, version: int) -> subprocess.Popen[str]:
    source = Path(__file__).resolve().parents[2]
    code = (
        "import sys\n"
        "from fti.backends.kinds import create_backend\n"
        "from fti.testing.online_store import versioned_rows\n"
        f"store = create_backend('online_store', {kind!r}, {options!r})\n"
        "store.open()\n"
        f"rows = versioned_rows(range({keys}), {version})\n"
        "print('writing', flush=True)\n"
        f"store.write({table!r}, rows)\n"
        "print('done', flush=True)\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(source), "PATH": "/usr/bin:/bin"},
    )
