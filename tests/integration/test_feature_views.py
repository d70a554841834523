"""Feature views and training datasets: queries, batch data, splits, rebuilds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import fti
from fti.errors import ConflictError, NotFoundError, ValidationError
from fti.features import FeatureGroup


def _day(day: int) -> datetime:
    return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=day)


def _groups(project: fti.Project, rows: int = 40) -> tuple[FeatureGroup, FeatureGroup]:
    labels = project.create_feature_group("labels", primary_key=["cc_num"], event_time="ts")
    cards = project.create_feature_group("cards", primary_key=["cc_num"], event_time="ts")
    index = np.arange(rows)
    labels.insert(
        pd.DataFrame(
            {
                "cc_num": index % 4,
                "ts": [_day(int(i)) for i in index],
                "is_fraud": (index % 3 == 0).astype("int64"),
                "note": "x",
            }
        )
    )
    cards.insert(
        pd.DataFrame({"cc_num": index % 4, "ts": [_day(int(i)) for i in index], "amount": index * 1.0, "country": "DE"})
    )
    return labels, cards


def _view(project: fti.Project) -> fti.features.FeatureView:
    labels, cards = _groups(project)
    query = labels.select(["is_fraud"]).join(cards.select_all())
    return project.create_feature_view("fraud", query=query, labels=["is_fraud"], description="fraud model")


def test_queries_select_and_validate(project: fti.Project) -> None:
    labels, cards = _groups(project)
    assert cards.select_all().columns() == ["cc_num", "ts", "amount", "country"]
    assert cards.select_except(["country"]).columns() == ["cc_num", "ts", "amount"]
    with pytest.raises(ValidationError, match="Feature group 'cards' v1 has no feature 'nope'; its features are"):
        cards.select(["nope"])
    with pytest.raises(ValidationError, match="has no feature 'cc_num'"):
        cards.select(["cc_num"])
    with pytest.raises(ValidationError, match="Column 'note' appears twice in the query; join feature group"):
        labels.select(["note"]).join(labels.select(["note"]))
    with pytest.raises(ValidationError, match=r"on=\['a', 'b'\] must name one spine column for each"):
        labels.select(["note"]).join(cards.select_all(), on=["a", "b"])
    with pytest.raises(ValidationError, match="the spine feature group 'labels' v1 has no column 'card'"):
        labels.select(["note"]).join(cards.select_all(), on=["card"])
    with pytest.raises(ValidationError, match="Invalid prefix"):
        labels.select(["note"]).join(cards.select_all(), prefix="x-")
    with pytest.raises(ValidationError, match="Select features of feature group 'cards' v1 as a list"):
        cards.select("amount")  # type: ignore[arg-type]


def test_create_and_get_feature_view(project: fti.Project) -> None:
    view = _view(project)
    loaded = project.get_feature_view("fraud")
    assert (loaded.name, loaded.version, loaded.labels, loaded.description) == ("fraud", 1, ["is_fraud"], "fraud model")
    assert loaded.query.columns() == ["cc_num", "ts", "is_fraud", "amount", "country"]
    pd.testing.assert_frame_equal(loaded.get_batch_data(), view.get_batch_data())
    assert [v.name for v in project.feature_views(search="FRAUD")] == ["fraud"]
    with pytest.raises(ConflictError, match="Feature view 'fraud' v1 already exists"):
        project.create_feature_view("fraud", query=view.query)
    with pytest.raises(NotFoundError, match="Feature view 'other' does not exist; known: fraud"):
        project.get_feature_view("other")
    with pytest.raises(ValidationError, match="label 'amount_x' is not a feature of the query"):
        project.create_feature_view("bad", query=view.query, labels=["amount_x"])
    with pytest.raises(ValidationError, match="Invalid feature view name"):
        project.create_feature_view("bad name", query=view.query)


def test_batch_data_window_and_order(project: fti.Project) -> None:
    view = _view(project)
    data = view.get_batch_data(start=_day(10), end=_day(20))
    assert len(data) == 10
    assert data["ts"].is_monotonic_increasing
    assert data["ts"].min() == pd.Timestamp(_day(10)) and data["ts"].max() == pd.Timestamp(_day(19))
    assert (data["amount"] == np.arange(10, 20) * 1.0).all()


def test_training_data_on_a_spine_keeps_its_order(project: fti.Project) -> None:
    view = _view(project)
    spine = pd.DataFrame(
        {"cc_num": [3, 0, 9], "ts": [_day(7), _day(0) - timedelta(hours=1), _day(5)], "label": [1, 2, 3]}
    )
    data = view.get_training_data(spine=spine)
    assert list(data.columns) == ["cc_num", "ts", "label", "is_fraud", "amount", "country"]
    assert data["label"].tolist() == [1, 2, 3]
    assert data["amount"].tolist()[0] == 7.0
    assert data[["amount", "is_fraud"]].iloc[1:].isna().all().all()
    with pytest.raises(ValidationError, match="The spine for feature view 'fraud' v1 has no column 'ts'"):
        view.get_training_data(spine=spine.drop(columns=["ts"]))


def test_time_split(project: fti.Project) -> None:
    view = _view(project)
    td = view.create_training_data(split={"train": 0.5, "validation": 0.25, "test": 0.25}, description="first")
    x_train, y_train = td.train
    x_validation, _ = td.validation
    x_test, y_test = td.test
    assert (len(x_train), len(x_validation), len(x_test)) == (20, 10, 10)
    assert list(x_train.columns) == ["amount", "country"]
    assert y_train.name == "is_fraud" and len(y_test) == 10
    frames = {name: td.read(name) for name in ("train", "validation", "test")}
    assert frames["train"]["ts"].max() <= frames["validation"]["ts"].min()
    assert frames["validation"]["ts"].max() <= frames["test"]["ts"].min()
    assert len(td.read()) == 40
    assert td.statistics["rows"] == 40
    assert td.sources == {"labels:1": 0, "cards:1": 0}
    assert view.get_training_dataset().version == 1


def test_random_split_is_reproducible_from_its_seed(project: fti.Project) -> None:
    view = _view(project)
    first = view.create_training_data(split={"train": 0.75, "test": 0.25}, split_by="random", seed=7)
    second = view.create_training_data(split={"train": 0.75, "test": 0.25}, split_by="random", seed=7)
    other = view.create_training_data(split={"train": 0.75, "test": 0.25}, split_by="random", seed=8)
    assert [td.version for td in view.training_datasets()] == [1, 2, 3]
    pd.testing.assert_frame_equal(first.read("test"), second.read("test"))
    assert not first.read("test").equals(other.read("test"))
    assert len(first.read("train")) == 30
    with pytest.raises(NotFoundError, match="has no split 'validation'; its splits are: train, test"):
        first.read("validation")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"split": {"train": 0.5, "test": 0.2}}, "add up to 1"),
        ({"split": {"train": 0.5, "holdout": 0.5}}, "Unknown split 'holdout'"),
        ({"split_by": "hash"}, "split_by must be 'time' or 'random', got 'hash'"),
    ],
)
def test_bad_splits_are_rejected(project: fti.Project, options: dict[str, object], message: str) -> None:
    view = _view(project)
    with pytest.raises(ValidationError, match=message):
        view.create_training_data(**options)  # type: ignore[arg-type]
    assert view.training_datasets() == []


def test_rebuild_is_identical_after_more_commits(project: fti.Project) -> None:
    view = _view(project)
    td = view.create_training_data(start=_day(4), end=_day(30), split={"train": 0.8, "test": 0.2}, split_by="random")
    original = td.read()
    labels = project.get_feature_group("labels")
    cards = project.get_feature_group("cards")
    cards.insert(pd.DataFrame({"cc_num": [0, 1], "ts": [_day(8), _day(9)], "amount": [-1.0, -2.0], "country": "FR"}))
    labels.insert(pd.DataFrame({"cc_num": [2], "ts": [_day(10)], "is_fraud": [1], "note": "y"}))
    assert not view.get_batch_data(start=_day(4), end=_day(30)).equals(original)
    reloaded = project.get_feature_view("fraud").get_training_dataset(td.version)
    reloaded.rebuild()
    pd.testing.assert_frame_equal(reloaded.read(), original)
    pd.testing.assert_frame_equal(reloaded.read("test"), td.read("test"))
    assert reloaded.sources == {"labels:1": 0, "cards:1": 0}
    newer = view.create_training_data(start=_day(4), end=_day(30))
    assert newer.sources == {"labels:1": 1, "cards:1": 1}


def _streamed(view: fti.features.FeatureView, start: datetime | None, end: datetime | None) -> pd.DataFrame:
    total, batches = view.batch_stream(view.latest_snapshots(), start, end, 4)
    frame = pa.Table.from_batches(list(batches)).to_pandas()
    assert len(frame) == total
    return frame


@pytest.mark.parametrize(
    ("start", "end"),
    [(None, None), (datetime(2024, 1, 3, tzinfo=UTC), None), (None, datetime(2024, 1, 5)), (_day(2), _day(4))],
)
def test_batch_stream_of_one_group_equals_the_sorted_join(
    project: fti.Project, start: datetime | None, end: datetime | None
) -> None:
    from tests.integration.feature_data import cards_frame

    cards = project.create_feature_group("cards", primary_key=["cc_num"], event_time="ts")
    cards.insert(cards_frame(0, 5))
    cards.insert(cards_frame(5, 5))  # appended: no repeated keys, so Arrow scans it
    view = project.create_feature_view("cards", query=cards.select_all())
    assert view._reader.scan_stream(view.latest_snapshots(), start, end, 4) is not None
    expected = view.batch_table(view.latest_snapshots(), start, end).to_pandas()
    streamed = _streamed(view, start, end).sort_values(["ts", "cc_num"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(streamed, expected)
    cards.insert(cards_frame(2, 2).assign(amount=-1.0))  # replaces rows: resolved by the DuckDB path
    assert view._reader.scan_stream(view.latest_snapshots(), start, end, 4) is None
    expected = view.batch_table(view.latest_snapshots(), start, end).to_pandas()
    streamed = _streamed(view, start, end).sort_values(["ts", "cc_num"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(streamed, expected)


def _narrowed(view: fti.features.FeatureView, features: list[str]) -> pd.DataFrame:
    total, batches = view.batch_stream(view.latest_snapshots(), None, None, 7, features)
    frame = pa.Table.from_batches(list(batches)).to_pandas()
    assert len(frame) == total
    return frame.sort_values(["ts", "cc_num"]).reset_index(drop=True)


@pytest.mark.parametrize("features", [["amount"], ["is_fraud"], ["country", "amount"]])
def test_batch_stream_reads_only_the_features_asked_for(project: fti.Project, features: list[str]) -> None:
    view = _view(project)  # labels joined with cards: the DuckDB path
    full = view.batch_table(view.latest_snapshots(), None, None).to_pandas()
    narrowed = _narrowed(view, features)
    expected = [
        name for name in ["cc_num", "ts", "is_fraud", "amount", "country"] if name in {"cc_num", "ts", *features}
    ]
    assert list(narrowed.columns) == expected
    pd.testing.assert_frame_equal(narrowed, full[expected])
    cards = project.get_feature_group("cards")
    alone = project.create_feature_view("cards_only", query=cards.select_all())  # one group: the Arrow scan
    assert alone._reader.scan_stream(alone.latest_snapshots(), None, None, 7) is not None
    whole = alone.batch_table(alone.latest_snapshots(), None, None).to_pandas()
    kept = [name for name in ["cc_num", "ts", "amount", "country"] if name in {"cc_num", "ts", *features}]
    pd.testing.assert_frame_equal(_narrowed(alone, features), whole[kept])
