"""The online feature store on SQLite and a real Redis: write path, materialize, ttl, feature vectors.

Every test runs on both backends. The consistency tests check, on seeded random data, that each online
vector equals the offline point-in-time join at "now" (the latest event within ttl).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import redis

import fti
from fti.errors import NotFoundError, ValidationError
from fti.features import FeatureGroup, FeatureView, OnlineWriteWarning

SRC = Path(__file__).resolve().parents[2] / "src"
BASE = datetime(2024, 1, 1, tzinfo=UTC)
NOW = BASE + timedelta(days=100)

Connect = Callable[..., fti.Project]


def _at(days: float) -> datetime:
    return BASE + timedelta(days=days)


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def online_settings(backend: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings that put the project's online store on ``backend`` (an emptied Redis database)."""
    if backend == "sqlite":
        return {}
    url = str(request.getfixturevalue("redis_url"))
    for database in (0, 1):
        redis.Redis.from_url(url[: url.rindex("/")] + f"/{database}").flushdb()
    return {"online_store.type": "redis", "online_store.url": url}


@pytest.fixture
def connect(project_dir: Path, online_settings: dict[str, Any]) -> Iterator[Connect]:
    opened: list[fti.Project] = []

    def open_project(**overrides: Any) -> fti.Project:
        project = fti.connect(project_dir, overrides={**online_settings, **overrides})
        opened.append(project)
        return project

    yield open_project
    for project in opened:
        project.close()


def _cards(
    project: fti.Project, *, ttl: timedelta | None = None, online: bool = True, name: str = "cards"
) -> FeatureGroup:
    return project.create_feature_group(name, primary_key=["cc_num"], event_time="ts", online=online, ttl=ttl)


def _rows(keys: list[int], days: list[float], amounts: list[float], countries: list[str] | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cc_num": pd.Series(keys, dtype="int64"),
            "ts": pd.Series([_at(day) for day in days], dtype="datetime64[us, UTC]"),
            "amount": pd.Series(amounts, dtype="float64"),
            "country": countries or ["DE"] * len(keys),
        }
    )


# -- write path ------------------------------------------------------------------------------------


def test_insert_writes_the_latest_row_per_key_whatever_the_arrival_order(connect: Connect) -> None:
    project = connect()
    cards = _cards(project)
    first = cards.insert(_rows([1, 1, 2], [5, 9, 3], [10.0, 90.0, 30.0]))
    assert first.online_keys == 2 and first.online_error is None
    view = project.create_feature_view("v", query=cards.select_all())
    assert view.get_feature_vector({"cc_num": 1}) == {"amount": 90.0, "country": "DE"}
    # An older event arriving later never overwrites the newer one; a newer one does.
    cards.insert(_rows([1, 2], [7, 4], [70.0, 40.0], ["FR", "FR"]))
    assert view.get_feature_vectors([{"cc_num": 1}, {"cc_num": 2}]) == [
        {"amount": 90.0, "country": "DE"},
        {"amount": 40.0, "country": "FR"},
    ]
    # Re-inserting the same (key, event time) replaces the row offline and online alike.
    cards.insert(_rows([1], [9], [99.0]))
    assert view.get_feature_vector({"cc_num": 1}, return_type="list") == [99.0, "DE"]


def test_streamed_insert_keeps_the_latest_row_across_batches(connect: Connect) -> None:
    project = connect()
    cards = _cards(project)
    frames = [_rows([1, 2], [1, 8], [1.0, 8.0]), _rows([1, 2], [6, 2], [6.0, 2.0]), _rows([1], [3], [3.0])]
    schema = pa.Table.from_pandas(frames[0], preserve_index=False).schema
    batches = [pa.RecordBatch.from_pandas(frame, schema=schema, preserve_index=False) for frame in frames]
    result = cards.insert(pa.RecordBatchReader.from_batches(schema, iter(batches)))
    assert result.online_keys == 2
    view = project.create_feature_view("v", query=cards.select(["amount"]))
    assert view.get_feature_vectors([{"cc_num": 1}, {"cc_num": 2}], return_type="list") == [[6.0], [8.0]]


def test_a_failed_online_write_is_reported_and_materialize_repairs_it(
    connect: Connect, backend: str, tmp_path: Path
) -> None:
    cards = _cards(connect())
    cards.insert(_rows([1], [1], [1.0]))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    broken = (
        {"online_store.path": str(blocker / "online.db")}
        if backend == "sqlite"
        else {"online_store.url": "redis://127.0.0.1:1/0"}
    )
    with pytest.warns(OnlineWriteWarning, match=r"committed 1 offline, but the online store was not updated") as caught:
        result = connect(**broken).get_feature_group("cards").insert(_rows([1, 2], [5, 5], [5.0, 6.0]))
    assert result.commit == 1 and result.rows_inserted == 2
    assert result.online_keys == 0
    assert result.online_error is not None and "Run materialize() on the feature group" in result.online_error
    assert "Run materialize()" in str(caught[0].message)
    project = connect()
    view = project.create_feature_view("v", query=project.get_feature_group("cards").select(["amount"]))
    assert view.get_feature_vectors([{"cc_num": 1}, {"cc_num": 2}], return_type="list") == [[1.0], [None]]
    assert project.get_feature_group("cards").materialize(show_progress=False) == 2
    assert view.get_feature_vectors([{"cc_num": 1}, {"cc_num": 2}], return_type="list") == [[5.0], [6.0]]


def test_materialize_loads_a_time_range_and_is_idempotent(connect: Connect) -> None:
    project = connect()
    cards = _cards(project, online=True)
    cards.insert(_rows([1, 2, 3], [1, 2, 3], [1.0, 2.0, 3.0]))
    project.online_store.delete_table("cards_1")
    assert cards.materialize(start=_at(2), end=_at(3), show_progress=False) == 1
    view = project.create_feature_view("v", query=cards.select(["amount"]))
    assert view.get_feature_vectors([{"cc_num": k} for k in (1, 2, 3)], return_type="list") == [[None], [2.0], [None]]
    assert cards.materialize(show_progress=False) == 3
    assert cards.materialize(show_progress=False) == 3
    assert view.get_feature_vectors([{"cc_num": k} for k in (1, 2, 3)], return_type="list") == [[1.0], [2.0], [3.0]]
    assert project.online_store.count("cards_1") == 3


def test_materialize_refuses_an_offline_group(connect: Connect) -> None:
    cards = _cards(connect(), online=False)
    cards.insert(_rows([1], [1], [1.0]))
    with pytest.raises(ValidationError, match=r"Feature group 'cards' v1 is not online: create a new version"):
        cards.materialize()


def test_the_online_store_opens_only_when_used(project_dir: Path, project: fti.Project) -> None:
    # embedded defaults: the SQLite file shows whether the online store was opened
    group = _cards(project, online=False)
    group.insert(_rows([1], [1], [1.0]))
    group.read()
    assert not (project_dir / ".fti" / "online.db").exists()
    _cards(project, name="served").insert(_rows([1], [1], [1.0]))
    assert (project_dir / ".fti" / "online.db").exists()


# -- ttl, missing entities, passed features ---------------------------------------------------------


def test_values_older_than_the_ttl_read_as_null(connect: Connect) -> None:
    project = connect()
    cards = _cards(project, ttl=timedelta(days=10))
    cards.insert(_rows([1, 2], [80, 95], [1.0, 2.0]))
    view = project.create_feature_view("v", query=cards.select_all())
    vectors = view.get_feature_vectors([{"cc_num": 1}, {"cc_num": 2}], return_type="list", now=NOW)
    assert vectors == [[None, None], [2.0, "DE"]]
    # Exactly at the ttl's edge a value is still served, as in the offline join.
    assert view.get_feature_vector({"cc_num": 1}, now=_at(90)) == {"amount": 1.0, "country": "DE"}
    assert view.get_feature_vector({"cc_num": 2}) == {"amount": None, "country": None}  # long after 2024


def test_missing_entities_give_nulls_or_raise(connect: Connect) -> None:
    project = connect()
    cards = _cards(project)
    cards.insert(_rows([1], [1], [1.0]))
    view = project.create_feature_view("v", query=cards.select_all())
    frame = view.get_feature_vectors(pd.DataFrame({"cc_num": [1, 42]}), return_type="pandas")
    assert list(frame.columns) == ["amount", "country"]
    assert frame["amount"].tolist()[0] == 1.0 and pd.isna(frame["amount"].tolist()[1])
    with pytest.raises(NotFoundError, match=r"Feature group 'cards' v1 has no online row for cc_num=42 .*allow_miss"):
        view.get_feature_vectors([{"cc_num": 1}, {"cc_num": 42}], allow_missing=False)


def test_passed_features_supply_and_override_values(connect: Connect) -> None:
    project = connect()
    cards = _cards(project)
    cards.insert(_rows([1], [1], [1.0]))
    view = project.create_feature_view("v", query=cards.select_all())
    assert view.get_feature_vector({"cc_num": 1}, passed_features={"amount": 5.5}) == {"amount": 5.5, "country": "DE"}
    assert view.get_feature_vector({"cc_num": 9}, passed_features={"country": "FR"}, return_type="list") == [
        None,
        "FR",
    ]
    rows = view.get_feature_vectors(
        [{"cc_num": 1}, {"cc_num": 1}], passed_features=[{"amount": 7.0}, {}], return_type="list"
    )
    assert rows == [[7.0, "DE"], [1.0, "DE"]]
    with pytest.raises(ValidationError, match=r"name 'velocity', which the view does not serve; its features are"):
        view.get_feature_vector({"cc_num": 1}, passed_features={"velocity": 1})


def test_request_errors_name_the_problem(connect: Connect) -> None:
    project = connect()
    cards = _cards(project)
    cards.insert(_rows([1], [1], [1.0]))
    view = project.create_feature_view("v", query=cards.select_all())
    with pytest.raises(ValidationError, match=r"Entity 0 for feature view 'v' v1 lacks key column 'cc_num'"):
        view.get_feature_vector({"card": 1})
    with pytest.raises(ValidationError, match=r"Key column 'cc_num' of feature view 'v' v1 must be int64, got str"):
        view.get_feature_vector({"cc_num": "1"})
    with pytest.raises(ValidationError, match=r"'cc_num' of feature view 'v' v1 must be int64, got large_string"):
        view.get_feature_vectors(pd.DataFrame({"cc_num": ["1"]}))
    with pytest.raises(ValidationError, match=r"Entities for feature view 'v' v1 lack key column 'cc_num'"):
        view.get_feature_vectors(pd.DataFrame({"card": [1]}))
    with pytest.raises(ValidationError, match=r"return_type must be one of dict, list, pandas"):
        view.get_feature_vector({"cc_num": 1}, return_type="json")  # type: ignore[arg-type]


def test_a_view_on_an_offline_group_names_it(connect: Connect) -> None:
    project = connect()
    cards = _cards(project)
    cards.insert(_rows([1], [1], [1.0]))
    history = _cards(project, online=False, name="history")
    history.insert(_rows([1], [1], [1.0]).rename(columns={"amount": "spent", "country": "origin"}))
    view = project.create_feature_view("v", query=cards.select_all().join(history.select(["spent"])))
    with pytest.raises(ValidationError, match=r"joins feature group 'history' v1, which is not online"):
        view.get_feature_vector({"cc_num": 1})


# -- consistency with the offline point-in-time join --------------------------------------------------


def _random_inserts(rng: np.random.Generator, keys: int, inserts: int) -> list[pd.DataFrame]:
    frames = []
    for _ in range(inserts):
        size = int(rng.integers(1, 3 * keys))
        frames.append(
            pd.DataFrame(
                {
                    "cc_num": rng.integers(0, keys, size).astype("int64"),
                    "merchant_id": rng.integers(0, 3, size).astype("int64"),
                    # whole days, so equal event times (replacements) and ttl edges both happen
                    "ts": pd.Series([_at(int(day)) for day in rng.integers(0, 101, size)], dtype="datetime64[us, UTC]"),
                    "amount": rng.integers(0, 1000, size).astype("float64"),
                    "country": rng.choice(["DE", "FR", "NL"], size),
                }
            )
        )
    return frames


def _consistent_view(project: fti.Project, rng: np.random.Generator, keys: int) -> FeatureView:
    labels = project.create_feature_group("labels", primary_key=["cc_num", "merchant_id"], event_time="ts")
    labels.insert(
        pd.DataFrame({"cc_num": [0], "merchant_id": [0], "ts": [BASE], "is_fraud": [True]}).astype(
            {"ts": "datetime64[us, UTC]"}
        )
    )
    cards = project.create_feature_group(
        "cards", primary_key=["cc_num"], event_time="ts", online=True, ttl=timedelta(days=30)
    )
    merchants = project.create_feature_group("merchants", primary_key=["merchant"], event_time="ts", online=True)
    for frame in _random_inserts(rng, keys, 4):  # out of order within and across inserts
        cards.insert(frame.drop(columns=["merchant_id"]))
    for frame in _random_inserts(rng, 3, 2):
        merchants.insert(
            frame.rename(columns={"merchant_id": "merchant", "amount": "score"}).drop(columns=["cc_num", "country"])
        )
    query = (
        labels.select(["is_fraud"])
        .join(cards.select(["country", "amount"]))
        .join(merchants.select(["score"]), on=["merchant_id"], prefix="m_")
    )
    return project.create_feature_view("fraud", query=query, labels=["is_fraud"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_online_vectors_equal_the_offline_join_at_now(connect: Connect, seed: int) -> None:
    project = connect()
    rng = np.random.default_rng(seed)
    keys = 12
    view = _consistent_view(project, rng, keys)
    entities = pd.DataFrame(
        {"cc_num": np.repeat(np.arange(keys + 2), 4), "merchant_id": np.tile(np.arange(4), keys + 2)}
    ).astype("int64")  # keys 12 and 13 and merchant 3 were never inserted
    spine = entities.assign(ts=pd.Timestamp(NOW), is_fraud=False)
    offline = view.get_training_data(spine)[["country", "amount", "m_score"]]
    online = view.get_feature_vectors(entities, return_type="pandas", now=NOW)
    assert list(online.columns) == ["country", "amount", "m_score"]
    pd.testing.assert_frame_equal(online, offline.reset_index(drop=True), check_dtype=False)
    singles = [view.get_feature_vector(row, now=NOW) for row in entities.head(8).to_dict("records")]
    assert singles == online.head(8).astype(object).where(online.head(8).notna(), None).to_dict("records")
    # Materializing again changes nothing.
    project.get_feature_group("cards").materialize(show_progress=False)
    pd.testing.assert_frame_equal(view.get_feature_vectors(entities, return_type="pandas", now=NOW), online)


# -- a materialization killed half-way ------------------------------------------------------------------

_MATERIALIZE = """
import sys, fti
project = fti.connect(sys.argv[1], overrides=dict(a.split("=", 1) for a in sys.argv[2:]))
project.get_feature_group("cards").materialize(show_progress=False, batch_rows=200)
"""


def test_a_killed_materialization_leaves_old_or_new_rows_and_completes_when_rerun(
    connect: Connect, project_dir: Path, backend: str, online_settings: dict[str, Any], tmp_path: Path
) -> None:
    keys = 60_000
    project = connect()
    cards = _cards(project)
    old = _rows(list(range(keys)), [1.0] * keys, [1.0] * keys)
    new = _rows(list(range(keys)), [2.0] * keys, [2.0] * keys, ["FR"] * keys)
    cards.insert(old)
    # The new rows reach the offline store and a scratch online store only: the real one keeps the old rows.
    scratch = (
        {"online_store.path": str(tmp_path / "scratch.db")}
        if backend == "sqlite"
        else {"online_store.url": str(online_settings["online_store.url"])[:-1] + "1"}
    )
    assert connect(**scratch).get_feature_group("cards").insert(new).online_keys == keys
    view = project.create_feature_view("v", query=cards.select_all())
    entities = pd.DataFrame({"cc_num": np.arange(keys, dtype="int64")})
    assert (view.get_feature_vectors(entities, return_type="pandas")["amount"] == 1.0).all()

    settings = [f"{key}={value}" for key, value in online_settings.items()]
    child = subprocess.Popen(
        [sys.executable, "-c", _MATERIALIZE, str(project_dir), *settings],
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    sample = pd.DataFrame({"cc_num": np.arange(0, keys, 7, dtype="int64")})
    deadline = time.monotonic() + 120
    while child.poll() is None and time.monotonic() < deadline:
        if (view.get_feature_vectors(sample, return_type="pandas")["amount"] == 2.0).any():
            break
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL, "materialization ended before it could be killed"

    frame = view.get_feature_vectors(entities, return_type="pandas")
    is_old = (frame["amount"] == 1.0) & (frame["country"] == "DE")
    is_new = (frame["amount"] == 2.0) & (frame["country"] == "FR")
    assert (is_old | is_new).all()
    assert 0 < is_new.sum() < keys
    assert project.get_feature_group("cards").materialize(show_progress=False) == keys
    frame = view.get_feature_vectors(entities, return_type="pandas")
    assert (frame["amount"] == 2.0).all() and (frame["country"] == "FR").all()
