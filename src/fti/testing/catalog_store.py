"""The contract every CatalogStore implementation passes.

Subclass :class:`CatalogStoreContract` and provide a fixture ``catalog_store`` yielding an open
store on an empty database.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from fti.core.records import ArtifactRecord, SchemaStatus
from fti.errors import BackendError

if TYPE_CHECKING:
    from fti.backends.ports import CatalogStore

__all__ = ["CatalogStoreContract"]


def _record(key: str, size: int = 3) -> ArtifactRecord:
    return ArtifactRecord(key=key, sha256="ab" * 32, size=size, created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))


class _BoomError(Exception):
    pass


class CatalogStoreContract:
    """Behaviour shared by every catalog store."""

    def test_new_catalog_is_empty_then_current(self, catalog_store: CatalogStore) -> None:
        state = catalog_store.schema_state()
        assert state.status is SchemaStatus.EMPTY
        assert state.current == ()
        upgraded = catalog_store.upgrade()
        assert upgraded.status is SchemaStatus.CURRENT
        assert upgraded.current == upgraded.expected

    def test_upgrade_is_idempotent(self, catalog_store: CatalogStore) -> None:
        first = catalog_store.upgrade()
        assert set(first.expected) <= set(first.applied)
        assert first.applied[-1] in first.expected  # applied oldest first
        second = catalog_store.upgrade()
        assert second.applied == ()
        assert (second.status, second.current) == (first.status, first.current)

    def test_transaction_commits(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()
        with catalog_store.transaction() as tx:
            tx.artifacts.put(_record("a/1"))
            tx.artifacts.put(_record("a/2"))
            tx.artifacts.put(_record("b/1"))
        with catalog_store.transaction() as tx:
            assert tx.artifacts.find("a/1") == _record("a/1")
            assert [r.key for r in tx.artifacts.list("a/")] == ["a/1", "a/2"]
        assert catalog_store.counts()["artifacts"] == 3

    def test_transaction_rolls_back_on_error(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()
        with pytest.raises(_BoomError), catalog_store.transaction() as tx:
            tx.artifacts.put(_record("x"))
            raise _BoomError
        with catalog_store.transaction() as tx:
            assert tx.artifacts.find("x") is None

    def test_reading_sees_committed_rows_and_refuses_writes(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()
        with catalog_store.transaction() as tx:
            tx.artifacts.put(_record("a/1"))
        with catalog_store.reading() as tx:
            assert tx.artifacts.find("a/1") == _record("a/1")
        with pytest.raises(BackendError, match="read"), catalog_store.reading() as tx:
            tx.artifacts.put(_record("a/2"))
        for index in range(3):  # each pooled connection writes again after a read-only one refused a write
            with catalog_store.transaction() as tx:
                tx.artifacts.put(_record(f"b/{index}"))
        with catalog_store.reading() as tx:
            assert [record.key for record in tx.artifacts.list("")] == ["a/1", "b/0", "b/1", "b/2"]

    def test_reading_neither_waits_for_a_writer_nor_sees_what_it_has_not_committed(
        self, catalog_store: CatalogStore
    ) -> None:
        catalog_store.upgrade()
        with catalog_store.transaction() as tx:
            tx.artifacts.put(_record("a/1"))
        found: list[object] = []

        def read() -> None:
            with catalog_store.reading() as tx:
                found.extend([tx.artifacts.find("a/1"), tx.artifacts.find("a/2")])

        with catalog_store.transaction() as writing:  # holds its transaction (on SQLite, the write lock)
            writing.artifacts.put(_record("a/2"))
            reader = threading.Thread(target=read)
            reader.start()
            reader.join(timeout=30)  # a read waiting for the lock would wait out the busy timeout (60 s)
            is_waiting = reader.is_alive()
        reader.join()
        assert not is_waiting, "the read waited for the writer to commit"
        assert found == [_record("a/1"), None]

    def test_upsert_replaces_and_delete_removes(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()
        with catalog_store.transaction() as tx:
            tx.artifacts.put(_record("k", size=1))
            tx.artifacts.put(_record("k", size=2))
        with catalog_store.transaction() as tx:
            found = tx.artifacts.find("k")
            assert found is not None and found.size == 2
            tx.artifacts.delete(["k", "missing"])
        with catalog_store.transaction() as tx:
            assert tx.artifacts.find("k") is None

    def test_prefix_search_escapes_wildcards(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()
        with catalog_store.transaction() as tx:
            tx.artifacts.put(_record("a_b/1"))
            tx.artifacts.put(_record("axb/1"))
        with catalog_store.transaction() as tx:
            assert [r.key for r in tx.artifacts.list("a_b")] == ["a_b/1"]

    def test_ping_and_describe(self, catalog_store: CatalogStore) -> None:
        catalog_store.ping()
        assert "://" in catalog_store.describe()
