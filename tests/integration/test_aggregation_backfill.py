"""Aggregation groups: the declaration, its checks, and the DuckDB backfill's values at the window edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

import fti
from fti.errors import ConflictError, NotFoundError, ValidationError

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _aggregations() -> list[fti.agg.Aggregation]:
    return [
        fti.agg.count(window="1h"),
        fti.agg.sum("amount", window="1h"),
        fti.agg.mean("amount", window="1d"),
        fti.agg.max("amount", window="1h"),
        fti.agg.min("amount", window="2h"),
        fti.agg.std("amount", window="1d"),
        fti.agg.last("merchant", window="1d", value_type="string"),
        fti.agg.count_distinct("merchant", window="1d"),
    ]


def _events() -> pd.DataFrame:
    minutes = [0, 30, 60, 0, 0, 61]
    return pd.DataFrame(
        {
            "cc": ["a", "a", "a", "b", "a", "a"],
            "ts": [T0 + timedelta(minutes=m) for m in minutes],
            "amount": [1.0, 2.0, 4.0, 3.0, 9.0, 8.0],
            "merchant": ["x", "y", "x", "z", "q", "w"],
        }
    )


def test_backfill_computes_each_event_as_of_itself_over_half_open_windows(project: fti.Project) -> None:
    group = project.create_aggregation_group(
        "card_windows", key=["cc"], event_time="ts", aggregations=_aggregations(), online=True
    )
    result = group.backfill(_events())
    rows = group.read().sort_values(["cc", "ts"]).reset_index(drop=True)
    # the repeat of ('a', 00:00) is a duplicate delivery: the first one counts, so 5 rows
    assert result.rows_inserted == 5
    a = rows[rows["cc"] == "a"].reset_index(drop=True)
    # (t - 1h, t]: at 01:00 the 00:00 event is exactly one window old and left out
    assert a["count_1h"].tolist() == [1, 2, 2, 3]
    assert a["amount_sum_1h"].tolist() == [1.0, 3.0, 6.0, 14.0]
    assert a["amount_max_1h"].tolist() == [1.0, 2.0, 4.0, 8.0]
    assert a["amount_min_2h"].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert a["amount_mean_1d"].tolist() == pytest.approx([1.0, 1.5, 7 / 3, 15 / 4])
    assert pd.isna(a["amount_std_1d"][0])
    assert a["merchant_last_1d"].tolist() == ["x", "y", "x", "w"]
    assert a["merchant_count_distinct_1d"].tolist() == [1, 2, 2, 3]
    online = project.get_feature_group("card_windows").read()
    assert len(online) == 5
    assert project.get_aggregation_group("card_windows").spec.lateness == timedelta(0)


def test_a_window_that_cannot_be_parsed_is_refused_before_anything_runs(project: fti.Project) -> None:
    with pytest.raises(ValidationError, match=r"The window of fti.agg.sum\('amount'\) '1 hour' is not a duration"):
        fti.agg.sum("amount", window="1 hour")
    with pytest.raises(ValidationError, match="must be longer than zero"):
        fti.agg.count(window="0h")
    with pytest.raises(ValidationError, match="lateness of aggregation group 'w'"):
        project.create_aggregation_group(
            "w", key=["cc"], event_time="ts", aggregations=[fti.agg.count(window="1h")], lateness="soon"
        )
    assert project.feature_groups() == []


def test_declarations_that_contradict_themselves_are_refused(project: fti.Project) -> None:
    with pytest.raises(ValidationError, match="the output 'count_1h' is already an aggregation's output"):
        project.create_aggregation_group(
            "w", key=["cc"], event_time="ts", aggregations=[fti.agg.count(window="1h"), fti.agg.count(window="60m")]
        )
    with pytest.raises(ValidationError, match="column 'merchant' is read as string and as float64"):
        project.create_aggregation_group(
            "w",
            key=["cc"],
            event_time="ts",
            aggregations=[fti.agg.count_distinct("merchant", window="1h"), fti.agg.max("merchant", window="1h")],
        )
    with pytest.raises(ValidationError, match="value_type 'text' is not one of float64, int64, string, bool"):
        fti.agg.max("merchant", window="1h", value_type="text")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="aggregations must be a non-empty list built with fti.agg"):
        project.create_aggregation_group("w", key=["cc"], event_time="ts", aggregations=[])


def test_backfill_names_missing_columns_and_null_keys(project: fti.Project) -> None:
    group = project.create_aggregation_group("w", key=["cc"], event_time="ts", aggregations=_aggregations())
    with pytest.raises(ValidationError, match="the events have no column 'merchant'"):
        group.backfill(_events().drop(columns=["merchant"]))
    events = _events()
    events.loc[2, "cc"] = None
    with pytest.raises(ValidationError, match="1 event\\(s\\) have no value in 'cc'"):
        group.backfill(events)
    assert group.feature_group.commits() == []


def test_a_plain_feature_group_is_not_an_aggregation_group(project: fti.Project) -> None:
    project.create_feature_group("plain", primary_key=["cc"], event_time="ts")
    with pytest.raises(NotFoundError, match="Feature group 'plain' v1 is not an aggregation group"):
        project.get_aggregation_group("plain")
    with pytest.raises(ConflictError):
        project.create_aggregation_group("plain", key=["cc"], event_time="ts", aggregations=_aggregations())


def test_an_emit_step_keeps_each_keys_last_event_of_each_step(project: fti.Project) -> None:
    group = project.create_aggregation_group(
        "hourly", key=["cc"], event_time="ts", aggregations=_aggregations(), emit="1h", online=True
    )
    assert project.get_aggregation_group("hourly").spec.emit == timedelta(hours=1)
    group.backfill(_events())
    rows = group.read().sort_values(["cc", "ts"]).reset_index(drop=True)
    # a: 00:00, 00:30 in the first hour (00:30 kept, as of itself), 01:00 and 01:01 in the second (01:01 kept)
    assert list(zip(rows["cc"], rows["ts"], rows["count_1h"], strict=True)) == [
        ("a", T0 + timedelta(minutes=30), 2),
        ("a", T0 + timedelta(minutes=61), 3),
        ("b", T0, 1),
    ]
    online = project.online_store.read("hourly_1", ["a", "b"], ["count_1h"])
    assert online.column("count_1h").to_pylist() == [3, 1]


def test_an_emit_step_that_is_not_a_duration_is_refused_before_anything_is_created(project: fti.Project) -> None:
    with pytest.raises(ValidationError, match="The emit step of aggregation group 'w' 'hourly' is not a duration"):
        project.create_aggregation_group(
            "w", key=["cc"], event_time="ts", aggregations=[fti.agg.count(window="1h")], emit="hourly"
        )
    assert project.feature_groups() == []
