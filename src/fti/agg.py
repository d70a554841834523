"""Windowed aggregations for aggregation groups: ``fti.agg.count(window="1h")``, ``fti.agg.mean("x", window="7d")``.

Each is evaluated at every event over the key's events in ``(t - window, t]``, the same in the backfill and in
the stream (see ``project.create_aggregation_group``).
"""

from __future__ import annotations

from fti.features.aggregations import Aggregation, count, count_distinct, last, max, mean, min, std, sum

__all__ = ["Aggregation", "count", "count_distinct", "last", "max", "mean", "min", "std", "sum"]
