"""Experiments, runs and what runs log: params, metrics (every point and the latest), tags, artifacts, lineage."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from fti.backends.catalog.schema.base import metadata

__all__ = [
    "experiments",
    "run_artifacts",
    "run_feature_group_commits",
    "run_latest_metrics",
    "run_metrics",
    "run_params",
    "run_tags",
    "run_training_data",
    "runs",
]

#: SQLite only auto-increments an INTEGER PRIMARY KEY
AUTO_ID = BigInteger().with_variant(Integer(), "sqlite")

experiments = Table(
    "experiments",
    metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("experiment_id", AUTO_ID, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(250), nullable=True),
    Column("status", String(16), nullable=False),
    Column("start_time", DateTime(timezone=True), nullable=False),
    Column("end_time", DateTime(timezone=True), nullable=True),
    Column("parent_run_id", String(32), ForeignKey("runs.id"), nullable=True),
    Column("error", Text, nullable=True),
    Column("git_commit", String(64), nullable=True),
    Column("is_dirty", Boolean, nullable=True),
    Column("entry_point", String(1024), nullable=True),
    Column("python_version", String(64), nullable=True),
    Column("packages", Text, nullable=True),
    Index("ix_runs_experiment_id_start_time_id", "experiment_id", "start_time", "id"),
    Index("ix_runs_parent_run_id", "parent_run_id"),
)

run_params = Table(
    "run_params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    # the value as a number when it is one, so that `params.depth > 3` compares numerically
    Column("value_number", Float, nullable=True),
    Index("ix_run_params_key_value_number_run_id", "key", "value_number", "run_id"),
)

run_metrics = Table(
    "run_metrics",
    metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("runs.id"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Float, nullable=False),
    Column("step", BigInteger, nullable=False),
    # milliseconds since the epoch: logging is the hot path, integers need no conversion
    Column("timestamp_ms", BigInteger, nullable=False),
    Index("ix_run_metrics_run_id_key_step", "run_id", "key", "step"),
)

run_latest_metrics = Table(
    "run_latest_metrics",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Float, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),
    Index("ix_run_latest_metrics_key_value_run_id", "key", "value", "run_id"),
)

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

run_artifacts = Table(
    "run_artifacts",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("artifact_key", String(1024), nullable=False),
)

run_training_data = Table(
    "run_training_data",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("feature_view_name", String(250), nullable=False),
    Column("feature_view_version", Integer, nullable=False),
    Column("training_dataset_version", Integer, nullable=False),
    Index(
        "ix_run_training_data_feature_view_name_feature_view_version",
        "feature_view_name",
        "feature_view_version",
    ),
)

run_feature_group_commits = Table(
    "run_feature_group_commits",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("feature_group_name", String(250), primary_key=True),
    Column("feature_group_version", Integer, primary_key=True),
    Column("commit", BigInteger, nullable=False),
)
