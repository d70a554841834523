"""Generated traffic for the drift tests: 8 features (5 numeric, 3 categorical) with optional shifts."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

FEATURES = ("income", "amount", "ratio", "wait", "visits", "city", "tier", "is_new")


def traffic(rows: int, seed: int, *, shift: frozenset[str] = frozenset()) -> pa.Table:
    """``rows`` rows of traffic; each feature named in ``shift`` moves (mean by 0.5 std, or category mix)."""
    rng = np.random.default_rng(seed)

    def moved(name: str) -> float:
        return 1.0 if name in shift else 0.0

    cities = np.array(["paris", "rome", "oslo", "kyiv"])
    city_p = [0.25, 0.25, 0.25, 0.25] if "city" in shift else [0.4, 0.3, 0.2, 0.1]
    tier_p = [0.3, 0.3, 0.4] if "tier" in shift else [0.5, 0.3, 0.2]
    return pa.table(
        {
            "income": rng.normal(50_000 + moved("income") * 7_500, 15_000, rows),
            "amount": rng.lognormal(3.0 + moved("amount") * 0.5, 1.0, rows),
            "ratio": rng.uniform(0.0 + moved("ratio") * 0.15, 1.0 + moved("ratio") * 0.15, rows),
            "wait": rng.exponential(10.0 * (1.0 + moved("wait") * 0.5), rows),
            "visits": rng.poisson(20 + moved("visits") * 2.5, rows),
            "city": cities[rng.choice(4, rows, p=city_p)],
            "tier": rng.choice(3, rows, p=tier_p),
            "is_new": rng.random(rows) < (0.35 if "is_new" in shift else 0.2),
        }
    )
