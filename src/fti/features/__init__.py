"""The feature store: feature groups, expectations, statistics, time travel, point-in-time feature
views, training datasets, and online serving (materialization and feature vectors). Reached through
:class:`fti.Project`."""

from __future__ import annotations

from fti.features.aggregation_groups import AggregationGroup
from fti.features.groups import FeatureGroup, InsertResult
from fti.features.online import OnlineWriteWarning
from fti.features.queries import Query
from fti.features.service import FeatureStore
from fti.features.training import TrainingDataset
from fti.features.views import FeatureView

__all__ = [
    "AggregationGroup",
    "FeatureGroup",
    "FeatureStore",
    "FeatureView",
    "InsertResult",
    "OnlineWriteWarning",
    "Query",
    "TrainingDataset",
]
