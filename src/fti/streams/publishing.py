"""Publishing events to a stream: each event goes to the partition its key hashes to, so one key's events
stay in order on one partition and one worker holds each key's window state."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.errors import ValidationError
from fti.features.ingest import source_batches

if TYPE_CHECKING:
    from fti.backends.ports import StreamBroker

__all__ = ["partition_of", "publish"]


def publish(
    broker: StreamBroker,
    stream: str,
    events: Any,
    *,
    key: Sequence[str] | None = None,
    partitions: int | None = None,
) -> int:
    """Append ``events`` (a DataFrame, an Arrow table or record batches) to ``stream``; return how many.

    With ``key``, each event goes to the partition its key hashes to (``partitions`` creates the stream with
    that many if it has none yet); without, everything goes to partition 0. Values travel as text.

    Raises:
        ValidationError: a key column is missing, or the stream has several partitions and no ``key`` was given.

    Example:
        >>> fti.streams.publish(project.stream_broker, "transactions", df, key=["cc_num"])  # doctest: +SKIP
    """
    count = broker.create_stream(stream, partitions) if partitions is not None else broker.partitions(stream)
    schema, batches = source_batches(events, f"Publish to stream '{stream}'")
    columns = list(key or [])
    missing = [column for column in columns if column not in schema.names]
    if missing:
        raise ValidationError(
            f"Publish to stream '{stream}': no key column {', '.join(repr(c) for c in missing)}; "
            f"the events have {', '.join(schema.names)}."
        )
    if count > 1 and not columns:
        raise ValidationError(
            f"Stream '{stream}' has {count} partitions: pass key=[...] so each key's events stay on one partition."
        )
    published = 0
    for batch in batches:
        table = pa.Table.from_batches([batch])
        targets = partition_of(table, columns, count) if columns else np.zeros(table.num_rows, dtype=np.int64)
        published += broker.publish(stream, table, targets.tolist())
    return published


def partition_of(events: pa.Table, key: Sequence[str], partitions: int) -> np.ndarray:
    """Each event's partition: CRC-32 of its key's text modulo ``partitions`` (stable across processes).

    The hash is taken once per distinct key, so a batch costs one pass over its distinct keys.
    """
    if partitions == 1:
        return np.zeros(events.num_rows, dtype=np.int64)
    parts = [pc.cast(events.column(column), pa.string()) for column in key]
    text = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "\x1f")
    encoded = pc.dictionary_encode(pc.fill_null(text, "")).combine_chunks()
    hashes = np.array([zlib.crc32(value.encode()) % partitions for value in encoded.dictionary.to_pylist()])
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    return hashes[indices].astype(np.int64) if len(hashes) else np.zeros(0, dtype=np.int64)
