"""The artifact-store contract on the local folder and on a real S3 API server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fti.backends.kinds import create_backend
from fti.backends.ports import ArtifactStore
from fti.testing.artifact_store import ArtifactStoreContract


@pytest.fixture(params=["local", "s3"])
def artifact_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == "local":
        store = create_backend("artifact_store", "local", {"uri": str(tmp_path / "artifacts")})
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = request.getfixturevalue("s3_bucket")
        store = create_backend("artifact_store", "s3", {"uri": f"s3://{bucket}/proj", "endpoint_url": endpoint})
    store.open()
    yield store
    store.close()


class TestArtifactStores(ArtifactStoreContract):
    pass
