"""The web dashboard served by ``fti ui``: feature store, experiments, models, deployments and monitoring at a
glance."""

from __future__ import annotations

from fti.ui.app import create_app

__all__ = ["create_app"]
