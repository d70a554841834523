"""The online-store contract on SQLite and on a real Redis server."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fti.backends.kinds import create_backend
from fti.backends.ports import OnlineStore
from fti.testing.online_store import OnlineStoreContract
from fti.testing.online_vector_store import VectorColumnContract


def _opened(kind: str, options: dict[str, Any]) -> Iterator[OnlineStore]:
    store: OnlineStore = create_backend("online_store", kind, options)
    store.open()
    yield store
    store.close()


class TestSqliteOnlineStore(OnlineStoreContract, VectorColumnContract):
    @pytest.fixture
    def online_store_spec(self, tmp_path: Path) -> tuple[str, dict[str, Any]]:
        return "sqlite", {"path": str(tmp_path / "online.db")}

    @pytest.fixture
    def online_store(self, online_store_spec: tuple[str, dict[str, Any]]) -> Iterator[OnlineStore]:
        yield from _opened(*online_store_spec)

    def is_writing(self, store: OnlineStore, table: str, count_before: int) -> bool:
        # Nothing is visible before the commit; a writer inside its transaction holds the write lock.
        probe = sqlite3.connect(store.describe(), timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            return "locked" in str(exc)
        finally:
            probe.close()
        return False


class TestRedisOnlineStore(OnlineStoreContract, VectorColumnContract):
    @pytest.fixture
    def online_store_spec(self, redis_url: str) -> tuple[str, dict[str, Any]]:
        return "redis", {"url": redis_url, "key_prefix": f"t{uuid.uuid4().hex[:10]}"}

    @pytest.fixture
    def online_store(self, online_store_spec: tuple[str, dict[str, Any]]) -> Iterator[OnlineStore]:
        yield from _opened(*online_store_spec)
