"""A seeded, deterministic generator of card transactions with realistic fraud patterns.

Cards live around a handful of cities and spend at nearby merchants, mostly by day, with amounts that
depend on the merchant category and the card's habits. A small share of cards is compromised: a burst
of small "card testing" charges within minutes, then large purchases at risky merchants far from home,
often at night. Everything is vectorized with numpy; one seed gives the same data on every machine.

:func:`travel_season` injects drift into a time range: most cardholders travel, spending more at travel
and high-ticket merchants in other cities, so distances, amounts, categories and merchant activity shift
while fraud stays as rare as before. :func:`fraud_wave` compromises more cards for a few days (fraudsters
hiding among the travellers), so that a day of traffic holds enough fraud to rank models by.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

__all__ = ["CATEGORIES", "TransactionData", "fraud_wave", "generate_transactions", "travel_season"]

#: category -> (median amount, spread of log amount, base fraud risk)
CATEGORIES: dict[str, tuple[float, float, float]] = {
    "grocery": (45.0, 0.6, 0.1),
    "gas": (40.0, 0.4, 0.2),
    "restaurant": (30.0, 0.7, 0.1),
    "pharmacy": (25.0, 0.6, 0.1),
    "online_retail": (60.0, 0.9, 0.6),
    "travel": (350.0, 0.8, 0.5),
    "electronics": (250.0, 0.9, 0.9),
    "jewelry": (400.0, 0.9, 1.0),
}
_CITIES = np.array(
    [[40.71, -74.01], [34.05, -118.24], [41.88, -87.63], [29.76, -95.37], [47.61, -122.33], [25.76, -80.19]]
)
_RISKY = np.array([name in ("electronics", "jewelry", "online_retail", "travel") for name in CATEGORIES])


@dataclass(frozen=True, slots=True)
class TransactionData:
    """Generated tables: transactions (with labels), cards and merchants."""

    transactions: pd.DataFrame
    cards: pd.DataFrame
    merchants: pd.DataFrame

    @property
    def fraud_rate(self) -> float:
        """Share of fraudulent transactions."""
        return float(self.transactions["is_fraud"].mean())


def generate_transactions(
    *,
    cards: int = 2_000,
    merchants: int = 400,
    days: int = 30,
    transactions_per_card_per_day: float = 1.2,
    compromised_share: float = 0.015,
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
    seed: int = 42,
) -> TransactionData:
    """Generate card transactions over ``days`` days starting at ``start``.

    Example:
        >>> data = generate_transactions(cards=100, days=5, seed=1)
        >>> sorted(data.transactions.columns)[:3]
        ['amount', 'category', 'cc_num']
    """
    rng = np.random.default_rng(seed)
    card_table = _cards(rng, cards)
    merchant_table = _merchants(rng, merchants)
    normal = _normal_transactions(rng, card_table, merchant_table, days, transactions_per_card_per_day, start)
    fraud = _fraud_transactions(rng, card_table, merchant_table, days, compromised_share, start)
    table = pd.concat([normal, fraud], ignore_index=True).sort_values(["ts", "cc_num"], kind="stable")
    table = table.reset_index(drop=True)
    table.insert(0, "tx_id", np.arange(1, len(table) + 1, dtype=np.int64))
    return TransactionData(transactions=table, cards=card_table, merchants=merchant_table)


def travel_season(
    data: TransactionData,
    start: datetime,
    end: datetime | None = None,
    *,
    travellers: float = 0.8,
    spend_factor: float = 4.0,
    seed: int = 0,
) -> TransactionData:
    """A copy of ``data`` where, from ``start`` to ``end``, a share of the cards travels.

    Each legitimate transaction of a travelling card in the range moves to a risky-category merchant
    (travel, electronics, jewelry, online retail) in another city, costs ``spend_factor`` times as much,
    and is preceded by a small pre-authorization at the same merchant a few minutes earlier (a new
    transaction). Fraud and the other transactions are unchanged.

    Example:
        >>> data = generate_transactions(cards=100, days=5, seed=1)
        >>> moved = travel_season(data, datetime(2026, 1, 4, tzinfo=UTC))
        >>> bool((moved.transactions["amount"] > data.transactions["amount"]).any())
        True
    """
    rng = np.random.default_rng(seed)
    table = data.transactions.copy()
    merchants = data.merchants
    home_city = pd.Series(_nearest_city(data.cards[["home_lat", "home_lon"]].to_numpy()), index=data.cards["cc_num"])
    away = data.cards["cc_num"].to_numpy()[rng.random(len(data.cards)) < travellers]
    in_range = table["ts"] >= pd.Timestamp(start)
    if end is not None:
        in_range &= table["ts"] < pd.Timestamp(end)
    moved = np.flatnonzero(in_range & table["cc_num"].isin(away) & (table["is_fraud"] == 0))
    # each traveller goes to one other city for the season, then shops at random risky merchants there
    trip = pd.Series(
        (home_city.loc[away].to_numpy() + rng.integers(1, len(_CITIES), len(away))) % len(_CITIES), index=away
    )
    destination = trip.loc[table["cc_num"].to_numpy()[moved]].to_numpy()
    city = np.where(_RISKY[merchants["category_code"].to_numpy()], merchants["city"].to_numpy(), -1)
    order = np.argsort(city, kind="stable")
    bounds = np.searchsorted(city[order], np.arange(len(_CITIES) + 1))
    low, high = bounds[destination], bounds[destination + 1]
    picked = order[
        np.minimum(low + (rng.random(len(moved)) * np.maximum(high - low, 1)).astype(np.int64), len(order) - 1)
    ]
    for column in ("merchant_id", "category", "lat", "lon"):
        table.loc[table.index[moved], column] = merchants[column].to_numpy()[picked]
    table.loc[table.index[moved], "amount"] = np.round(table["amount"].to_numpy()[moved] * spend_factor, 2)
    # hotels, car rentals and airlines check the card with a small pre-authorization minutes before
    checks = table.iloc[moved].copy()
    checks["ts"] = (
        (checks["ts"] - pd.to_timedelta(rng.uniform(1, 15, len(moved)), unit="m")).dt.floor("us").dt.as_unit("us")
    )
    checks["amount"] = np.round(rng.uniform(0.5, 2.0, len(moved)), 2)
    checks["tx_id"] = np.arange(1, len(moved) + 1, dtype=np.int64) + int(table["tx_id"].max())
    table = pd.concat([table, checks], ignore_index=True).sort_values(["ts", "cc_num"], kind="stable")
    return TransactionData(transactions=table.reset_index(drop=True), cards=data.cards, merchants=merchants)


def fraud_wave(
    data: TransactionData, start: datetime, *, days: int = 1, share: float = 0.04, seed: int = 0
) -> TransactionData:
    """A copy of ``data`` where ``share`` of the cards are compromised from ``start`` for ``days`` days, with the
    same fraud patterns as before (bursts of small tests, then large charges at risky merchants far from home).
    The new transactions get tx ids after the last one.

    Example:
        >>> data = generate_transactions(cards=200, days=3, seed=1)
        >>> waved = fraud_wave(data, datetime(2026, 1, 3, tzinfo=UTC), share=0.1)
        >>> int(waved.transactions["is_fraud"].sum()) > int(data.transactions["is_fraud"].sum())
        True
    """
    rng = np.random.default_rng(seed)
    wave = _fraud_transactions(rng, data.cards, data.merchants, days, share, start)
    wave.insert(0, "tx_id", np.arange(1, len(wave) + 1, dtype=np.int64) + int(data.transactions["tx_id"].max()))
    table = pd.concat([data.transactions, wave], ignore_index=True).sort_values(["ts", "cc_num"], kind="stable")
    return TransactionData(transactions=table.reset_index(drop=True), cards=data.cards, merchants=data.merchants)


def _cards(rng: np.random.Generator, count: int) -> pd.DataFrame:
    city = rng.integers(0, len(_CITIES), count)
    home = _CITIES[city] + rng.normal(0, 0.15, (count, 2))
    return pd.DataFrame(
        {
            "cc_num": np.arange(4_000_000_000_000_000, 4_000_000_000_000_000 + count, dtype=np.int64),
            "home_lat": home[:, 0],
            "home_lon": home[:, 1],
            "spend_scale": rng.lognormal(0.0, 0.35, count),
            "activity": rng.gamma(2.0, 0.5, count),
        }
    )


def _merchants(rng: np.random.Generator, count: int) -> pd.DataFrame:
    city = rng.integers(0, len(_CITIES), count)
    place = _CITIES[city] + rng.normal(0, 0.2, (count, 2))
    weights = np.array([0.25, 0.15, 0.22, 0.08, 0.15, 0.05, 0.06, 0.04])
    category = rng.choice(len(CATEGORIES), count, p=weights)
    return pd.DataFrame(
        {
            "merchant_id": np.arange(1, count + 1, dtype=np.int64),
            "category": np.array(list(CATEGORIES))[category],
            "category_code": category,
            "lat": place[:, 0],
            "lon": place[:, 1],
            "city": city,
        }
    )


def _amounts(rng: np.random.Generator, category_code: np.ndarray, scale: np.ndarray) -> np.ndarray:
    medians = np.array([value[0] for value in CATEGORIES.values()])
    spreads = np.array([value[1] for value in CATEGORIES.values()])
    amounts = medians[category_code] * scale * rng.lognormal(0.0, spreads[category_code])
    return np.asarray(np.round(np.maximum(amounts, 1.0), 2))


def _times(
    rng: np.random.Generator, count: int, days: int, start: datetime, night_share: float, *, spread: bool = False
) -> pd.DatetimeIndex:
    # ``spread`` places events evenly over the days (so every period of the data has some), else at random
    day = (
        np.floor(np.linspace(0, days, count, endpoint=False)).astype(np.int64)
        if spread
        else rng.integers(0, days, count)
    )
    # Daytime spending peaks in the afternoon; fraud favours the small hours (so do some night owls).
    daytime = np.clip(rng.normal(14.0, 3.5, count), 6, 23.5)
    hour = np.where(rng.random(count) < night_share, rng.normal(3.0, 2.0, count) % 24, daytime)
    seconds = day * 86_400 + hour * 3_600 + rng.uniform(0, 60, count)
    return pd.DatetimeIndex(pd.Timestamp(start) + pd.to_timedelta(seconds, unit="s"))


def _normal_transactions(
    rng: np.random.Generator,
    card_table: pd.DataFrame,
    merchant_table: pd.DataFrame,
    days: int,
    rate: float,
    start: datetime,
) -> pd.DataFrame:
    per_card = rng.poisson(card_table["activity"].to_numpy() * rate * days)
    card_index = np.repeat(np.arange(len(card_table)), per_card)
    count = len(card_index)
    # Each card shops at merchants of its own city, picked at random.
    merchant_city = merchant_table["city"].to_numpy()
    card_city = _nearest_city(card_table[["home_lat", "home_lon"]].to_numpy())[card_index]
    order = np.argsort(merchant_city, kind="stable")
    bounds = np.searchsorted(merchant_city[order], np.arange(len(_CITIES) + 1))
    low, high = bounds[card_city], bounds[card_city + 1]
    empty = high <= low
    local = order[np.minimum(low + (rng.random(count) * np.maximum(high - low, 1)).astype(np.int64), len(order) - 1)]
    # A few purchases happen while travelling, anywhere.
    travelling = empty | (rng.random(count) < 0.03)
    merchant_index = np.where(travelling, rng.integers(0, len(merchant_table), count), local)
    times = _times(rng, count, days, start, night_share=0.04)
    return _rows(rng, card_table, merchant_table, card_index, merchant_index, times, 0)


def _fraud_transactions(
    rng: np.random.Generator,
    card_table: pd.DataFrame,
    merchant_table: pd.DataFrame,
    days: int,
    share: float,
    start: datetime,
) -> pd.DataFrame:
    victims = rng.choice(len(card_table), max(1, int(len(card_table) * share)), replace=False)
    # Most fraudsters test the card with a burst of small charges first; some go straight for big ones.
    burst = np.where(rng.random(len(victims)) < 0.7, rng.integers(3, 8, len(victims)), 0)
    card_index = np.repeat(victims, burst + 2)
    count = len(card_index)
    first = _times(rng, len(victims), days, start, night_share=0.7, spread=True)
    offsets_min = np.concatenate([np.sort(rng.uniform(0, 20, n + 2)) for n in burst])
    times = pd.DatetimeIndex(np.repeat(first, burst + 2)) + pd.to_timedelta(offsets_min, unit="m")
    risky_merchants = np.flatnonzero(_RISKY[merchant_table["category_code"].to_numpy()])
    merchant_index = np.where(
        rng.random(count) < 0.8, rng.choice(risky_merchants, count), rng.integers(0, len(merchant_table), count)
    )
    # Far from home: the merchant's city differs from the card's home city for the big charges.
    rows = _rows(rng, card_table, merchant_table, card_index, merchant_index, times, 1)
    is_test = np.concatenate([np.r_[np.ones(n, bool), np.zeros(2, bool)] for n in burst])
    rows.loc[is_test, "amount"] = np.round(rng.uniform(0.5, 4.0, int(is_test.sum())), 2)
    rows.loc[~is_test, "amount"] = np.round(rows.loc[~is_test, "amount"] * rng.uniform(2, 5, int((~is_test).sum())), 2)
    return rows


def _rows(
    rng: np.random.Generator,
    card_table: pd.DataFrame,
    merchant_table: pd.DataFrame,
    card_index: np.ndarray,
    merchant_index: np.ndarray,
    times: pd.DatetimeIndex,
    is_fraud: int,
) -> pd.DataFrame:
    merchant = merchant_table.iloc[merchant_index]
    scale = card_table["spend_scale"].to_numpy()[card_index]
    return pd.DataFrame(
        {
            "cc_num": card_table["cc_num"].to_numpy()[card_index],
            "merchant_id": merchant["merchant_id"].to_numpy(),
            "category": merchant["category"].to_numpy(),
            "amount": _amounts(rng, merchant["category_code"].to_numpy(), scale),
            "lat": merchant["lat"].to_numpy() + rng.normal(0, 0.01, len(card_index)),
            "lon": merchant["lon"].to_numpy() + rng.normal(0, 0.01, len(card_index)),
            # microseconds: the resolution feature stores keep
            "ts": (times.tz_convert(UTC) if times.tz is not None else times.tz_localize(UTC)).floor("us").as_unit("us"),
            "is_fraud": np.full(len(card_index), is_fraud, dtype=np.int8),
        }
    )


def _nearest_city(points: np.ndarray) -> np.ndarray:
    distance = ((points[:, None, :] - _CITIES[None, :, :]) ** 2).sum(axis=2)
    return np.asarray(distance.argmin(axis=1))
