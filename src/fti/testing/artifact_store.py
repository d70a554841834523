"""The contract every ArtifactStore implementation passes.

Subclass :class:`ArtifactStoreContract` and provide a fixture ``artifact_store`` yielding an open,
empty store.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from fti.errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from pathlib import Path

    from fti.backends.ports import ArtifactStore

__all__ = ["ArtifactStoreContract"]

BAD_KEYS = ["../escape", "a/../../b", "/etc/passwd", "a//b", "./a", "a\\b", "", "a/./b", "a b"]


class ArtifactStoreContract:
    """Behaviour shared by every artifact store."""

    def test_bytes_round_trip(self, artifact_store: ArtifactStore) -> None:
        artifact_store.put_bytes("models/m/model.bin", b"\x00\x01payload")
        assert artifact_store.get_bytes("models/m/model.bin") == b"\x00\x01payload"
        assert artifact_store.exists("models/m/model.bin")

    def test_overwrite_replaces_whole_object(self, artifact_store: ArtifactStore) -> None:
        artifact_store.put_bytes("k", b"long first version")
        artifact_store.put_bytes("k", b"short")
        assert artifact_store.get_bytes("k") == b"short"

    def test_file_round_trip(self, artifact_store: ArtifactStore, tmp_path: Path) -> None:
        source = tmp_path / "in.bin"
        source.write_bytes(bytes(range(256)) * 5000)
        artifact_store.put_file("files/in.bin", source)
        target = tmp_path / "out" / "copy.bin"
        artifact_store.get_file("files/in.bin", target)
        assert target.read_bytes() == source.read_bytes()

    def test_missing_key_is_not_found(self, artifact_store: ArtifactStore, tmp_path: Path) -> None:
        assert not artifact_store.exists("nope/x")
        with pytest.raises(NotFoundError, match="nope/x"):
            artifact_store.get_bytes("nope/x")
        with pytest.raises(NotFoundError, match="nope/x"):
            artifact_store.get_file("nope/x", tmp_path / "x")

    def test_list_by_prefix_sorted(self, artifact_store: ArtifactStore) -> None:
        for key in ["b/2", "a/1", "b/1", "c"]:
            artifact_store.put_bytes(key, key.encode())
        assert artifact_store.list_keys() == ["a/1", "b/1", "b/2", "c"]
        assert artifact_store.list_keys("b/") == ["b/1", "b/2"]

    def test_delete_is_idempotent(self, artifact_store: ArtifactStore) -> None:
        artifact_store.put_bytes("gone", b"x")
        artifact_store.delete("gone")
        artifact_store.delete("gone")
        assert not artifact_store.exists("gone")
        assert artifact_store.list_keys() == []

    @pytest.mark.parametrize("key", BAD_KEYS)
    def test_unsafe_keys_are_rejected(self, artifact_store: ArtifactStore, key: str) -> None:
        with pytest.raises(ValidationError, match="Invalid artifact key"):
            artifact_store.put_bytes(key, b"x")
        with pytest.raises(ValidationError, match="Invalid artifact key"):
            artifact_store.get_bytes(key)
        assert artifact_store.list_keys() == []

    def test_readers_never_see_a_partial_object(self, artifact_store: ArtifactStore) -> None:
        payload = b"x" * (8 << 20)
        seen: list[int] = []
        done = threading.Event()

        def read_while_writing() -> None:
            while not done.is_set():
                try:
                    seen.append(len(artifact_store.get_bytes("big")))
                except NotFoundError:
                    seen.append(0)

        reader = threading.Thread(target=read_while_writing)
        reader.start()
        try:
            for _ in range(3):
                artifact_store.put_bytes("big", payload)
        finally:
            done.set()
            reader.join()
        assert set(seen) <= {0, len(payload)}
        assert artifact_store.list_keys() == ["big"]

    def test_ping_and_describe(self, artifact_store: ArtifactStore) -> None:
        artifact_store.ping()
        assert artifact_store.describe()
