"""Orchestration: the event log, pipelines with their schedule and event cursors, and pipeline runs."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Index, Integer, String, Table, Text, UniqueConstraint

from fti.backends.catalog.schema.base import metadata
from fti.backends.catalog.schema.tracking import AUTO_ID

__all__ = ["events", "pipeline_runs", "pipelines"]

events = Table(
    "events",
    metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("subject", String(250), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("pipeline_run_id", String(32), nullable=True),
    Index("ix_events_pipeline_run_id", "pipeline_run_id"),
)

pipelines = Table(
    "pipelines",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("definition", JSON, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("schedule_cursor", DateTime(timezone=True), nullable=False),
    Column("event_cursor", AUTO_ID, nullable=False),
)

pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("pipeline", String(128), nullable=False),
    Column("slot", String(128), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("params", JSON, nullable=False),
    Column("scheduled_for", DateTime(timezone=True), nullable=True),
    Column("event_id", AUTO_ID, nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("owner", String(128), nullable=True),
    Column("lease_expires_at", DateTime(timezone=True), nullable=True),
    Column("error", Text, nullable=True),
    Column("reads", JSON, nullable=False),
    UniqueConstraint("pipeline", "slot", "attempt"),
    Index("ix_pipeline_runs_state_due_at", "state", "due_at"),
    Index("ix_pipeline_runs_pipeline_created_at", "pipeline", "created_at"),
)
