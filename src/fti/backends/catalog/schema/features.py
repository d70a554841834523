"""Feature groups, their commits, feature views and training datasets."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from fti.backends.catalog.schema.base import metadata

__all__ = [
    "feature_group_commits",
    "feature_groups",
    "feature_views",
    "training_dataset_sources",
    "training_datasets",
]

feature_groups = Table(
    "feature_groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(63), nullable=False),
    Column("version", Integer, nullable=False),
    Column("description", Text, nullable=False),
    Column("primary_key", JSON, nullable=False),
    Column("event_time", String(63), nullable=False),
    Column("is_online", Boolean, nullable=False),
    Column("ttl_seconds", Float, nullable=True),
    Column("tags", JSON, nullable=False),
    Column("schema", JSON, nullable=True),
    Column("expectations", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # the last stamp an insert reserved (see CommitRecord.stamp); NULL before the first one
    Column("last_stamp", Integer, nullable=True),
    UniqueConstraint("name", "version"),
)

feature_group_commits = Table(
    "feature_group_commits",
    metadata,
    Column("feature_group_id", Integer, ForeignKey("feature_groups.id"), primary_key=True),
    Column("commit", Integer, primary_key=True),
    Column("committed_at", DateTime(timezone=True), nullable=False),
    Column("rows_inserted", BigInteger, nullable=False),
    Column("rows_replaced", BigInteger, nullable=False),
    Column("statistics", JSON, nullable=False),
    Column("group_statistics", JSON, nullable=True),
    Column("lineage", JSON, nullable=True),
    # NULL in commits recorded before stamps: both were the commit number
    Column("stamp", Integer, nullable=True),
    Column("table_version", Integer, nullable=True),
)

feature_views = Table(
    "feature_views",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(63), nullable=False),
    Column("version", Integer, nullable=False),
    Column("description", Text, nullable=False),
    Column("query", JSON, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("name", "version"),
)

training_datasets = Table(
    "training_datasets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("feature_view_id", Integer, ForeignKey("feature_views.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("description", Text, nullable=False),
    Column("start", DateTime(timezone=True), nullable=True),
    Column("end", DateTime(timezone=True), nullable=True),
    Column("split", JSON, nullable=True),
    Column("split_by", String(16), nullable=False),
    Column("seed", BigInteger, nullable=True),
    Column("statistics", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("feature_view_id", "version"),
)

training_dataset_sources = Table(
    "training_dataset_sources",
    metadata,
    Column(
        "training_dataset_id",
        Integer,
        ForeignKey("training_datasets.id", name="fk_td_sources_training_dataset"),
        primary_key=True,
    ),
    Column(
        "feature_group_id",
        Integer,
        ForeignKey("feature_groups.id", name="fk_td_sources_feature_group"),
        primary_key=True,
    ),
    Column("commit", Integer, nullable=False),
)
