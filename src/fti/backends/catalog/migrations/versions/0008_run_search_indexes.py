"""Run search indexes: pages of runs and orderings by a metric or param read from an index alone.

``runs(experiment_id, start_time, id)`` covers the run listing's page query (newest first, ties by id);
``run_latest_metrics(key, value, run_id)`` and ``run_params(key, value_number, run_id)`` let a page ordered
by a metric or a numeric param walk the index in order and stop at the page's end.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_runs_experiment_id_start_time", table_name="runs")
    op.create_index("ix_runs_experiment_id_start_time_id", "runs", ["experiment_id", "start_time", "id"])
    op.drop_index("ix_run_latest_metrics_key_value", table_name="run_latest_metrics")
    op.create_index("ix_run_latest_metrics_key_value_run_id", "run_latest_metrics", ["key", "value", "run_id"])
    op.create_index("ix_run_params_key_value_number_run_id", "run_params", ["key", "value_number", "run_id"])


def downgrade() -> None:
    op.drop_index("ix_run_params_key_value_number_run_id", table_name="run_params")
    op.drop_index("ix_run_latest_metrics_key_value_run_id", table_name="run_latest_metrics")
    op.create_index("ix_run_latest_metrics_key_value", "run_latest_metrics", ["key", "value"])
    op.drop_index("ix_runs_experiment_id_start_time_id", table_name="runs")
    op.create_index("ix_runs_experiment_id_start_time", "runs", ["experiment_id", "start_time"])
