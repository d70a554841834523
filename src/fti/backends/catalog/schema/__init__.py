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
from fti.backends.catalog.schema.orchestration import events, pipeline_runs, pipelines
from fti.backends.catalog.schema.registry import (
    model_alias_history,
    model_aliases,
    model_version_tags,
    model_versions,
    registered_models,
)
from fti.backends.catalog.schema.serving import api_tokens, audit_log, deployments
from fti.backends.catalog.schema.sources import source_cursors
from fti.backends.catalog.schema.tracking import (
    experiments,
    run_artifacts,
    run_feature_group_commits,
    run_latest_metrics,
    run_metrics,
    run_params,
    run_tags,
    run_training_data,
    runs,
)

__all__ = [
    "api_tokens",
    "artifacts",
    "audit_log",
    "deployments",
    "events",
    "experiments",
    "feature_group_commits",
    "feature_groups",
    "feature_views",
    "metadata",
    "model_alias_history",
    "model_aliases",
    "model_version_tags",
    "model_versions",
    "pipeline_runs",
    "pipelines",
    "registered_models",
    "run_artifacts",
    "run_feature_group_commits",
    "run_latest_metrics",
    "run_metrics",
    "run_params",
    "run_tags",
    "run_training_data",
    "runs",
    "source_cursors",
    "training_dataset_sources",
    "training_datasets",
]
