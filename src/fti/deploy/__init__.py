"""Deployment beyond the laptop: Docker and Kubernetes export, and the model validation gate for CI/CD."""

from __future__ import annotations
