"""The stream broker contract on a real Redis server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fti.backends.kinds import create_backend
from fti.backends.ports import StreamBroker
from fti.testing.stream_broker import StreamBrokerContract


@pytest.fixture
def broker(redis_url: str) -> Iterator[StreamBroker]:
    backend = create_backend("stream_broker", "redis", {"url": redis_url})
    backend.open()
    yield backend
    backend.close()


class TestRedisStreamBroker(StreamBrokerContract):
    pass


def test_an_unreachable_server_is_a_backend_error_naming_it() -> None:
    from fti.errors import BackendError

    backend = create_backend("stream_broker", "redis", {"url": "redis://127.0.0.1:1/0"})
    backend.open()
    try:
        with pytest.raises(BackendError, match=r"Stream broker redis://127.0.0.1:1/0 could not read the stream's"):
            backend.partitions("transactions")
    finally:
        backend.close()
