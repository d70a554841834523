"""The demo's story needs models that can rank fraud on the A/B day: a model trained on the history alone, never
shown a traveller, must still rank the fraud wave above the travellers' legitimate spending."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fti.demo.feature_pipeline import card_activity, merchant_stats
from fti.demo.transactions import fraud_wave, generate_transactions, travel_season

FEATURES = [
    "amount",
    "tx_count_1h",
    "amount_sum_1h",
    "tx_count_1d",
    "amount_sum_1d",
    "tx_count_7d",
    "amount_avg_7d",
    "seconds_since_last",
    "km_from_home",
    "km_from_last",
    "hour_of_day",
    "merchant_tx_count_1d",
    "merchant_tx_count_7d",
    "merchant_amount_avg_7d",
]


def test_a_model_of_the_history_ranks_the_fraud_wave_among_travellers() -> None:
    ensemble = pytest.importorskip("sklearn.ensemble")
    metrics = pytest.importorskip("sklearn.metrics")
    days = 21
    data = generate_transactions(cards=500, days=days + 3, compromised_share=0.04, seed=7)
    live = data.transactions["ts"].min().floor("D") + timedelta(days=days)
    ab_day = live + timedelta(days=2)
    data = travel_season(data, live + timedelta(days=1), seed=7)
    data = fraud_wave(data, ab_day, share=0.03, seed=7)
    rows = (
        data.transactions.merge(card_activity(data.transactions, data.cards), on=["cc_num", "ts"])
        .merge(merchant_stats(data.transactions), on=["merchant_id", "ts"])
        .sort_values("ts", kind="stable")
    )
    history = rows[rows["ts"] < live]
    day = rows[(rows["ts"] >= ab_day) & (rows["ts"] < ab_day + timedelta(days=1))]
    model = ensemble.HistGradientBoostingClassifier(random_state=0, class_weight="balanced")
    model.fit(history[FEATURES], history["is_fraud"])

    auc = metrics.roc_auc_score(day["is_fraud"], model.predict_proba(day[FEATURES])[:, 1])

    assert day["is_fraud"].sum() > 30
    assert auc > 0.8
