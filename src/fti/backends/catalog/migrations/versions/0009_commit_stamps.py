"""Commit stamps: concurrent inserts into one feature group commit without retrying.

An insert reserves a stamp (``feature_groups.last_stamp``) before it writes, stamps its rows with it, and
takes its commit number when the catalog records it; ``feature_group_commits`` keeps each commit's stamp
and the offline-table version that published it. Existing commits keep NULL in both: their stamp and
table version were their commit number.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feature_groups") as batch:
        batch.add_column(sa.Column("last_stamp", sa.Integer(), nullable=True))
    with op.batch_alter_table("feature_group_commits") as batch:
        batch.add_column(sa.Column("stamp", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("table_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feature_group_commits") as batch:
        batch.drop_column("table_version")
        batch.drop_column("stamp")
    with op.batch_alter_table("feature_groups") as batch:
        batch.drop_column("last_stamp")
