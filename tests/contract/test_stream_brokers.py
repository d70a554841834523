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


def test_messages_written_by_any_producer_are_read_by_field_name(broker: StreamBroker, redis_url: str) -> None:
    import redis

    with redis.Redis.from_url(redis_url) as client:
        client.xadd("foreign", {"amount": "1.5", "cc_num": "a", "extra": "x"})
        client.xadd("foreign", {"cc_num": "b"})
        deleted = client.xadd("foreign", {"cc_num": "gone"})
        client.xadd("foreign", {"ts": "2024-01-01", "cc_num": "c", "amount": "2"})
        client.execute_command("XADD", "foreign", "*", "cc_num", "d1", "cc_num", "d2")
        client.xgroup_create("foreign", "readers", id="0")
        client.xreadgroup("readers", "one", {"foreign": ">"}, count=3)
        client.xdel("foreign", deleted)
    pending = broker.read(
        "foreign", 0, "readers", "one", fields=["cc_num", "amount"], count=10, block_ms=1, is_pending=True
    )
    assert pending.events.to_pydict() == {"cc_num": ["a", "b"], "amount": ["1.5", None]}
    fresh = broker.read("foreign", 0, "readers", "one", fields=["cc_num", "amount", "ts"], count=10, block_ms=1)
    assert fresh.events.to_pydict() == {"cc_num": ["c", "d2"], "amount": ["2", None], "ts": ["2024-01-01", None]}
    assert [int(i.partition("-")[0]) for i in fresh.ids] == list(fresh.arrived_ms)
