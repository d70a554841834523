"""The serving-ports contract on the in-memory fakes and on the real adapters over a project."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import fti
from fti.core.access import DEFAULT_ROLE, Role
from fti.inference.adapters import CatalogDeploymentSource, CatalogTokenStore, FeatureViewLookup, RegistryResolver
from fti.testing.serving import InMemoryServingWorld
from fti.testing.serving_ports import ServingPortsContract, ServingWorld


class ProjectServingWorld:
    """The adapters ``fti serve`` uses, over a real project (caches off, so changes are seen at once)."""

    def __init__(self, project: fti.Project) -> None:
        self._project = project
        self.resolver = RegistryResolver(project.registry, ttl_seconds=0)
        self.deployments = CatalogDeploymentSource(project.serving)
        self.features = FeatureViewLookup(project.features)
        self.sink = project.inference_log
        self.tokens = CatalogTokenStore(project.api_tokens, ttl_seconds=0)

    def register(self, name: str, estimator: Any, example: pd.DataFrame) -> int:
        with self._project.start_run("serving") as run:
            return run.log_model(estimator, name, input_example=example).version

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self._project.get_model(f"{name}:{version}").set_alias(alias)

    def deploy(self, name: str, variants: dict[str, float]) -> None:
        self._project.deploy(name, variants)

    def undeploy(self, name: str) -> None:
        self._project.undeploy(name)

    def put_features(self, view: str, keys: Sequence[str], frame: pd.DataFrame) -> str:
        group = self._project.create_feature_group(f"{view}_values", primary_key=keys, event_time="ts", online=True)
        group.insert(frame.assign(ts=pd.Timestamp.now(tz="UTC").floor("s")))
        features = [column for column in frame.columns if column not in keys]
        created = self._project.create_feature_view(view, query=group.select(features))
        return f"{created.name}:{created.version}"

    def create_token(self, name: str, role: Role = DEFAULT_ROLE) -> str:
        return self._project.create_token(name, role)

    def revoke_token(self, name: str) -> None:
        self._project.revoke_token(name)

    def logged(self) -> pa.Table:
        return self._project.inference_log.read(include_shadow=True)


@pytest.fixture(params=["in_memory", "project"])
def serving_world(request: pytest.FixtureRequest) -> Iterator[ServingWorld]:
    if request.param == "in_memory":
        yield InMemoryServingWorld()
    else:
        yield ProjectServingWorld(request.getfixturevalue("project"))


class TestServingPorts(ServingPortsContract):
    pass
