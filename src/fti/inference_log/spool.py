"""The request log's local spool: what the server acknowledged survives a crash (SIGKILL, power loss of the
process) before it reaches the inference log.

The request log's writer thread appends the rows it takes off its queue to the current spool segment (an Arrow
IPC stream file) and syncs it to disk every ``spool_seconds`` (0.1 s by default), off the request path. Once the
rows are committed to the inference log, the segment is deleted and a new one begun. A process that dies leaves
its segment behind; the next server to start replays every segment no live process holds into the log, rows
already logged skipped, so each prediction is logged exactly once. What is lost in a crash is bounded by the
interval: at most the rows acknowledged in the last ``spool_seconds`` before it.

A live segment is held by an exclusive ``flock``, which the kernel releases when its process dies, so several
worker processes share one spool folder safely: each replays only what a dead process left.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.ipc as ipc

__all__ = ["RequestSpool"]

_logger = logging.getLogger(__name__)
_SUFFIX = ".arrows"


class RequestSpool:
    """An append-only spool of request-log batches in ``folder``, one segment per flush of the log.

    Args:
        folder: where the segments are kept (created when missing).
    """

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self._file: IO[bytes] | None = None
        self._writer: ipc.RecordBatchStreamWriter | None = None
        self._path: Path | None = None
        self._schema: pa.Schema | None = None

    @property
    def path(self) -> Path | None:
        """The current segment (None before the first append after a rotation)."""
        return self._path

    def append(self, table: pa.Table) -> None:
        """Append ``table`` to the current segment and sync it to disk (a new segment on first use)."""
        if self._writer is None or self._schema is None or not table.schema.equals(self._schema):
            self.rotate(keep=True)
            self._begin(table.schema)
        assert self._writer is not None and self._file is not None
        self._writer.write_table(table)
        self._file.flush()
        os.fsync(self._file.fileno())

    def rotate(self, *, keep: bool = False) -> None:
        """Close the current segment: delete it (its rows are in the log), or ``keep`` it for a later replay."""
        if self._writer is not None:
            self._writer.close()
        if self._file is not None:
            self._file.close()  # releases the lock: a segment kept is replayed by the next server to start
        if self._path is not None and not keep:
            self._path.unlink(missing_ok=True)
        self._file = self._writer = self._path = self._schema = None

    def replay(self, write: Callable[[pa.Table], object]) -> int:
        """Hand every segment no live process holds to ``write`` (whose rows already logged it must skip), then
        delete it; returns the rows read. A segment cut short by a crash gives the batches before the cut."""
        self.folder.mkdir(parents=True, exist_ok=True)
        rows = 0
        for path in sorted(self.folder.glob(f"*{_SUFFIX}")):
            if path == self._path:
                continue
            try:
                handle = path.open("rb")
            except FileNotFoundError:  # replayed and deleted by another worker meanwhile
                continue
            with handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # held by a live process: its own rows
                    continue
                table = _read_segment(handle, path)
                if table is not None and table.num_rows:
                    write(table)
                    rows += table.num_rows
                path.unlink(missing_ok=True)
        return rows

    def _begin(self, schema: pa.Schema) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{os.getpid()}-{uuid.uuid4().hex}"
        # locked under a name replay does not look at, then renamed: no other process sees it unlocked
        draft = self.folder / f"{name}.draft"
        handle = draft.open("wb")
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        path = draft.rename(self.folder / f"{name}{_SUFFIX}")
        self._file, self._path, self._schema = handle, path, schema
        self._writer = ipc.new_stream(handle, schema)


def _read_segment(handle: IO[bytes], path: Path) -> pa.Table | None:
    """The whole batches of a segment; a torn last batch (the process died while writing it) is left out."""
    batches: list[pa.RecordBatch] = []
    try:
        reader = ipc.open_stream(handle)
    except (pa.ArrowInvalid, OSError):  # died before the schema was written: nothing acknowledged in it
        return None
    with contextlib.suppress(StopIteration):
        while True:
            try:
                batches.append(reader.read_next_batch())
            except (pa.ArrowInvalid, OSError):
                _logger.warning(
                    "Request log spool %s ends in a torn batch (a crash while writing); kept the rest.", path
                )
                break
    return pa.Table.from_batches(batches, reader.schema)
