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
