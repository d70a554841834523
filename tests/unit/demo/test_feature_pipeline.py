"""The demo's windowed card and merchant features, checked on a hand-made history."""

from __future__ import annotations

import pandas as pd
import pytest

import fti
from fti.demo.feature_pipeline import card_activity, merchant_stats, run_feature_pipeline
from fti.demo.transactions import generate_transactions

T0 = pd.Timestamp("2026-01-01 12:00", tz="UTC")


def _history() -> tuple[pd.DataFrame, pd.DataFrame]:
    offsets = [pd.Timedelta(0), pd.Timedelta(minutes=30), pd.Timedelta(hours=2), pd.Timedelta(days=3)]
    transactions = pd.DataFrame(
        {
            "tx_id": [1, 2, 3, 4],
            "cc_num": [7, 7, 7, 7],
            "merchant_id": [1, 1, 2, 1],
            "amount": [10.0, 20.0, 30.0, 40.0],
            "lat": [40.0, 40.0, 41.0, 40.0],
            "lon": [-74.0, -74.0, -74.0, -74.0],
            "ts": [T0 + offset for offset in offsets],
        }
    )
    cards = pd.DataFrame({"cc_num": [7], "home_lat": [40.0], "home_lon": [-74.0]})
    return transactions, cards


def test_card_windows_count_and_sum_what_came_before() -> None:
    frame = card_activity(*_history())
    assert frame["tx_count_1h"].tolist() == [1, 2, 1, 1]
    assert frame["amount_sum_1h"].tolist() == [10.0, 30.0, 30.0, 40.0]
    assert frame["tx_count_1d"].tolist() == [1, 2, 3, 1]
    assert frame["tx_count_7d"].tolist() == [1, 2, 3, 4]
    assert frame["amount_avg_7d"].tolist() == [10.0, 15.0, 20.0, 25.0]
    assert frame["seconds_since_last"].tolist()[1:] == [1800.0, 5400.0, 3 * 86400.0 - 7200.0]
    assert frame["km_from_home"].tolist()[2] == pytest.approx(111.2)


def test_card_features_see_where_and_when_the_card_was_used_last() -> None:
    frame = card_activity(*_history())
    # one degree of latitude from the previous purchase and back; the first has no previous one
    assert frame["km_from_last"].tolist() == pytest.approx([0.0, 0.0, 111.2, 111.2])
    assert frame["hour_of_day"].tolist() == pytest.approx([12.0, 12.5, 14.0, 12.0])
    assert frame["km_from_home"].tolist()[0] == 0


def test_merchant_windows() -> None:
    frame = merchant_stats(_history()[0]).sort_values(["merchant_id", "ts"])
    assert frame["merchant_tx_count_1d"].tolist() == [1, 2, 1, 1]
    assert frame["merchant_tx_count_7d"].tolist() == [1, 2, 3, 1]


def test_pipeline_writes_four_feature_groups_once_per_run(project: fti.Project) -> None:
    data = generate_transactions(cards=100, days=3, seed=2)
    groups = run_feature_pipeline(project, data.transactions, data.cards)
    assert [group.name for group in groups] == ["transactions", "card_activity", "merchant_stats", "fraud_labels"]
    assert {len(group.read()) for group in groups} == {len(data.transactions)}
    assert project.get_feature_group("card_activity").online
    # every group the fraud view reads a feature from is online, so its deployment can look requests up
    assert all(project.get_feature_group(name).online for name in ("transactions", "merchant_stats"))
