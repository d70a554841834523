"""A registry of real scikit-learn models, deployments, a feature table and a log sink for server tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from fti.core.access import Identity
from fti.core.deployments import Deployment
from fti.inference.server import ServingSettings, create_app
from fti.testing.serving import (
    InMemoryDeploymentSource,
    InMemoryFeatureLookup,
    InMemoryModelRegistry,
    MemoryLogSink,
    StaticTokenStore,
    running_app,
)

SCHEMA = [("amount", "float64"), ("hour", "float64"), ("distance", "float64")]
COLUMNS = [column for column, _ in SCHEMA]


@dataclass
class Stack:
    """Everything behind one running server."""

    registry: InMemoryModelRegistry
    deployments: InMemoryDeploymentSource
    features: InMemoryFeatureLookup
    sink: MemoryLogSink
    estimators: dict[int, Any]

    def expected(self, version: int, frame: pd.DataFrame) -> np.ndarray:
        """What version ``version`` of 'fraud' predicts for ``frame``."""
        return np.asarray(self.estimators[version].predict(frame[COLUMNS].astype(float)))


def _fit(seed: int) -> LinearRegression:
    """A fraud score: a linear model of the three inputs (continuous, so every version answers differently)."""
    random = np.random.default_rng(seed)
    features = pd.DataFrame(random.normal(size=(400, 3)), columns=COLUMNS)
    return LinearRegression().fit(features, features.to_numpy() @ random.normal(size=3))


def rows(count: int, seed: int = 0) -> pd.DataFrame:
    """``count`` rows of model inputs."""
    random = np.random.default_rng(seed)
    return pd.DataFrame(random.normal(size=(count, 3)), columns=COLUMNS)


@pytest.fixture
def stack() -> Stack:
    """'fraud' v1 (champion) and v2 (challenger), a shadow model, a broken model and four deployments."""
    return build_stack(_fit)


def build_stack(fit: Callable[[int], Any]) -> Stack:
    """The registry, deployments and features behind a server, with ``fit(seed)`` as 'fraud' v1, v2 and its shadow."""
    registry = InMemoryModelRegistry()
    estimators = {1: fit(1), 2: fit(2)}
    for version in (1, 2):
        registry.register("fraud", estimators[version], SCHEMA, output_name="fraud_probability")
    registry.set_alias("fraud", "champion", 1)
    registry.set_alias("fraud", "challenger", 2)
    registry.register("fraud-shadow", fit(3), SCHEMA, output_name="fraud_probability")
    registry.register("broken", LinearRegression(), SCHEMA)  # never fitted: predicting fails
    deployments = InMemoryDeploymentSource(
        [
            Deployment.create("fraud", {"fraud@champion": 1.0}, entity_keys=["cc_num"], feature_lookup="cards"),
            Deployment.create(
                "ab",
                {"fraud@champion": 0.5, "fraud@challenger": 0.5},
                shadow="fraud-shadow",
                entity_keys=["cc_num"],
            ),
            Deployment.create("broken", {"broken": 1.0}),
        ]
    )
    features = InMemoryFeatureLookup()
    table = rows(10, seed=5).assign(cc_num=np.arange(100, 110))
    features.put("cards", ["cc_num"], table)
    return Stack(registry, deployments, features, MemoryLogSink(), estimators)


ServerFactory = Callable[..., AbstractContextManager[str]]


@pytest.fixture
def serve(stack: Stack) -> Iterator[ServerFactory]:
    """Start a real uvicorn server over ``stack``: ``with serve(tokens=..., **settings) as url: ...``."""

    def start(
        tokens: list[str] | dict[str, Identity] | None = None, **overrides: object
    ) -> AbstractContextManager[str]:
        options: dict[str, object] = {"refresh_seconds": 0.05, "log_flush_seconds": 0.05, "seed": 7}
        options.update(overrides)
        settings = ServingSettings.model_validate(options)
        store = StaticTokenStore(tokens) if tokens is not None else None
        app = create_app(stack.registry, stack.deployments, stack.features, stack.sink, settings, tokens=store)
        return running_app(app)

    yield start


@pytest.fixture
def url(serve: ServerFactory) -> Iterator[str]:
    """A running server with default settings."""
    with serve() as base:
        yield base
