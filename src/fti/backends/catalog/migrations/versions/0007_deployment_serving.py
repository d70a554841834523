"""Deployments: output kind, pre- and postprocessing functions, ensemble combination and stacker.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("output_kind", 16),
    ("preprocess", 300),
    ("postprocess", 300),
    ("combine", 32),
    ("stacker", 300),
)


def upgrade() -> None:
    with op.batch_alter_table("deployments") as table:
        for name, length in _COLUMNS:
            table.add_column(sa.Column(name, sa.String(length), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as table:
        for name, _ in reversed(_COLUMNS):
            table.drop_column(name)
