"""Small feature tables shared by the feature-store tests, and a module-level custom expectation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def cards_frame(start: int = 0, rows: int = 6) -> pd.DataFrame:
    """``rows`` card rows: cc_num cycles over 3 cards, one day apart."""
    index = np.arange(start, start + rows)
    return pd.DataFrame(
        {
            "cc_num": (index % 3).astype("int64"),
            "ts": pd.to_datetime("2024-01-01", utc=True) + pd.to_timedelta(index, unit="D"),
            "amount": index.astype("float64") * 10,
            "country": np.where(index % 2 == 0, "DE", "FR"),
        }
    )


def amount_is_round(frame: pd.DataFrame) -> Any:
    """A custom expectation: amounts are multiples of 10."""
    return (frame["amount"] % 10 == 0).to_numpy()
