"""Sources: the last cursor of each source of a feature group, and the lineage of each commit.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_cursors",
        sa.Column("feature_group_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=False),
        sa.Column("commit", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_group_id"], ["feature_groups.id"], name="fk_source_cursors_feature_group_id_feature_groups"
        ),
        sa.PrimaryKeyConstraint("feature_group_id", "source", name="pk_source_cursors"),
    )
    with op.batch_alter_table("feature_group_commits") as batch:
        batch.add_column(sa.Column("lineage", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feature_group_commits") as batch:
        batch.drop_column("lineage")
    op.drop_table("source_cursors")
