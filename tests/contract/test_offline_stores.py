"""The offline-store contract on a local folder and on a real S3 API server."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fti.backends.kinds import create_backend
from fti.backends.offline import delta
from fti.backends.ports import OfflineStore
from fti.errors import ValidationError
from fti.testing.offline_store import OfflineStoreContract


@pytest.fixture(params=["local", "s3"])
def offline_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OfflineStore]:
    if request.param == "local":
        store = create_backend("offline_store", "local", {"uri": str(tmp_path / "offline")})
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = request.getfixturevalue("s3_bucket")
        store = create_backend("offline_store", "s3", {"uri": f"s3://{bucket}/proj", "endpoint_url": endpoint})
    store.open()
    yield store
    store.close()


class TestOfflineStores(OfflineStoreContract):
    pass


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("relative/folder", "the folder must be an absolute path"),
        ("s3:///prefix", "expected s3://bucket/prefix"),
        ("gs://bucket/x", "expected a folder or s3://bucket/prefix"),
    ],
)
def test_bad_uris_are_rejected(uri: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        create_backend("offline_store", "local", {"uri": uri})


def _reader(table: pa.Table) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=1_000))


def _rows(first: int, count: int) -> pa.Table:
    ids = list(range(first, first + count))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "ts": pa.array([1_700_000_000_000_000 + i for i in ids], pa.timestamp("us", tz="UTC")),
            "amount": pa.array([None if i % 7 == 0 else i / 3 for i in ids], pa.float64()),
            "name": pa.array([None if i % 5 == 0 else f"n{i % 3}" for i in ids], pa.string()),
        }
    )


def test_an_append_is_encoded_by_pyarrow_and_keeps_what_deletes_prune_by(
    offline_store: OfflineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # appends to an existing table write Parquet with pyarrow (a third of the driver writer's CPU) and commit it
    # as a Delta transaction: same rows back, files of the target size, each with its integer columns' bounds
    monkeypatch.setattr(delta, "TARGET_FILE_BYTES", 20_000)
    monkeypatch.setattr(delta, "_ROW_GROUP_BYTES", 8_000)
    offline_store.write("t", _reader(_rows(0, 1_000)))
    assert offline_store.write("t", _reader(_rows(1_000, 5_000))) == 1
    added = offline_store.added("t", 1)
    assert len(added.files) > 2, "the append rolled over to new files at the target size"
    for path in added.files:
        metadata = pq.ParquetFile(added.filesystem.open_input_file(path)).metadata
        assert metadata.created_by.startswith("parquet-cpp-arrow")
        chunks = [metadata.row_group(0).column(index) for index in range(metadata.num_columns)]
        assert [chunk.dictionary_page_offset is None for chunk in chunks] == [False, False, True, False]
    stored = offline_store.read("t").to_table().sort_by("id")
    assert stored.equals(pa.concat_tables([_rows(0, 1_000), _rows(1_000, 5_000)]))
    ranges = offline_store.value_ranges("t", "id").sort_by("min")
    assert ranges.column("min").to_pylist()[0] == 0 and ranges.column("max").to_pylist()[-1] == 5_999
    assert None not in ranges.column("min").to_pylist() + ranges.column("max").to_pylist()
    assert offline_store.delete_rows("t", "id", [3, 4_321]) == 2
    assert offline_store.read("t").to_table().num_rows == 5_998


def _add_stats(log_folder: Path) -> list[dict[str, object]]:
    found = []
    for entry in sorted(log_folder.glob("*.json")):
        for line in entry.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                found.append(json.loads(action["add"]["stats"]))
    return found


def test_the_bounds_of_an_append_are_written_as_the_delta_driver_writes_them(tmp_path: Path) -> None:
    # integer, float, boolean, date and timestamp bounds (what readers prune files by) in the driver's own
    # format: timestamps to the millisecond, before the epoch too; floats without NaN, an infinite bound as
    # null, -0.0 kept, float32 widened exactly; an all-NaN column without bounds; text carries null counts only
    from deltalake import write_deltalake

    nan, inf = float("nan"), float("inf")
    table = pa.table(
        {
            "id": pa.array([3, -2, None], pa.int64()),
            "day": pa.array([date(2024, 1, 1), date(1969, 3, 1), None]),
            "at": pa.array(
                [datetime(1969, 12, 31, 23, 59, 59, 999_500, UTC), datetime(2024, 1, 2, 0, 0, 0, 999_999, UTC), None],
                pa.timestamp("us", tz="UTC"),
            ),
            "local": pa.array([datetime(2024, 1, 1, 0, 0, 0, 999_999), None, None], pa.timestamp("us")),
            "amount": pa.array([1.5, None, 2.5]),
            "with_nan": pa.array([nan, -0.0, 2.25]),
            "unbounded": pa.array([inf, 1.0, -3.0]),
            "only_nan": pa.array([nan, nan, None]),
            "small": pa.array([0.1, None, 0.3], pa.float32()),
            "flag": pa.array([True, None, True]),
            "name": pa.array(["b", None, "a"]),
        }
    )
    store = create_backend("offline_store", "local", {"uri": str(tmp_path / "store")})
    store.open()
    store.write("t", _reader(table))
    store.write("t", _reader(table))
    write_deltalake(str(tmp_path / "driver"), table)
    ours = _add_stats(tmp_path / "store" / "t" / "_delta_log")
    (driver,) = _add_stats(tmp_path / "driver" / "_delta_log")
    assert len(ours) == 2
    assert driver["minValues"]["with_nan"] == 0.0 and math.copysign(1, driver["minValues"]["with_nan"]) == -1  # type: ignore[index]
    assert driver["maxValues"]["unbounded"] is None  # type: ignore[index]
    for stats in ours:
        assert stats["numRecords"] == 3
        assert stats["nullCount"] == driver["nullCount"]
        for side in ("minValues", "maxValues"):
            expected = {name: value for name, value in driver[side].items() if name != "name"}  # type: ignore[union-attr]
            assert stats[side] == expected
            assert "only_nan" not in stats[side]
        assert math.copysign(1, stats["minValues"]["with_nan"]) == -1  # type: ignore[index]
