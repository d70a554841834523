"""The inference log service's one cache: the tables' data files with what was read of them, and query results.

Per table, the cache holds its data files at the version last looked at (:class:`~fti.inference_log.files.
TableFiles`); a reader says how old that look may be (``max_age`` seconds: 0 looks for a new version now, the
dashboard allows a few seconds). A new version keeps the files already read and adds its own.

It is bounded twice: the scalar columns the files keep in memory by bytes (``max_column_bytes``; past it, the
files read longest ago drop their columns and read them again when next needed; their footers and summaries, a
few kilobytes, stay), and the query results by count (``max_results``, least recently used out first). A result is
kept under a key naming the table versions it read, so a new commit never serves an old result.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from fti.inference_log.files import DataFile, TableFiles, open_table_files

if TYPE_CHECKING:
    from fti.backends.ports import OfflineStore

__all__ = ["MAX_COLUMN_BYTES", "MAX_RESULTS", "LogCache", "TableSpec"]

MAX_RESULTS = 256
MAX_COLUMN_BYTES = 1 << 30
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A table the cache holds: its name, the columns its files keep and which of them are dictionary-encoded."""

    name: str
    columns: tuple[str, ...]
    dictionary: tuple[str, ...] = ()


class LogCache:
    """The files of the log's tables and the results computed from them (see the module docstring).

    Args:
        offline: the offline store holding the tables.
        max_results: query results kept at most.
        max_column_bytes: bytes of scalar columns the files keep in memory at most.
    """

    def __init__(
        self, offline: OfflineStore, *, max_results: int = MAX_RESULTS, max_column_bytes: int = MAX_COLUMN_BYTES
    ) -> None:
        self._offline = offline
        self._max_results = max_results
        self._max_column_bytes = max_column_bytes
        self._tables: dict[str, tuple[TableFiles, float]] = {}
        self._results: OrderedDict[Hashable, Any] = OrderedDict()
        self._read: OrderedDict[DataFile, int] = OrderedDict()
        self._read_bytes = 0
        self._lock = threading.Lock()
        self._tables_lock = threading.Lock()

    def files(self, table: TableSpec, *, max_age: float = 0.0) -> TableFiles:
        """The files of ``table`` at a version looked up at most ``max_age`` seconds ago."""
        with self._tables_lock:
            found = self._tables.get(table.name)
            now = time.monotonic()
            if found is not None and now - found[1] <= max_age:
                return found[0]
            version = self._offline.version(table.name)
            previous = None if found is None else found[0]
            if previous is None or previous.version != version:
                previous = open_table_files(
                    self._offline,
                    table.name,
                    version,
                    table.columns,
                    table.dictionary,
                    previous=previous,
                    on_read=self._on_read,
                )
                self._forget_dropped(table.name, previous)
            self._tables[table.name] = (previous, time.monotonic())
            return previous

    def recheck(self) -> None:
        """Look for a new version of every table on its next use, whatever ``max_age`` the reader allows."""
        with self._tables_lock:
            for name, (files, _) in list(self._tables.items()):
                self._tables[name] = (files, float("-inf"))

    def remember(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, kept under ``key`` (computed again once it is among the least recently used)."""
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                found: T = self._results[key]
                return found
        value = compute()
        with self._lock:
            self._results[key] = value
            self._results.move_to_end(key)
            while len(self._results) > self._max_results:
                self._results.popitem(last=False)
        return value

    @property
    def column_bytes(self) -> int:
        """Bytes of scalar columns the files keep in memory now."""
        return self._read_bytes

    def _on_read(self, file: DataFile) -> None:
        """Count the columns ``file`` just read; past the budget, the files read longest ago forget theirs."""
        victims = []
        with self._lock:
            self._read_bytes += file.nbytes - self._read.pop(file, 0)
            self._read[file] = file.nbytes
            while self._read_bytes > self._max_column_bytes and len(self._read) > 1:
                oldest, size = self._read.popitem(last=False)
                self._read_bytes -= size
                victims.append(oldest)
        for victim in victims:  # outside the lock: forgetting waits for a read of that file in flight
            victim.forget()

    def _forget_dropped(self, name: str, current: TableFiles) -> None:
        """Stop counting the files no table holds any more (rewritten by a compaction, say)."""
        held = {file for other, (files, _) in self._tables.items() if other != name for file in files.files}
        held |= set(current.files)
        with self._lock:
            for file in [file for file in self._read if file not in held]:
                self._read_bytes -= self._read.pop(file)
