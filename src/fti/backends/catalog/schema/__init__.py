"""Catalog tables as SQLAlchemy Core metadata, one module per domain.

Alembic migrations create the tables; a test checks that migrations and metadata agree.
"""

from __future__ import annotations

from fti.backends.catalog.schema.artifacts import artifacts
from fti.backends.catalog.schema.base import metadata
from fti.backends.catalog.schema.features import (
    feature_group_commits,
    feature_groups,
    feature_views,
    training_dataset_sources,
    training_datasets,
)

__all__ = [
    "artifacts",
    "feature_group_commits",
    "feature_groups",
    "feature_views",
    "metadata",
    "training_dataset_sources",
    "training_datasets",
]
