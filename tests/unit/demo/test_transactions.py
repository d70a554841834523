"""The demo's transaction generator: deterministic, realistic rates and visible fraud patterns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fti.demo.transactions import generate_transactions


def test_same_seed_same_data_other_seed_other_data() -> None:
    first = generate_transactions(cards=300, days=7, seed=7)
    pd.testing.assert_frame_equal(first.transactions, generate_transactions(cards=300, days=7, seed=7).transactions)
    assert not first.transactions.equals(generate_transactions(cards=300, days=7, seed=8).transactions)


def test_shape_order_and_types() -> None:
    data = generate_transactions(cards=500, days=10, seed=3)
    table = data.transactions
    assert list(table.columns) == [
        "tx_id",
        "cc_num",
        "merchant_id",
        "category",
        "amount",
        "lat",
        "lon",
        "ts",
        "is_fraud",
    ]
    assert table["ts"].is_monotonic_increasing
    assert str(table["ts"].dt.tz) == "UTC"
    assert table["tx_id"].is_unique
    assert (table["amount"] > 0).all()
    assert set(table["cc_num"]) <= set(data.cards["cc_num"])
    assert set(table["merchant_id"]) <= set(data.merchants["merchant_id"])


def test_fraud_is_rare_and_looks_like_fraud() -> None:
    data = generate_transactions(cards=3_000, days=20, seed=11)
    table = data.transactions.merge(data.cards[["cc_num", "home_lat", "home_lon"]], on="cc_num")
    assert 0.0005 < data.fraud_rate < 0.01
    fraud, normal = table[table["is_fraud"] == 1], table[table["is_fraud"] == 0]
    distance = np.hypot(table["lat"] - table["home_lat"], table["lon"] - table["home_lon"])
    assert distance[fraud.index].median() > 5 * distance[normal.index].median()
    night = table["ts"].dt.hour < 6
    assert night[fraud.index].mean() > 0.4 > 0.1 > night[normal.index].mean()
    assert (fraud["amount"] < 5).mean() > 0.3
    risky = ["electronics", "jewelry", "online_retail", "travel"]
    assert fraud["category"].isin(risky).mean() > 0.75 > normal["category"].isin(risky).mean()


def test_travel_season_moves_legitimate_spending_of_travellers_only_in_its_range() -> None:
    from datetime import UTC, datetime

    from fti.demo.transactions import travel_season

    data = generate_transactions(cards=400, days=6, seed=2)
    start, end = datetime(2026, 1, 4, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC)
    season = travel_season(data, start, end, travellers=0.8, spend_factor=4.0, seed=1)
    before = data.transactions.set_index("tx_id")
    after = season.transactions.set_index("tx_id")
    kept = after.loc[before.index]
    changed = before["amount"].ne(kept["amount"])

    assert kept[["cc_num", "ts", "is_fraud"]].equals(before[["cc_num", "ts", "is_fraud"]])
    assert changed.any()
    assert before.loc[changed, "ts"].between(start, end, inclusive="left").all()
    assert not before.loc[changed, "is_fraud"].any()
    assert np.allclose(kept.loc[changed, "amount"], (before.loc[changed, "amount"] * 4).round(2))
    assert kept.loc[changed, "category"].isin(["electronics", "jewelry", "online_retail", "travel"]).all()
    assert kept.loc[changed, "merchant_id"].ne(before.loc[changed, "merchant_id"]).mean() > 0.9
    # each moved purchase gets a small pre-authorization at its merchant, minutes before
    checks = after.loc[~after.index.isin(before.index)]
    assert len(checks) == changed.sum()
    assert checks["amount"].between(0.5, 2.0).all() and not checks["is_fraud"].any()
    assert season.transactions["ts"].is_monotonic_increasing
    assert season.transactions["tx_id"].is_unique
    assert travel_season(data, start, seed=1).transactions.equals(travel_season(data, start, seed=1).transactions)


def test_a_traveller_stays_in_one_city_for_the_season() -> None:
    from datetime import UTC, datetime

    from fti.demo.transactions import travel_season

    data = generate_transactions(cards=300, days=4, seed=3)
    season = travel_season(data, datetime(2026, 1, 3, tzinfo=UTC), seed=4).transactions
    before = data.transactions.set_index("tx_id")
    moved = season.set_index("tx_id").loc[before.index]
    moved = moved.loc[moved["merchant_id"].ne(before["merchant_id"]) & moved["ts"].ge(datetime(2026, 1, 3, tzinfo=UTC))]
    cities = moved["merchant_id"].map(data.merchants.set_index("merchant_id")["city"])
    assert len(moved) > 100
    # a trip goes to one other city: the card's purchases there stay near each other (stolen numbers do not)
    assert (cities.groupby(moved["cc_num"]).nunique() == 1).all()
