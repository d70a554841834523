"""The stream broker on Redis Streams: one Redis stream per partition, consumer groups, checkpoints beside them.

Layout (``<prefix>`` defaults to ``fti``)::

    <stream>                               partition 0: a plain Redis stream any producer can XADD to
    <stream>:p<N>                          partition N >= 1
    <prefix>:stream:<stream>:meta          hash: the partition count
    <prefix>:stream:<stream>:<N>:cp:<group> the group's checkpoint of partition N (bytes)
    <prefix>:stream_jobs                   hash: each running job's latest status (bytes)

A message's fields are the event's columns as text; a null is a field left out. Reads are XREADGROUP with a
large COUNT (one round trip per micro-batch); the acknowledgement (XACK) and the checkpoint (SET), with a job's
output events (XADD) when it has some, go in one MULTI/EXEC, so a consumer killed at any point leaves all of them
or none. Claiming is XAUTOCLAIM from the start of the pending list with no minimum idle time: partitions have one
owner at a time, so whatever another consumer left pending is an orphan. Replies skip redis-py's per-entry dicts
and are decoded column by column into Arrow string arrays.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict

from fti.backends.ports.streams import StreamMessages, StreamOutput
from fti.backends.settings import parse_backend_config
from fti.errors import BackendError, MissingExtraError, ValidationError

if TYPE_CHECKING:
    import redis

__all__ = ["RedisStreamBroker", "RedisStreamConfig"]

T = TypeVar("T")
_PUBLISH_CHUNK = 2_000
_NAME = re.compile(r"^[A-Za-z0-9_.\-:]{1,200}$")


class RedisStreamConfig(BaseModel):
    """Settings of the Redis stream broker: the server URL and the prefix of the keys it keeps beside streams."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "fti"


class RedisStreamBroker:
    """Partitioned streams, consumer groups and checkpoints on a Redis server (STYLE.md B5: connect in open)."""

    def __init__(self, config: RedisStreamConfig) -> None:
        self.config = config
        self._client: redis.Redis | None = None
        self._groups: set[tuple[str, str]] = set()

    @classmethod
    def config_from(cls, options: Mapping[str, Any]) -> RedisStreamConfig:
        """Validate options: ``url`` is ``redis://host:port/db``."""
        return parse_backend_config(RedisStreamConfig, options, "stream_broker")

    def open(self) -> None:
        """Create the client (connections are made on first use)."""
        if self._client is not None:
            return
        try:
            import redis
        except ModuleNotFoundError as exc:
            raise MissingExtraError.for_backend("redis", "redis") from exc
        try:
            client = redis.Redis.from_url(self.config.url, socket_timeout=30, socket_connect_timeout=5)
        except ValueError as exc:
            raise BackendError(f"Invalid stream_broker.url {self.describe()!r}: {exc}") from exc
        # the reply as the parser built it: no per-entry dicts, decoded column by column in read()
        client.set_response_callback("XREADGROUP", _raw_reply)
        self._client = client

    def close(self) -> None:
        """Close the connection pool; idempotent."""
        if self._client is not None:
            self._client.close()
            self._client = None
        self._groups.clear()

    def ping(self) -> None:
        """PING the server."""
        self._call("reach the server", lambda client: client.ping())

    def describe(self) -> str:
        """The server URL without credentials."""
        return re.sub(r"//[^@/]*@", "//", self.config.url)

    # -- streams -----------------------------------------------------------------------------------

    def create_stream(self, stream: str, partitions: int) -> int:
        """Record the partition count unless the stream has one (HSETNX: concurrent creates agree)."""
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise ValidationError(
                f"Stream '{stream}': partitions must be a whole number from 1 up, got {partitions!r}."
            )
        meta = self._meta(stream)
        self._call("create the stream", lambda client: client.hsetnx(meta, "partitions", partitions))
        return self.partitions(stream)

    def partitions(self, stream: str) -> int:
        """The recorded partition count (1 when none is)."""
        meta = self._meta(stream)
        found = self._call("read the stream's partitions", lambda client: client.hget(meta, "partitions"))
        return 1 if found is None else int(found)

    def publish(self, stream: str, events: pa.Table, partitions: Sequence[int]) -> int:
        """XADD each row to its partition, pipelined ``_PUBLISH_CHUNK`` at a time."""
        rows = self._entries(StreamOutput(stream, events, partitions))

        def send(client: redis.Redis) -> int:
            pipe = client.pipeline(transaction=False)
            for row, (key, fields) in enumerate(rows):
                pipe.execute_command("XADD", key, "*", *fields)  # type: ignore[no-untyped-call]
                if (row + 1) % _PUBLISH_CHUNK == 0:
                    pipe.execute()
            pipe.execute()
            return len(partitions)

        return self._call("publish events", send)

    # -- consuming ---------------------------------------------------------------------------------

    def claim(self, stream: str, partition: int, group: str, consumer: str) -> int:
        """XAUTOCLAIM every pending message of the partition's group for ``consumer``."""
        key = self._key(stream, partition)
        self._ensure_group(key, group)

        def run(client: redis.Redis) -> int:
            claimed, start = 0, "0-0"
            while True:
                reply = client.xautoclaim(key, group, consumer, 0, start, count=1000)
                start = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
                claimed += len(reply[1])
                if start == "0-0":
                    return claimed

        return self._call("claim pending messages", run)

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
        """XREADGROUP from ``0`` (pending) or ``>`` (new), decoded into string columns."""
        key = self._key(stream, partition)
        self._ensure_group(key, group)

        def run(client: redis.Redis) -> Any:
            return client.xreadgroup(
                group, consumer, {key: "0" if is_pending else ">"}, count=count, block=None if is_pending else block_ms
            )

        reply = self._call("read messages", run)
        return _messages(partition, _entries(reply), fields)

    def commit(self, stream: str, partition: int, group: str, ids: Sequence[str], checkpoint: bytes) -> None:
        """XACK and SET in one MULTI/EXEC."""
        key = self._key(stream, partition)
        saved = self._checkpoint_key(stream, partition, group)

        def run(client: redis.Redis) -> None:
            pipe = client.pipeline(transaction=True)
            if ids:
                pipe.xack(key, group, *ids)
            pipe.set(saved, checkpoint)
            pipe.execute()

        self._call("acknowledge messages", run)

    def commit_with_outputs(
        self,
        stream: str,
        partition: int,
        group: str,
        ids: Sequence[str],
        checkpoint: bytes,
        outputs: Sequence[StreamOutput],
    ) -> None:
        """XADD the outputs, XACK and SET in one MULTI/EXEC."""
        key = self._key(stream, partition)
        saved = self._checkpoint_key(stream, partition, group)
        entries = [entry for output in outputs for entry in self._entries(output)]

        def run(client: redis.Redis) -> None:
            pipe = client.pipeline(transaction=True)
            for target, fields in entries:
                pipe.execute_command("XADD", target, "*", *fields)  # type: ignore[no-untyped-call]
            if ids:
                pipe.xack(key, group, *ids)
            pipe.set(saved, checkpoint)
            pipe.execute()

        self._call("append outputs and acknowledge messages", run)

    def checkpoint(self, stream: str, partition: int, group: str) -> bytes | None:
        """GET the saved checkpoint."""
        saved = self._checkpoint_key(stream, partition, group)
        found = self._call("read the checkpoint", lambda client: client.get(saved))
        return None if found is None else found if isinstance(found, bytes) else found.encode()

    def pending(self, stream: str, partition: int, group: str) -> int:
        """The group's lag (entries not yet delivered) plus its pending entries, from XINFO GROUPS."""
        key = self._key(stream, partition)

        def run(client: redis.Redis) -> int:
            if not client.exists(key):
                return 0
            for info in client.xinfo_groups(key):
                name = info["name"].decode() if isinstance(info["name"], bytes) else info["name"]
                if name == group:
                    return int(info.get("lag") or 0) + int(info["pending"])
            return int(client.xlen(key))

        return self._call("measure the lag", run)

    # -- job statuses ------------------------------------------------------------------------------

    def record_status(self, job: str, status: bytes) -> None:
        """HSET the job's field of ``<prefix>:stream_jobs``."""
        self._call("record the job's status", lambda client: client.hset(self._statuses_key(), job, status))

    def statuses(self) -> dict[str, bytes]:
        """HGETALL ``<prefix>:stream_jobs``."""
        found = self._call("read the jobs' statuses", lambda client: client.hgetall(self._statuses_key()))
        return {_decoded(name): value if isinstance(value, bytes) else value.encode() for name, value in found.items()}

    # -- internals ---------------------------------------------------------------------------------

    def _key(self, stream: str, partition: int) -> str:
        if not _NAME.match(stream):
            raise ValidationError(f"Invalid stream name {stream!r}: use letters, digits, '_', '.', '-' or ':'.")
        return stream if partition == 0 else f"{stream}:p{partition}"

    def _meta(self, stream: str) -> str:
        self._key(stream, 0)
        return f"{self.config.key_prefix}:stream:{stream}:meta"

    def _statuses_key(self) -> str:
        return f"{self.config.key_prefix}:stream_jobs"

    def _entries(self, output: StreamOutput) -> list[tuple[str, list[Any]]]:
        """Each row of ``output`` as its partition's key and its XADD fields (nulls left out)."""
        names = [name.encode() for name in output.events.column_names]
        columns = [pc.cast(column, pa.string()).to_pylist() for column in output.events.columns]
        keys = {partition: self._key(output.stream, partition) for partition in set(output.partitions)}
        entries: list[tuple[str, list[Any]]] = []
        for row, partition in enumerate(output.partitions):
            fields: list[Any] = []
            for name, values in zip(names, columns, strict=True):
                if values[row] is not None:
                    fields += (name, values[row])
            entries.append((keys[partition], fields))
        return entries

    def _checkpoint_key(self, stream: str, partition: int, group: str) -> str:
        return f"{self.config.key_prefix}:stream:{stream}:{partition}:cp:{group}"

    def _ensure_group(self, key: str, group: str) -> None:
        if (key, group) in self._groups:
            return

        def run(client: redis.Redis) -> None:
            import redis

            try:
                client.xgroup_create(key, group, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

        self._call("create the consumer group", run)
        self._groups.add((key, group))

    def _call(self, action: str, function: Callable[[redis.Redis], T]) -> T:
        if self._client is None:
            raise BackendError(f"Stream broker {self.describe()} is not open; call open() first.")
        import redis

        try:
            return function(self._client)
        except redis.RedisError as exc:
            raise BackendError(f"Stream broker {self.describe()} could not {action}: {exc}") from exc


def _raw_reply(response: Any, **options: Any) -> Any:
    return response


def _entries(reply: Any) -> list[Any]:
    """The ``[id, [field, value, ...]]`` entries of a one-stream XREADGROUP reply (RESP2 list or RESP3 map)."""
    if not reply:
        return []
    streams = list(reply.values()) if isinstance(reply, dict) else [item[1] for item in reply]
    return [entry for entry in streams[0] if entry[1]]  # a deleted entry has no fields


def _messages(partition: int, entries: list[Any], fields: Sequence[str]) -> StreamMessages:
    """Entries decoded column by column: every field name and value of the batch go into one Arrow array, and
    each wanted column is picked from it by a vectorized comparison (a message lacking a field gets a null)."""
    count = len(entries)
    if count == 0:
        return StreamMessages(partition, (), pa.table({name: pa.array([], pa.string()) for name in fields}), ())
    # map and itemgetter run in C: a third of the cost of generator expressions over the entries
    ids = pc.cast(pa.array(list(map(itemgetter(0), entries)), pa.binary()), pa.string())
    bodies = list(map(itemgetter(1), entries))
    sizes = np.fromiter(map(len, bodies), dtype=np.int64, count=count) // 2
    pairs = pa.array(list(itertools.chain.from_iterable(bodies)), pa.binary())
    names = pairs.take(pa.array(np.arange(0, len(pairs), 2, dtype=np.int64)))
    values = pairs.take(pa.array(np.arange(1, len(pairs), 2, dtype=np.int64)))
    owner = np.repeat(np.arange(count, dtype=np.int64), sizes)
    columns = {name: _text(_column(names, values, owner, count, name)) for name in fields}
    # an entry id starts with the server's clock in milliseconds when the entry was added
    arrived = pc.cast(pc.list_element(pc.split_pattern(ids, "-"), 0), pa.int64())
    return StreamMessages(partition, tuple(ids.to_pylist()), pa.table(columns), tuple(arrived.to_pylist()))


def _column(names: pa.Array, values: pa.Array, owner: np.ndarray, count: int, name: str) -> pa.Array:
    found = pc.equal(names, pa.scalar(name.encode(), pa.binary())).to_numpy(zero_copy_only=False)
    picked = values.filter(pa.array(found))
    rows = owner[found]
    if len(rows) == count and bool((rows == np.arange(count)).all()):  # each message has it once, in order
        return picked
    positions = np.full(count, -1, dtype=np.int64)
    positions[rows] = np.arange(len(rows), dtype=np.int64)  # a field given twice: the last one counts
    return picked.take(pa.array(positions, mask=positions < 0))


def _text(raw: pa.Array) -> pa.Array:
    """Bytes as UTF-8 text; an invalid sequence is replaced rather than failing the batch."""
    try:
        return pc.cast(raw, pa.string())
    except pa.ArrowInvalid:
        return pa.array([None if v is None else v.decode("utf-8", "replace") for v in raw.to_pylist()], pa.string())


def _decoded(name: bytes | str) -> str:
    return name.decode() if isinstance(name, bytes) else name
