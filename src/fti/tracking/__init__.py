"""Experiment tracking: runs with params, buffered metrics, tags, artifacts and training-data lineage."""

from __future__ import annotations

from fti.tracking.run import Run
from fti.tracking.service import TrackingService

__all__ = ["Run", "TrackingService"]
