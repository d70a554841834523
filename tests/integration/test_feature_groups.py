"""Feature groups: creation, inserts of every input kind, validation, idempotence, time travel, statistics."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import fti
from fti.errors import ConflictError, NotFoundError, ValidationError
from fti.features import FeatureGroup
from tests.integration.feature_data import amount_is_round, cards_frame


def _cards(project: fti.Project, **options: object) -> FeatureGroup:
    return project.create_feature_group(
        "cards", primary_key=["cc_num"], event_time="ts", description="card activity", **options
    )


def _same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(left.reset_index(drop=True), right.reset_index(drop=True), check_dtype=False)


def test_create_get_and_search(project: fti.Project) -> None:
    cards = _cards(project, tags={"team": "risk"}, ttl=timedelta(days=3), online=True)
    cards.insert(cards_frame())
    project.create_feature_group("cards", version=2, primary_key=["cc_num"], event_time="ts")
    project.create_feature_group("labels", primary_key=["cc_num"], event_time="ts", description="fraud labels")
    assert project.get_feature_group("cards").version == 2
    loaded = project.get_feature_group("cards", version=1)
    assert (loaded.primary_key, loaded.event_time, loaded.ttl, loaded.online) == (
        ["cc_num"],
        "ts",
        timedelta(days=3),
        True,
    )
    assert loaded.schema == [
        ("cc_num", "int64"),
        ("ts", "timestamp[us, tz=UTC]"),
        ("amount", "double"),
        ("country", "string"),
    ]
    assert loaded.features == ["amount", "country"]
    assert [(g.name, g.version) for g in project.feature_groups(search="risk")] == [("cards", 1)]
    assert [(g.name, g.version) for g in project.feature_groups(search="AMOUNT")] == [("cards", 1)]
    assert [g.name for g in project.feature_groups(search="fraud")] == ["labels"]
    assert len(project.feature_groups()) == 3


def test_create_existing_version_conflicts(project: fti.Project) -> None:
    _cards(project)
    with pytest.raises(ConflictError, match=r"Feature group 'cards' v1 already exists: .*create version 2"):
        _cards(project)


def test_missing_group_is_not_found(project: fti.Project) -> None:
    _cards(project)
    with pytest.raises(NotFoundError, match="Feature group 'nope' does not exist; known: cards"):
        project.get_feature_group("nope")
    with pytest.raises(NotFoundError, match="Feature group 'cards' v7 does not exist"):
        project.get_feature_group("cards", version=7)


@pytest.mark.parametrize("name", ['x"; DROP TABLE feature_groups; --', "1abc", "a-b", "", "a" * 64])
def test_hostile_names_are_rejected(project: fti.Project, name: str) -> None:
    with pytest.raises(ValidationError, match="Invalid feature group name"):
        project.create_feature_group(name, primary_key=["k"], event_time="ts")
    with pytest.raises(ValidationError, match="Invalid primary key column"):
        project.create_feature_group("ok", primary_key=[name], event_time="ts")
    assert project.feature_groups() == []


def test_hostile_column_in_data_is_rejected(project: fti.Project) -> None:
    cards = _cards(project)
    frame = cards_frame().rename(columns={"amount": 'amount"; DROP TABLE x; --'})
    with pytest.raises(ValidationError, match="are not identifiers"):
        cards.insert(frame)
    assert cards.commits() == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"primary_key": "cc_num", "event_time": "ts"}, "primary_key must be a non-empty list"),
        ({"primary_key": ["ts"], "event_time": "ts"}, "must not include the event time 'ts'"),
        ({"primary_key": ["k"], "event_time": "ts", "ttl": timedelta(0)}, "ttl must be a positive timedelta"),
        ({"primary_key": ["k"], "event_time": "ts", "expectations": ["not_null"]}, "built with fti.expect"),
    ],
)
def test_bad_settings_are_rejected(project: fti.Project, options: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        project.create_feature_group("g", **options)  # type: ignore[arg-type]


def test_insert_every_input_kind(project: fti.Project) -> None:
    cards = _cards(project)
    frames = [cards_frame(i * 6) for i in range(6)]
    table = pa.Table.from_pandas(frames[2], preserve_index=False)
    results = [
        cards.insert(frames[0]),
        cards.insert(pl.from_pandas(frames[1])),
        cards.insert(table),
        cards.insert(pa.Table.from_pandas(frames[3], preserve_index=False).to_reader(max_chunksize=2)),
        cards.insert(iter(pa.Table.from_pandas(frames[4], preserve_index=False).to_batches(max_chunksize=4))),
        cards.insert(pa.RecordBatch.from_pandas(frames[5], preserve_index=False)),
    ]
    assert [r.commit for r in results] == [0, 1, 2, 3, 4, 5]
    assert all(r.rows_inserted == 6 and r.rows_replaced == 0 for r in results)
    _same(cards.read(), pd.concat(frames))


def test_unsupported_input_is_rejected(project: fti.Project) -> None:
    cards = _cards(project)
    with pytest.raises(ValidationError, match="cannot insert a dict; pass a pandas or Polars DataFrame"):
        cards.insert({"cc_num": [1]})
    with pytest.raises(ValidationError, match="must yield pyarrow RecordBatches, got DataFrame"):
        cards.insert([cards_frame()])


def test_safe_widening_is_applied(project: fti.Project) -> None:
    cards = _cards(project)
    cards.insert(cards_frame())
    narrow = cards_frame(6).astype({"cc_num": "int32", "amount": "float32"})
    cards.insert(narrow)
    assert cards.read()["cc_num"].dtype == np.int64
    assert len(cards.read()) == 12


def test_polars_strings_and_nanosecond_times_normalize(project: fti.Project) -> None:
    cards = _cards(project)
    cards.insert(pl.from_pandas(cards_frame()))
    frame = cards_frame(6)
    frame["country"] = frame["country"].astype("category")
    cards.insert(frame)
    assert cards.schema is not None and ("country", "string") in cards.schema


BAD_INSERTS = [
    (lambda f: f.drop(columns=["amount"]), r"column 'amount' \(double\) is missing"),
    (lambda f: f.assign(extra=1), r"column 'extra' \(int64\) is not in the schema"),
    # numbers as text (CSV, JSON) are parsed; the first value that does not parse is named
    (
        lambda f: f.assign(amount=f["amount"].astype(str).where(f.index != 2, "60 EUR")),
        r"Column 'amount' cannot be stored as double: its value '60 EUR' does not fit",
    ),
    (lambda f: f.assign(amount=f["ts"]), r"column 'amount' expects double, got timestamp\[us, tz=UTC\]"),
    (lambda f: f.assign(cc_num=f["cc_num"].astype(float)), "column 'cc_num' expects int64, got double"),
    (
        lambda f: f.assign(cc_num=pd.array([1, None, 2, 1, None, 2], dtype="Int64")),
        r"key column 'cc_num' is null in 2 row\(s\) of this batch \(rows 1, 4\)",
    ),
    (
        lambda f: f.assign(ts=f["ts"].where(f.index != 3)),
        r"key column 'ts' is null in 1 row\(s\) of this batch \(rows 3\)",
    ),
]


@pytest.mark.parametrize(("change", "message"), BAD_INSERTS)
def test_bad_inserts_leave_the_group_unchanged(project: fti.Project, change: object, message: str) -> None:
    cards = _cards(project)
    cards.insert(cards_frame())
    before = cards.read()
    with pytest.raises(ValidationError, match=message):
        cards.insert(change(cards_frame(6)))  # type: ignore[operator]
    _same(cards.read(), before)
    assert [c.commit for c in cards.commits()] == [0]
    assert cards.insert(cards_frame(6)).commit == 1


def test_bad_first_insert_leaves_no_schema(project: fti.Project) -> None:
    cards = _cards(project)
    with pytest.raises(ValidationError, match=r"the data has no column 'ts'"):
        cards.insert(cards_frame().drop(columns=["ts"]))
    with pytest.raises(ValidationError, match="event time column 'ts' must be a timestamp or a date, got string"):
        cards.insert(cards_frame().assign(ts="2024-01-01"))
    assert cards.schema is None
    assert cards.commits() == []


def test_error_in_a_late_batch_commits_nothing(project: fti.Project) -> None:
    cards = _cards(project)
    cards.insert(cards_frame())
    table = pa.Table.from_pandas(cards_frame(6, rows=30), preserve_index=False)
    keys = table.column("cc_num").to_pylist()
    keys[25] = None
    broken = table.set_column(0, "cc_num", pa.array(keys, pa.int64()))
    with pytest.raises(ValidationError, match=r"key column 'cc_num' is null in 1 row\(s\) of this batch \(rows 25\)"):
        cards.insert(broken.to_reader(max_chunksize=5))
    assert len(cards.read()) == 6


def test_retried_insert_replaces_instead_of_duplicating(project: fti.Project) -> None:
    cards = _cards(project)
    first = cards.insert(cards_frame())
    again = cards.insert(cards_frame())
    assert (first.rows_inserted, first.rows_replaced) == (6, 0)
    assert (again.rows_inserted, again.rows_replaced) == (0, 6)
    _same(cards.read(), cards_frame())
    changed = cards_frame(4).assign(amount=-1.0)
    result = cards.insert(changed)
    assert (result.rows_inserted, result.rows_replaced) == (4, 2)
    expected = pd.concat([cards_frame(0, 4), changed]).reset_index(drop=True)
    _same(cards.read(), expected)


def test_replaced_rows_are_counted_when_event_times_overlap_and_zero_when_appending(project: fti.Project) -> None:
    cards = _cards(project)
    cards.insert(cards_frame(0, 3))
    later = cards.insert(cards_frame(3, 3))  # event times after every stored one: no join needed
    assert (later.rows_inserted, later.rows_replaced) == (3, 0)
    repeated = cards.insert(pd.concat([cards_frame(1, 1), cards_frame(4, 1)]).assign(amount=5.0))
    assert (repeated.rows_inserted, repeated.rows_replaced) == (0, 2)
    expected = cards_frame(0, 6)
    expected.loc[[1, 4], "amount"] = 5.0
    _same(cards.read(), expected)


def test_duplicate_keys_within_an_insert_keep_the_last_row(project: fti.Project) -> None:
    cards = _cards(project)
    frame = pd.concat([cards_frame(0, 2), cards_frame(0, 2).assign(amount=99.0)])
    cards.insert(frame)
    _same(cards.read(), cards_frame(0, 2).assign(amount=99.0))
    assert cards.statistics()["duplicate_keys"] == 2


def test_time_travel_by_commit_and_timestamp(project: fti.Project) -> None:
    cards = _cards(project)
    cards.insert(cards_frame(0, 3))
    cards.insert(cards_frame(3, 3))
    cards.insert(cards_frame(0, 1).assign(amount=7.0))
    commits = cards.commits()
    assert [c.commit for c in commits] == [0, 1, 2]
    assert [c.rows_inserted + c.rows_replaced for c in commits] == [3, 3, 1]
    _same(cards.read(as_of=0), cards_frame(0, 3))
    _same(cards.read(as_of=1), cards_frame(0, 6))
    assert cards.read()["amount"].iloc[0] == 7.0
    _same(cards.read(as_of=commits[1].committed_at), cards_frame(0, 6))
    _same(cards.read(as_of=commits[0].committed_at + timedelta(microseconds=1)), cards_frame(0, 3))
    with pytest.raises(NotFoundError, match="Feature group 'cards' v1 has no commit 9; its commits are: 0, 1, 2"):
        cards.read(as_of=9)
    with pytest.raises(NotFoundError, match="has no commit at or before 2000-01-01"):
        cards.read(as_of=datetime(2000, 1, 1, tzinfo=UTC))
    with pytest.raises(ValidationError, match="as_of must be a commit number or a datetime, got str"):
        cards.read(as_of="latest")  # type: ignore[arg-type]


def test_statistics_per_commit(project: fti.Project) -> None:
    cards = _cards(project)
    cards.insert(cards_frame(0, 10).assign(amount=lambda f: f["amount"].where(f.index != 0)))
    stats = cards.statistics()
    assert stats["rows"] == 10
    amount = stats["columns"]["amount"]
    assert (amount["count"], amount["nulls"], amount["min"], amount["max"]) == (9, 1, 10.0, 90.0)
    assert amount["mean"] == pytest.approx(50.0)
    assert len(amount["quantiles"]) == 3
    assert sum(amount["histogram"]["counts"]) == 9
    country = stats["columns"]["country"]
    assert country["distinct"] == 2 and set(country["top"]) == {"DE", "FR"}
    assert stats["columns"]["ts"]["min"].startswith("2024-01-01")
    cards.insert(cards_frame(20, 2))
    assert cards.statistics()["rows"] == 2
    assert cards.statistics(commit=0)["rows"] == 10
    assert cards.commits()[0].statistics == stats
    with pytest.raises(NotFoundError, match="has no commit 5; its commits are: 0, 1"):
        cards.statistics(commit=5)
    with pytest.raises(ValidationError, match="scope must be 'commit' or 'feature_group', got 'all'"):
        cards.statistics(scope="all")  # type: ignore[arg-type]


def test_feature_group_statistics_cover_all_visible_rows(project: fti.Project) -> None:
    cards = _cards(project)
    cards.insert(cards_frame(0, 4))
    cards.insert(cards_frame(0, 2).assign(amount=100.0))
    whole = cards.statistics(scope="feature_group")
    assert whole["rows"] == 4
    assert whole["columns"]["amount"]["max"] == 100.0
    assert whole["columns"]["amount"]["min"] == 20.0
    assert cards.commits()[-1].group_statistics == whole
    at_first = cards.statistics(0, scope="feature_group")
    assert (at_first["rows"], at_first["columns"]["amount"]["max"]) == (4, 30.0)
    assert cards.statistics()["rows"] == 2


def test_statistics_before_any_commit(project: fti.Project) -> None:
    cards = _cards(project)
    with pytest.raises(NotFoundError, match="Feature group 'cards' v1 has no commits yet: insert data first"):
        cards.statistics()


def test_expectations_report_every_failure(project: fti.Project) -> None:
    cards = _cards(
        project,
        expectations=[
            fti.expect.not_null("amount"),
            fti.expect.between("amount", 0, 50),
            fti.expect.in_set("country", ["DE"]),
            fti.expect.matches("country", "[A-Z]{2}"),
            fti.expect.unique("amount"),
            fti.expect.custom("round_amounts", amount_is_round),
        ],
    )
    cards.insert(cards_frame(0, 1))
    bad = cards_frame(0, 8).assign(amount=[1.0, 10, 10, None, 60, 70, 20, 30], country=["DE"] * 7 + ["de"])
    with pytest.raises(ValidationError) as caught:
        cards.insert(pa.Table.from_pandas(bad, preserve_index=False).to_reader(max_chunksize=3))
    message = str(caught.value)
    assert "6 expectation(s) failed, nothing was written" in message
    assert "not_null('amount') failed for 1 row(s), e.g. row 3:" in message
    assert "between('amount', 0, 50) failed for 2 row(s), e.g. row 4:" in message
    assert "in_set('country', ['DE']) failed for 1 row(s), e.g. row 7:" in message
    assert "matches('country', '[A-Z]{2}') failed for 1 row(s)" in message
    assert "unique('amount') failed for 2 row(s), e.g. row 1: {'amount': 10.0}" in message
    assert "custom('round_amounts') failed for 2 row(s), e.g. row 0:" in message
    assert len(cards.read()) == 1
    assert len(project.get_feature_group("cards").expectations) == 6


def test_custom_expectation_must_be_importable(project: fti.Project) -> None:
    with pytest.raises(ValidationError, match="must be a module-level function"):
        fti.expect.custom("positive", lambda frame: frame["amount"] > 0)
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        fti.expect.matches("x", "[")
    with pytest.raises(ValidationError, match="needs a min, a max or both"):
        fti.expect.between("x")


def test_expectation_on_unknown_column(project: fti.Project) -> None:
    cards = _cards(project, expectations=[fti.expect.not_null("nope")])
    with pytest.raises(ValidationError, match="expectation not_null\\('nope'\\) names column 'nope'"):
        cards.insert(cards_frame())
    assert cards.commits() == []


def test_declared_schema(project: fti.Project) -> None:
    schema = pa.schema([("cc_num", pa.int64()), ("ts", pa.timestamp("us", tz="UTC")), ("amount", pa.float64())])
    cards = project.create_feature_group("cards", primary_key=["cc_num"], event_time="ts", schema=schema)
    assert cards.features == ["amount"]
    with pytest.raises(ValidationError, match=r"column 'country' \(string\) is not in the schema"):
        cards.insert(cards_frame())
    cards.insert(cards_frame().drop(columns=["country"]))
    assert len(cards.read()) == 6


def test_an_insert_that_finishes_while_another_runs_commits_both(project: fti.Project) -> None:
    cards = _cards(project)
    cards.insert(cards_frame(0, 3))
    other = project.get_feature_group("cards")
    late = pa.Table.from_pandas(cards_frame(0, 3).assign(amount=-1.0), preserve_index=False).to_batches(max_chunksize=2)

    def batches() -> Iterator[pa.RecordBatch]:
        yield late[0]
        racing = threading.Thread(target=other.insert, args=(cards_frame(3, 3),))
        racing.start()
        racing.join()
        yield late[1]

    result = cards.insert(batches())
    assert (result.commit, result.rows_replaced) == (2, 3)
    _same(cards.read(), pd.concat([cards_frame(0, 3).assign(amount=-1.0), cards_frame(3, 3)], ignore_index=True))
    assert [commit.commit for commit in cards.commits()] == [0, 1, 2]
    _same(cards.read(as_of=1), cards_frame(0, 6))
