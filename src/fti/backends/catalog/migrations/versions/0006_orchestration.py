"""Orchestration: the event log, pipelines (schedule and event cursors) and pipeline runs.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(250), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pipeline_run_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_pipeline_run_id", "events", ["pipeline_run_id"])
    op.create_table(
        "pipelines",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("schedule_cursor", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_cursor", _ID, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_pipelines"),
    )
    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("pipeline", sa.String(128), nullable=False),
        sa.Column("slot", sa.String(128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True),
        sa.Column("event_id", _ID, nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("reads", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pipeline_runs"),
        sa.UniqueConstraint("pipeline", "slot", "attempt", name="uq_pipeline_runs_pipeline_slot_attempt"),
    )
    op.create_index("ix_pipeline_runs_state_due_at", "pipeline_runs", ["state", "due_at"])
    op.create_index("ix_pipeline_runs_pipeline_created_at", "pipeline_runs", ["pipeline", "created_at"])


def downgrade() -> None:
    op.drop_table("pipeline_runs")
    op.drop_table("pipelines")
    op.drop_table("events")
