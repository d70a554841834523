"""An app factory for running the server in its own processes (``--workers``) in tests."""

from __future__ import annotations

import pandas as pd
from fastapi import FastAPI
from sklearn.linear_model import LogisticRegression

from fti.core.deployments import Deployment
from fti.inference.server import ServingSettings, create_app
from fti.testing.serving import InMemoryDeploymentSource, InMemoryModelRegistry, MemoryLogSink


def build_app() -> FastAPI:
    """Deployment 'fraud' over a two-feature logistic regression."""
    registry = InMemoryModelRegistry()
    features = pd.DataFrame([[0.0, 1.0], [1.0, 0.0], [0.5, 0.2], [0.9, 0.9]], columns=["a", "b"])
    registry.register("fraud", LogisticRegression().fit(features, [0, 1, 0, 1]), [("a", "float64"), ("b", "float64")])
    deployments = InMemoryDeploymentSource([Deployment.create("fraud", {"fraud": 1.0})])
    return create_app(registry, deployments, None, MemoryLogSink(), ServingSettings())
