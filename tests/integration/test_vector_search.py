"""Vector columns in feature groups and find_neighbors, online on SQLite and on a real Redis, and offline.

On seeded random vectors (with keys rewritten by a later insert, rows without a vector and exact ties),
the online top-k, the offline DuckDB top-k and a brute-force NumPy top-k over the latest row per key
give the same keys in the same order, with the same scores.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import redis

import fti
from fti.errors import ValidationError
from fti.features import FeatureGroup

BASE = datetime(2026, 1, 1, tzinfo=UTC)
DIMENSION = 24
COUNT = 1500


@pytest.fixture(params=["sqlite", "redis"])
def project(request: pytest.FixtureRequest, project_dir: Path) -> Iterator[fti.Project]:
    settings: dict[str, Any] = {}
    if request.param == "redis":
        url = str(request.getfixturevalue("redis_url"))
        redis.Redis.from_url(url).flushdb()
        settings = {"online_store.type": "redis", "online_store.url": url}
    with fti.connect(project_dir, overrides=settings) as opened:
        yield opened


def _documents(keys: np.ndarray, seconds: float, rng: np.random.Generator) -> pa.Table:
    values = rng.standard_normal((len(keys), DIMENSION)).astype(np.float32)
    mask = pa.array(keys % 97 == 5)  # some documents have no vector
    return pa.table(
        {
            "doc_id": pa.array(keys, pa.int64()),
            "ts": pa.array([BASE + timedelta(seconds=seconds)] * len(keys), pa.timestamp("us", tz="UTC")),
            "lang": pa.array(np.where(keys % 3 == 0, "de", "en")),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), DIMENSION, mask=mask),
        }
    )


def _loaded(project: fti.Project) -> tuple[FeatureGroup, pd.DataFrame]:
    """A group of COUNT documents, a tenth rewritten later, and its latest row per key."""
    rng = np.random.default_rng(21)
    docs = project.create_feature_group("docs", primary_key=["doc_id"], event_time="ts", online=True)
    first = _documents(np.arange(COUNT), 0, rng)
    later = _documents(np.arange(0, COUNT, 10), 60, rng)
    docs.insert(first)
    docs.insert(later)
    latest = pd.concat([first.to_pandas(), later.to_pandas()]).drop_duplicates("doc_id", keep="last")
    return docs, latest.sort_values("doc_id").reset_index(drop=True)


def _brute_force(latest: pd.DataFrame, query: np.ndarray, k: int, lang: str | None = None) -> list[int]:
    rows = latest[latest["embedding"].notna()]
    if lang is not None:
        rows = rows[rows["lang"] == lang]
    matrix = np.stack(rows["embedding"].to_numpy()).astype(np.float64)
    scores = matrix @ query / np.linalg.norm(matrix, axis=1) / np.linalg.norm(query)
    order = np.lexsort((rows["doc_id"].to_numpy(), -scores))  # by score, then by key
    return [int(key) for key in rows["doc_id"].to_numpy()[order[:k]]]


def test_online_offline_and_brute_force_give_the_same_top_k(project: fti.Project) -> None:
    docs, latest = _loaded(project)
    rng = np.random.default_rng(7)
    for _ in range(3):
        query = rng.standard_normal(DIMENSION)
        online = docs.find_neighbors(query, k=10)
        offline = docs.find_neighbors(query, k=10, online=False)
        expected = _brute_force(latest, query, 10)
        assert online["doc_id"].tolist() == offline["doc_id"].tolist() == expected
        np.testing.assert_allclose(online["score"], offline["score"], atol=1e-5)
        assert list(online.columns) == ["doc_id", "lang", "score"]
    query = rng.standard_normal(DIMENSION)
    filtered = docs.find_neighbors(query, k=7, filter={"lang": "de"})
    assert filtered["doc_id"].tolist() == _brute_force(latest, query, 7, "de")
    assert (
        filtered["doc_id"].tolist()
        == docs.find_neighbors(query, k=7, filter={"lang": ["de"]}, online=False)["doc_id"].tolist()
    )


def test_the_online_row_is_the_latest_and_ties_go_to_the_smaller_key(project: fti.Project) -> None:
    docs, latest = _loaded(project)
    stored = docs.find_neighbors(np.ones(DIMENSION), k=COUNT)
    assert len(stored) == latest["embedding"].notna().sum()  # rows without a vector are never neighbours
    twin = latest.loc[latest["doc_id"] == 20, "embedding"].iloc[0]  # rewritten by the later insert
    tied = pa.table(
        {
            "doc_id": pa.array([900, 30, 2000], pa.int64()),
            "ts": pa.array([BASE + timedelta(minutes=5)] * 3, pa.timestamp("us", tz="UTC")),
            "lang": ["en"] * 3,
            "embedding": pa.array([list(twin)] * 3, pa.list_(pa.float32(), DIMENSION)),
        }
    )
    docs.insert(tied)
    for online in (True, False):
        found = docs.find_neighbors(twin, k=4, online=online)
        assert found["doc_id"].tolist() == [20, 30, 900, 2000]
        np.testing.assert_allclose(found["score"], 1.0, atol=1e-6)


def test_a_feature_view_searches_its_vector_feature(project: fti.Project) -> None:
    docs, latest = _loaded(project)
    view = project.create_feature_view("search", query=docs.select(["lang", "embedding"]))
    query = np.random.default_rng(3).standard_normal(DIMENSION)
    found = view.find_neighbors(query, k=5, filter={"lang": "en"})
    assert found["doc_id"].tolist() == _brute_force(latest, query, 5, "en")
    assert list(found.columns) == ["doc_id", "lang", "score"]
    with pytest.raises(ValidationError, match=r"filter on \['missing'\]"):
        view.find_neighbors(query, k=5, filter={"missing": 1})


def test_lists_from_pandas_fill_a_vector_column_and_other_dimensions_are_refused(project: fti.Project) -> None:
    docs, _ = _loaded(project)
    commits = len(docs.commits())
    rows = pd.DataFrame(
        {
            "doc_id": [5000, 5001, 5002],
            "ts": pd.Series([BASE + timedelta(hours=1)] * 3, dtype="datetime64[us, UTC]"),
            "lang": ["en"] * 3,
            "embedding": [np.full(DIMENSION, 0.5, np.float32)] * 3,
        }
    )
    docs.insert(rows)  # list<float> from pandas, cast to the group's fixed-size vectors
    assert docs.find_neighbors(np.full(DIMENSION, 0.5), k=1)["doc_id"].tolist() == [5000]
    rows["doc_id"] += 10
    rows.at[2, "embedding"] = np.zeros(DIMENSION - 1, np.float32)
    with pytest.raises(ValidationError, match=rf"'embedding' holds vectors of {DIMENSION} dimensions, but row 2 has"):
        docs.insert(rows)
    assert len(docs.commits()) == commits + 1
    assert 5012 not in docs.read()["doc_id"].tolist()
    with pytest.raises(ValidationError, match=rf"{DIMENSION} dimensions, but the query has shape \(3,\)"):
        docs.find_neighbors([1.0, 2.0, 3.0], k=1)


def test_images_are_stored_offline_and_refused_online_saying_what_to_store(project: fti.Project) -> None:
    images = pa.table(
        {
            "image_id": pa.array([1, 2], pa.int64()),
            "ts": pa.array([BASE, BASE], pa.timestamp("us", tz="UTC")),
            "image": pa.array([b"\x89PNG\r\n\x1a\n\x00\xff", b"\xff\xd8\xff\xe0"], pa.binary()),
        }
    )
    offline = project.create_feature_group("images", primary_key=["image_id"], event_time="ts")
    offline.insert(images)
    assert offline.read()["image"].tolist() == images["image"].to_pylist()
    online = project.create_feature_group("images_online", primary_key=["image_id"], event_time="ts", online=True)
    with pytest.raises(ValidationError, match=r"column 'image' has type binary.*object-store key or URL.*embedding"):
        online.insert(images)
    with pytest.raises(ValidationError, match=r"column 'image' has type binary"):
        project.create_feature_group(
            "images_declared", primary_key=["image_id"], event_time="ts", online=True, schema=images.schema
        )


def test_search_arguments_are_checked(project: fti.Project) -> None:
    docs, _ = _loaded(project)
    with pytest.raises(ValidationError, match="k must be a whole number from 1 up"):
        docs.find_neighbors(np.ones(DIMENSION), k=0)
    with pytest.raises(ValidationError, match="column 'lang' is not a vector column"):
        docs.find_neighbors(np.ones(DIMENSION), column="lang")
    with pytest.raises(ValidationError, match="filter column 'nope' does not exist"):
        docs.find_neighbors(np.ones(DIMENSION), filter={"nope": 1})
    with pytest.raises(ValidationError, match="zero or not finite"):
        docs.find_neighbors(np.zeros(DIMENSION))
    offline_only = project.create_feature_group("offline_docs", primary_key=["doc_id"], event_time="ts")
    offline_only.insert(_documents(np.arange(20), 0, np.random.default_rng(1)))
    with pytest.raises(ValidationError, match=r"is not online: search it offline with find_neighbors\(\.\.\., online="):
        offline_only.find_neighbors(np.ones(DIMENSION))
    assert len(offline_only.find_neighbors(np.ones(DIMENSION), k=3, online=False)) == 3
