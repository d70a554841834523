"""The stream broker port: partitioned, append-only streams of events read by consumer groups.

Small on purpose, so another broker (Kafka, with confluent-kafka) is one adapter file: a stream has a fixed
number of partitions (Kafka's partitions); a group's consumers read a partition's messages in order, each
message delivered to one consumer and pending until acknowledged (Kafka: uncommitted offsets); a consumer that
takes a partition over claims what a dead one left pending (Kafka: a rebalance, a no-op there); a checkpoint
(bytes) is saved together with the acknowledgement, atomically (Kafka: a transaction, or offsets stored with
the checkpoint). A job that writes events to other streams (predictions, dead letters) appends them in the
same atomic step as the acknowledgement (Kafka: a transactional producer with ``send_offsets_to_transaction``).
Running jobs record a small status each (their lag and freshness) for the dashboard to list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from fti.backends.ports.storage import Connectable

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["StreamBroker", "StreamMessages", "StreamOutput"]


@dataclass(frozen=True, slots=True)
class StreamMessages:
    """Messages read from one partition, oldest first: their ids and their fields as a table of text.

    ``events`` has one row per message and one string column per field asked for (null where a message
    lacks the field); ``arrived_ms`` is when each message reached the broker (milliseconds since the epoch).
    """

    partition: int
    ids: tuple[str, ...]
    events: pa.Table
    arrived_ms: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class StreamOutput:
    """Events to append to ``stream``, each row to its partition (values written as text, nulls left out)."""

    stream: str
    events: pa.Table
    partitions: Sequence[int]


class StreamBroker(Connectable, Protocol):
    """Partitioned streams of events with consumer groups, acknowledgements and checkpoints."""

    def create_stream(self, stream: str, partitions: int) -> int:
        """Create ``stream`` with ``partitions`` partitions unless it exists; return its partition count."""

    def partitions(self, stream: str) -> int:
        """How many partitions ``stream`` has (1 for a stream never created)."""

    def publish(self, stream: str, events: pa.Table, partitions: Sequence[int]) -> int:
        """Append each row of ``events`` (values written as text, nulls left out) to its partition, in order."""

    def claim(self, stream: str, partition: int, group: str, consumer: str) -> int:
        """Make ``consumer`` the owner of every message of the partition pending on another consumer of the
        group (one that died or gave the partition up); return how many it claimed."""

    def read(
        self,
        stream: str,
        partition: int,
        group: str,
        consumer: str,
        *,
        fields: Sequence[str],
        count: int,
        block_ms: int,
        is_pending: bool = False,
    ) -> StreamMessages:
        """The next ``count`` messages of the partition for ``consumer`` (creating the group, from the start,
        if absent), waiting up to ``block_ms`` for new ones; with ``is_pending``, instead the messages already
        delivered to ``consumer`` and not acknowledged, from the oldest."""

    def commit(self, stream: str, partition: int, group: str, ids: Sequence[str], checkpoint: bytes) -> None:
        """Acknowledge ``ids`` and save ``checkpoint`` for the group's partition, in one atomic step."""

    def commit_with_outputs(
        self,
        stream: str,
        partition: int,
        group: str,
        ids: Sequence[str],
        checkpoint: bytes,
        outputs: Sequence[StreamOutput],
    ) -> None:
        """Append ``outputs``, acknowledge ``ids`` and save ``checkpoint``, in one atomic step: a consumer killed at
        any moment leaves all of it done or none of it."""

    def checkpoint(self, stream: str, partition: int, group: str) -> bytes | None:
        """The group's last saved checkpoint of the partition, or None."""

    def pending(self, stream: str, partition: int, group: str) -> int:
        """How many messages of the partition the group has not acknowledged, delivered or not (its lag)."""

    def record_status(self, job: str, status: bytes) -> None:
        """Save the latest status of the running job ``job`` (replacing the one before)."""

    def statuses(self) -> dict[str, bytes]:
        """The latest status of every job that recorded one, by job."""
