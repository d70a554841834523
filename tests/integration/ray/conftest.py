"""One local Ray cluster (a head node and a second node, one loopback address each) for the session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from fti.backends.kinds import create_backend
from fti.backends.ports import Executor
from fti.testing.ray_cluster import RayCluster, loopback_only, ray_cluster


@pytest.fixture(scope="session")
def ray_cluster_address() -> Iterator[str]:
    """The address of a running 2-node cluster, 1 CPU per node; stopped at the end of the session."""
    if not loopback_only():
        pytest.skip("a local Ray cluster needs a loopback-only network: run under tools/loopback-only.sh")
    # a test process of its own loopback network, should two of them start a cluster at once
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    cluster: RayCluster
    with ray_cluster(nodes=2, cpus_per_node=1, network=f"127.0.{1 + int(worker or 0)}") as cluster:
        yield cluster.address


@pytest.fixture(scope="session")
def ray_executor(ray_cluster_address: str) -> Iterator[Executor]:
    """The Ray executor, open on the session's cluster."""
    backend = create_backend("executor", "ray", {"address": ray_cluster_address})
    backend.open()
    yield backend
    backend.close()
