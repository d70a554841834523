"""The model registry: registered models, versions, their tags, aliases and the aliases' history."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from fti.backends.catalog.schema.base import metadata
from fti.backends.catalog.schema.tracking import AUTO_ID

__all__ = ["model_alias_history", "model_aliases", "model_version_tags", "model_versions", "registered_models"]

registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("latest_version", Integer, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", String(128), ForeignKey("registered_models.name"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("flavor", String(32), nullable=False),
    Column("artifact_prefix", String(1024), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("run_id", String(32), ForeignKey("runs.id"), nullable=True),
    Column("signature", Text, nullable=True),
    Column("flavor_options", Text, nullable=False),
    Column("metrics", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("training_dataset_name", String(250), nullable=True),
    Column("training_dataset_version", Integer, nullable=True),
    Index("ix_model_versions_run_id", "run_id"),
    Index(
        "ix_model_versions_training_dataset",
        "training_dataset_name",
        "training_dataset_version",
    ),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    ForeignKeyConstraint(
        ["name", "version"],
        ["model_versions.name", "model_versions.version"],
        name="fk_model_version_tags_name_model_versions",
    ),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("alias", String(63), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("is_protected", Boolean, nullable=False),
    ForeignKeyConstraint(
        ["name", "version"],
        ["model_versions.name", "model_versions.version"],
        name="fk_model_aliases_name_model_versions",
    ),
)

model_alias_history = Table(
    "model_alias_history",
    metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("name", String(128), ForeignKey("registered_models.name"), nullable=False),
    Column("alias", String(63), nullable=False),
    Column("from_version", Integer, nullable=True),
    Column("to_version", Integer, nullable=True),
    Column("is_protected", Boolean, nullable=False),
    Column("is_forced", Boolean, nullable=False),
    Column("changed_by", String(250), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=True),
    Index("ix_model_alias_history_name_alias", "name", "alias"),
)
