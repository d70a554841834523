"""Traffic splitting: which variant of a deployment answers each row.

Assignment is sticky by entity key: the key values are hashed (pandas' stable ``hash_pandas_object``,
salted with the deployment's name and mixed with SplitMix64's finalizer) to a number in [0, 1), which
picks the variant whose cumulative share range holds it. The same key always lands on the same variant for a given
traffic split, in every worker and across restarts. Rows without keys are assigned at random from a
seeded generator. Everything is vectorized over the rows of a request.
"""

from __future__ import annotations

import hashlib
import threading

import numpy as np
import pandas as pd

from fti.core.deployments import Deployment
from fti.errors import ValidationError

__all__ = ["Router"]

_MANTISSA_BITS = 53


class Router:
    """Assigns rows of a request to the variants of one deployment.

    Args:
        deployment: the deployment whose traffic split is applied.
        seed: seed of the generator used for rows without entity keys.
    """

    def __init__(self, deployment: Deployment, *, seed: int | None = None) -> None:
        self._deployment = deployment
        shares = np.array([variant.share for variant in deployment.variants], dtype=np.float64)
        self._bounds = np.cumsum(shares / shares.sum())[:-1]
        # A salt from the name, so that deployments split the same keys independently.
        self._salt = np.uint64(int.from_bytes(hashlib.blake2b(deployment.name.encode(), digest_size=8).digest()))
        self._random = np.random.default_rng(seed)
        self._random_lock = threading.Lock()

    def assign(self, keys: pd.DataFrame | None, rows: int) -> np.ndarray:
        """The variant index (into ``deployment.variants``) of each of ``rows`` rows.

        Args:
            keys: the entity key columns of the rows, or None to assign at random.
            rows: the number of rows.
        """
        if len(self._deployment.variants) == 1:
            return np.zeros(rows, dtype=np.intp)
        return np.searchsorted(self._bounds, self.unit_interval(keys, rows), side="right")

    def unit_interval(self, keys: pd.DataFrame | None, rows: int) -> np.ndarray:
        """A number in [0, 1) per row: a stable hash of the keys, or a random draw without keys."""
        if keys is None or not self._deployment.entity_keys:
            with self._random_lock:
                return self._random.random(rows)
        missing = [key for key in self._deployment.entity_keys if key not in keys.columns]
        if missing:
            raise ValidationError(
                f"Deployment '{self._deployment.name}' routes by {list(self._deployment.entity_keys)} "
                f"but the request lacks {missing}: send them with every row."
            )
        raw = pd.util.hash_pandas_object(keys[list(self._deployment.entity_keys)], index=False)
        hashed = _mix(raw.to_numpy(dtype=np.uint64) ^ self._salt)
        unit: np.ndarray = (hashed >> np.uint64(64 - _MANTISSA_BITS)).astype(np.float64) / float(1 << _MANTISSA_BITS)
        return unit

    def key_frame(self, frame: pd.DataFrame) -> pd.DataFrame | None:
        """The entity key columns of ``frame`` when it has all of them, else None (random assignment)."""
        keys = list(self._deployment.entity_keys)
        if keys and all(key in frame.columns for key in keys):
            return frame[keys]
        return None


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer, vectorized: spreads the salted hashes over all 64 bits."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    mixed: np.ndarray = values ^ (values >> np.uint64(31))
    return mixed
