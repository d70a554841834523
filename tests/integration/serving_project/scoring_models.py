"""Models for batch-prediction tests, importable by the executor's worker processes."""

from __future__ import annotations

import pandas as pd

__all__ = ["refuse_large_batches"]


def refuse_large_batches(frame: pd.DataFrame) -> pd.DataFrame:
    """A preprocessing step that fails on more than 50 rows (a model that breaks inside a task)."""
    if len(frame) > 50:
        raise ValueError(f"this model scores at most 50 rows at once, got {len(frame)}")
    return frame
