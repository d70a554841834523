"""The offline-store contract on a local folder and on a real S3 API server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fti.backends.kinds import create_backend
from fti.backends.ports import OfflineStore
from fti.errors import ValidationError
from fti.testing.offline_store import OfflineStoreContract


@pytest.fixture(params=["local", "s3"])
def offline_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OfflineStore]:
    if request.param == "local":
        store = create_backend("offline_store", "local", {"uri": str(tmp_path / "offline")})
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = request.getfixturevalue("s3_bucket")
        store = create_backend("offline_store", "s3", {"uri": f"s3://{bucket}/proj", "endpoint_url": endpoint})
    store.open()
    yield store
    store.close()


class TestOfflineStores(OfflineStoreContract):
    pass


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("relative/folder", "the folder must be an absolute path"),
        ("s3:///prefix", "expected s3://bucket/prefix"),
        ("gs://bucket/x", "expected a folder or s3://bucket/prefix"),
    ],
)
def test_bad_uris_are_rejected(uri: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        create_backend("offline_store", "local", {"uri": uri})
