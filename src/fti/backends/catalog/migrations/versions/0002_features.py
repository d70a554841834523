"""Feature store: feature groups, commits, feature views, training datasets.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature_groups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("primary_key", sa.JSON(), nullable=False),
        sa.Column("event_time", sa.String(63), nullable=False),
        sa.Column("is_online", sa.Boolean(), nullable=False),
        sa.Column("ttl_seconds", sa.Float(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("schema", sa.JSON(), nullable=True),
        sa.Column("expectations", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feature_groups"),
        sa.UniqueConstraint("name", "version", name="uq_feature_groups_name_version"),
    )
    op.create_table(
        "feature_group_commits",
        sa.Column("feature_group_id", sa.Integer(), nullable=False),
        sa.Column("commit", sa.Integer(), nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows_inserted", sa.BigInteger(), nullable=False),
        sa.Column("rows_replaced", sa.BigInteger(), nullable=False),
        sa.Column("statistics", sa.JSON(), nullable=False),
        sa.Column("group_statistics", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["feature_group_id"], ["feature_groups.id"], name="fk_feature_group_commits_feature_group_id_feature_groups"
        ),
        sa.PrimaryKeyConstraint("feature_group_id", "commit", name="pk_feature_group_commits"),
    )
    op.create_table(
        "feature_views",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("query", sa.JSON(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feature_views"),
        sa.UniqueConstraint("name", "version", name="uq_feature_views_name_version"),
    )
    op.create_table(
        "training_datasets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("feature_view_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("split", sa.JSON(), nullable=True),
        sa.Column("split_by", sa.String(16), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("statistics", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_view_id"], ["feature_views.id"], name="fk_training_datasets_feature_view_id_feature_views"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_training_datasets"),
        sa.UniqueConstraint("feature_view_id", "version", name="uq_training_datasets_feature_view_id_version"),
    )
    op.create_table(
        "training_dataset_sources",
        sa.Column("training_dataset_id", sa.Integer(), nullable=False),
        sa.Column("feature_group_id", sa.Integer(), nullable=False),
        sa.Column("commit", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["training_dataset_id"],
            ["training_datasets.id"],
            name="fk_td_sources_training_dataset",
        ),
        sa.ForeignKeyConstraint(
            ["feature_group_id"],
            ["feature_groups.id"],
            name="fk_td_sources_feature_group",
        ),
        sa.PrimaryKeyConstraint("training_dataset_id", "feature_group_id", name="pk_training_dataset_sources"),
    )


def downgrade() -> None:
    op.drop_table("training_dataset_sources")
    op.drop_table("training_datasets")
    op.drop_table("feature_views")
    op.drop_table("feature_group_commits")
    op.drop_table("feature_groups")
