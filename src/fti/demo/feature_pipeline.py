"""Feature pipeline of the fraud demo: raw card transactions -> four versioned feature groups.

- ``transactions`` (online): the raw transactions (what a request carries at prediction time);
- ``card_activity`` (online): per card, counts and amounts over 1 h / 1 d / 7 d, time since and distance from
  the previous transaction, distance from home and hour of the day, as of each transaction;
- ``merchant_stats`` (online): per merchant, activity over 1 d / 7 d as of each transaction;
- ``fraud_labels``: whether each transaction was fraud (the spine of the training data). Labels arrive
  later than transactions (chargebacks): ``labelled_until`` keeps the newest ones out, and
  :func:`insert_labels` adds them when they come.

The windowed aggregates are one DuckDB query each (RANGE windows over event time), so the pipeline
is set-based: no Python loop over rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb

import fti

if TYPE_CHECKING:
    import pandas as pd

    from fti.features import FeatureGroup

__all__ = [
    "LABEL_COLUMNS",
    "build_window_features",
    "card_activity",
    "insert_labels",
    "insert_transactions",
    "merchant_stats",
    "run_feature_pipeline",
]

LABEL_COLUMNS = ["tx_id", "cc_num", "merchant_id", "ts", "is_fraud"]

_CARD_ACTIVITY = """
SELECT t.cc_num, t.ts,
       count(*) OVER h1 AS tx_count_1h,
       sum(t.amount) OVER h1 AS amount_sum_1h,
       count(*) OVER d1 AS tx_count_1d,
       sum(t.amount) OVER d1 AS amount_sum_1d,
       count(*) OVER d7 AS tx_count_7d,
       avg(t.amount) OVER d7 AS amount_avg_7d,
       coalesce(epoch(t.ts - lag(t.ts) OVER previous), 1e7) AS seconds_since_last,
       -- equirectangular distances in km: good enough at city scale, and vectorized
       111.2 * sqrt(pow(t.lat - c.home_lat, 2) + pow((t.lon - c.home_lon) * cos(radians(c.home_lat)), 2))
           AS km_from_home,
       -- a traveller shops in one place at a time; stolen card numbers are used at merchants anywhere
       coalesce(111.2 * sqrt(pow(t.lat - lag(t.lat) OVER previous, 2)
                             + pow((t.lon - lag(t.lon) OVER previous) * cos(radians(t.lat)), 2)), 0.0)
           AS km_from_last,
       -- the hour of the day (UTC, fractional): card fraud favours the small hours
       (epoch(t.ts) % 86400) / 3600.0 AS hour_of_day
FROM transactions t JOIN cards c USING (cc_num)
WINDOW previous AS (PARTITION BY t.cc_num ORDER BY t.ts),
       h1 AS (PARTITION BY t.cc_num ORDER BY t.ts RANGE BETWEEN INTERVAL 1 HOUR PRECEDING AND CURRENT ROW),
       d1 AS (PARTITION BY t.cc_num ORDER BY t.ts RANGE BETWEEN INTERVAL 1 DAY PRECEDING AND CURRENT ROW),
       d7 AS (PARTITION BY t.cc_num ORDER BY t.ts RANGE BETWEEN INTERVAL 7 DAYS PRECEDING AND CURRENT ROW)
ORDER BY t.ts
"""

_MERCHANT_STATS = """
SELECT merchant_id, ts,
       count(*) OVER d1 AS merchant_tx_count_1d,
       count(*) OVER d7 AS merchant_tx_count_7d,
       avg(amount) OVER d7 AS merchant_amount_avg_7d
FROM transactions
WINDOW d1 AS (PARTITION BY merchant_id ORDER BY ts RANGE BETWEEN INTERVAL 1 DAY PRECEDING AND CURRENT ROW),
       d7 AS (PARTITION BY merchant_id ORDER BY ts RANGE BETWEEN INTERVAL 7 DAYS PRECEDING AND CURRENT ROW)
ORDER BY ts
"""


def card_activity(transactions: pd.DataFrame, cards: pd.DataFrame) -> pd.DataFrame:
    """Per-card windowed aggregates as of each transaction (the transaction itself included)."""
    with duckdb.connect() as connection:
        connection.register("transactions", transactions)
        connection.register("cards", cards)
        frame: pd.DataFrame = connection.sql(_CARD_ACTIVITY).df()
    return frame


def merchant_stats(transactions: pd.DataFrame) -> pd.DataFrame:
    """Per-merchant windowed activity as of each transaction."""
    with duckdb.connect() as connection:
        connection.register("transactions", transactions)
        frame: pd.DataFrame = connection.sql(_MERCHANT_STATS).df()
    return frame


#: the demo's feature groups and how each is created
_GROUPS: dict[str, dict[str, Any]] = {
    "transactions": dict(
        primary_key=["tx_id"],
        event_time="ts",
        description="Raw card transactions, with where they happened and the card's home.",
        expectations=[fti.expect.between("amount", 0, 1e6), fti.expect.not_null("cc_num")],
        # every group the fraud view reads a feature from is online: the deployment looks requests' features up
        online=True,
    ),
    "card_activity": dict(
        primary_key=["cc_num"],
        event_time="ts",
        description=(
            "Per-card spending over 1 h / 1 d / 7 d windows, time and km since the last transaction, km from home, "
            "hour of the day."
        ),
        # no ttl: the demo's month is simulated in the past, and a ttl counts from now, so it would blank every
        # value the deployment looks up
        online=True,
    ),
    "merchant_stats": dict(
        primary_key=["merchant_id"],
        event_time="ts",
        description="Per-merchant activity over 1 d / 7 d windows.",
        online=True,
    ),
    "fraud_labels": dict(primary_key=["tx_id"], event_time="ts", description="Fraud labels per transaction."),
}
_RAW_COLUMNS = ["tx_id", "cc_num", "merchant_id", "category", "amount", "ts", "lat", "lon", "home_lat", "home_lon"]


def _insert(project: fti.Project, frames: dict[str, pd.DataFrame]) -> list[FeatureGroup]:
    existing = {group.name for group in project.feature_groups()}
    written = []
    for name, frame in frames.items():
        group = (
            project.get_feature_group(name) if name in existing else project.create_feature_group(name, **_GROUPS[name])
        )
        group.insert(frame)
        written.append(group)
    return written


def insert_transactions(
    project: fti.Project, transactions: pd.DataFrame, cards: pd.DataFrame, *, labelled_until: datetime | None = None
) -> list[FeatureGroup]:
    """Raw transactions (with the card's home) land as a commit of ``transactions``; the labels known so far
    (before ``labelled_until``; all when None) as a commit of ``fraud_labels``."""
    raw = transactions.merge(cards[["cc_num", "home_lat", "home_lon"]], on="cc_num")[_RAW_COLUMNS]
    labels = (
        transactions[LABEL_COLUMNS]
        if labelled_until is None
        else transactions.loc[transactions["ts"] < labelled_until, LABEL_COLUMNS]
    )
    return _insert(project, {"transactions": raw, "fraud_labels": labels})


def build_window_features(project: fti.Project, transactions: pd.DataFrame) -> list[FeatureGroup]:
    """``card_activity`` and ``merchant_stats`` from raw transactions that carry the card's home."""
    cards = transactions[["cc_num", "home_lat", "home_lon"]].drop_duplicates("cc_num")
    return _insert(
        project,
        {"card_activity": card_activity(transactions, cards), "merchant_stats": merchant_stats(transactions)},
    )


def run_feature_pipeline(
    project: fti.Project,
    transactions: pd.DataFrame,
    cards: pd.DataFrame,
    *,
    labelled_until: datetime | None = None,
) -> list[FeatureGroup]:
    """Create (or reuse) the demo's feature groups and insert one batch of transactions into each: the raw
    transactions, their window features and the labels (before ``labelled_until``; all when None)."""
    raw, labels = insert_transactions(project, transactions, cards, labelled_until=labelled_until)
    windows = build_window_features(project, raw.read())
    return [raw, *windows, labels]


def insert_labels(project: fti.Project, transactions: pd.DataFrame) -> int:
    """Labels that arrived late (chargebacks) for ``transactions``: one more commit of ``fraud_labels``."""
    project.get_feature_group("fraud_labels").insert(transactions[LABEL_COLUMNS])
    return len(transactions)
