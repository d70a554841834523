"""The contract every StreamBroker implementation passes: provide a fixture ``broker`` (open) whose streams no
other test uses (each test here names its own)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pyarrow as pa
import pytest

from fti.backends.ports.streams import StreamOutput
from fti.errors import ValidationError

if TYPE_CHECKING:
    from fti.backends.ports import StreamBroker

__all__ = ["StreamBrokerContract"]

FIELDS = ["card", "amount"]


def _stream() -> str:
    return f"contract_{uuid.uuid4().hex[:12]}"


def _events(count: int, first: int = 0) -> pa.Table:
    return pa.table(
        {
            "card": [f"c{n}" for n in range(first, first + count)],
            "amount": pa.array([None if n % 3 == 0 else n * 1.5 for n in range(first, first + count)]),
        }
    )


class StreamBrokerContract:
    """Partitions, ordered reads, pending messages, claiming, atomic acknowledgement with a checkpoint."""

    def test_a_stream_keeps_the_partition_count_it_was_created_with(self, broker: StreamBroker) -> None:
        stream = _stream()
        assert broker.partitions(stream) == 1
        assert broker.create_stream(stream, 3) == 3
        assert broker.create_stream(stream, 5) == 3
        with pytest.raises(ValidationError, match="partitions must be a whole number from 1 up"):
            broker.create_stream(_stream(), 0)

    def test_messages_come_in_order_as_text_with_nulls_left_out(self, broker: StreamBroker) -> None:
        stream = _stream()
        broker.create_stream(stream, 2)
        assert broker.publish(stream, _events(6), [0, 1, 0, 1, 0, 1]) == 6
        read = broker.read(stream, 0, "g", "a", fields=[*FIELDS, "absent"], count=10, block_ms=10)
        assert read.partition == 0
        assert read.events.column("card").to_pylist() == ["c0", "c2", "c4"]
        assert read.events.column("amount").to_pylist() == [None, "3", "6"]
        assert read.events.column("absent").to_pylist() == [None, None, None]
        assert len(read.ids) == len(read.arrived_ms) == 3
        assert broker.read(stream, 0, "g", "a", fields=FIELDS, count=10, block_ms=10).ids == ()

    def test_unacknowledged_messages_stay_pending_until_committed(self, broker: StreamBroker) -> None:
        stream = _stream()
        broker.publish(stream, _events(5), [0] * 5)
        first = broker.read(stream, 0, "g", "a", fields=FIELDS, count=3, block_ms=10)
        assert broker.pending(stream, 0, "g") == 5
        again = broker.read(stream, 0, "g", "a", fields=FIELDS, count=10, block_ms=10, is_pending=True)
        assert again.ids == first.ids
        broker.commit(stream, 0, "g", list(first.ids), b"state after three")
        assert broker.checkpoint(stream, 0, "g") == b"state after three"
        assert broker.checkpoint(stream, 0, "other") is None
        assert broker.read(stream, 0, "g", "a", fields=FIELDS, count=10, block_ms=10, is_pending=True).ids == ()
        assert broker.pending(stream, 0, "g") == 2

    def test_a_consumer_claims_what_another_left_pending(self, broker: StreamBroker) -> None:
        stream = _stream()
        broker.publish(stream, _events(4), [0] * 4)
        left = broker.read(stream, 0, "g", "dead", fields=FIELDS, count=4, block_ms=10)
        assert broker.claim(stream, 0, "g", "heir") == 4
        claimed = broker.read(stream, 0, "g", "heir", fields=FIELDS, count=10, block_ms=10, is_pending=True)
        assert claimed.ids == left.ids
        assert claimed.events.column("card").to_pylist() == ["c0", "c1", "c2", "c3"]

    def test_two_consumers_of_a_group_never_get_the_same_message(self, broker: StreamBroker) -> None:
        stream = _stream()
        broker.publish(stream, _events(10), [0] * 10)
        one = broker.read(stream, 0, "g", "a", fields=FIELDS, count=6, block_ms=10)
        two = broker.read(stream, 0, "g", "b", fields=FIELDS, count=6, block_ms=10)
        assert len(one.ids) + len(two.ids) == 10
        assert not set(one.ids) & set(two.ids)

    def test_outputs_are_appended_with_the_acknowledgement(self, broker: StreamBroker) -> None:
        stream, target = _stream(), _stream()
        broker.create_stream(target, 2)
        broker.publish(stream, _events(3), [0] * 3)
        read = broker.read(stream, 0, "g", "a", fields=FIELDS, count=10, block_ms=10)
        outputs = pa.table({"event_id": list(read.ids), "score": [0.5, None, 1.5]})
        broker.commit_with_outputs(stream, 0, "g", list(read.ids), b"cp", [StreamOutput(target, outputs, [1, 1, 0])])
        assert broker.pending(stream, 0, "g") == 0
        assert broker.checkpoint(stream, 0, "g") == b"cp"
        one = broker.read(target, 1, "g", "a", fields=["event_id", "score"], count=10, block_ms=10)
        assert one.events.column("event_id").to_pylist() == list(read.ids[:2])
        assert one.events.column("score").to_pylist() == ["0.5", None]
        zero = broker.read(target, 0, "g", "a", fields=["event_id", "score"], count=10, block_ms=10)
        assert zero.events.column("score").to_pylist() == ["1.5"]

    def test_a_job_status_replaces_the_one_before(self, broker: StreamBroker) -> None:
        job = _stream()
        broker.record_status(job, b"first")
        broker.record_status(job, b"second")
        assert broker.statuses()[job] == b"second"
