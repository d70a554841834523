"""Pre- and postprocessing functions the serving tests deploy by import path."""

from __future__ import annotations

import numpy as np
import pandas as pd


def amount_in_cents(frame: pd.DataFrame) -> pd.DataFrame:
    """Requests send ``amount_cents``; the model reads ``amount``."""
    return frame.assign(amount=frame["amount_cents"] / 100.0).drop(columns=["amount_cents"])


def as_words(predictions: np.ndarray, features: pd.DataFrame) -> np.ndarray:
    """Labels as words; a huge amount is always reviewed."""
    words = np.where(predictions == 1, "fraud", "ok").astype(object)
    words[features["amount"].to_numpy() > 100] = "review"
    return words


def wrong_length(frame: pd.DataFrame) -> pd.DataFrame:
    """A broken preprocessing function: it drops a row."""
    return frame.iloc[1:]
