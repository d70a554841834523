"""Checksummed artifacts: bytes in the artifact store, their sha256 in the catalog, verified on read."""

from __future__ import annotations

import hashlib
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fti.core.naming import validate_artifact_key
from fti.core.records import ArtifactRecord
from fti.errors import IntegrityError, NotFoundError, ValidationError
from fti.faults import kill_point

if TYPE_CHECKING:
    from fti.backends.ports import ArtifactStore, CatalogStore

__all__ = ["ArtifactService"]

_CHUNK = 1 << 20


class ArtifactService:
    """Store and fetch artifacts with their checksums recorded in the catalog.

    The bytes are written before the catalog row that points to them (STYLE.md E4), so a crash leaves
    at worst an unreferenced file, never a row pointing at nothing.

    Example:
        >>> record = project.artifacts.put_bytes("reports/summary.json", b"{}")  # doctest: +SKIP
        >>> project.artifacts.get_bytes("reports/summary.json")  # doctest: +SKIP
        b'{}'
    """

    def __init__(self, store: ArtifactStore, catalog: CatalogStore) -> None:
        self._store = store
        self._catalog = catalog

    def put_bytes(self, key: str, data: bytes) -> ArtifactRecord:
        """Store ``data`` under ``key`` and record its checksum."""
        key = validate_artifact_key(key)
        record = _record(key, hashlib.sha256(data).hexdigest(), len(data))
        self._store.put_bytes(key, data)
        return self._save(record)

    def put_json(self, key: str, value: Any) -> ArtifactRecord:
        """Store ``value`` as indented JSON."""
        return self.put_bytes(key, json.dumps(value, indent=2, sort_keys=True, default=str).encode())

    def put_file(self, key: str, path: Path | str) -> ArtifactRecord:
        """Store the file at ``path`` under ``key`` and record its checksum."""
        key = validate_artifact_key(key)
        path = Path(path)
        if not path.is_file():
            raise NotFoundError(f"Cannot store {path} as artifact '{key}': no such file.")
        digest, size = _file_digest(path)
        self._store.put_file(key, path)
        return self._save(_record(key, digest, size))

    def put_dir(self, prefix: str, folder: Path | str) -> list[ArtifactRecord]:
        """Store every file under ``folder`` below ``prefix``, keeping relative paths."""
        folder = Path(folder)
        if not folder.is_dir():
            raise NotFoundError(f"Cannot store folder {folder} as artifacts: no such folder.")
        files = sorted(path for path in folder.rglob("*") if path.is_file())
        stored = []
        for path in files:
            stored.append(self.put_file(f"{prefix}/{path.relative_to(folder).as_posix()}", path))
            kill_point("artifacts.after_file")
        return stored

    def get_bytes(self, key: str) -> bytes:
        """The artifact's bytes, after checking them against the recorded sha256.

        Raises:
            NotFoundError: no artifact is recorded under ``key``.
            IntegrityError: the stored bytes were changed or swapped since they were written.
        """
        record = self.get_record(key)
        data = self._store.get_bytes(record.key)
        _verify(record, hashlib.sha256(data).hexdigest())
        return data

    def get_json(self, key: str) -> Any:
        """The artifact parsed as JSON."""
        return json.loads(self.get_bytes(key))

    def get_file(self, key: str, path: Path | str) -> Path:
        """Download the artifact to ``path``, verified; the file appears only if it is intact."""
        record = self.get_record(key)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
            temporary = Path(scratch) / "download"
            self._store.get_file(record.key, temporary)
            _verify(record, _file_digest(temporary)[0])
            temporary.replace(path)
        return path

    def get_record(self, key: str) -> ArtifactRecord:
        """The catalog record of ``key``; NotFoundError if none."""
        key = validate_artifact_key(key)
        with self._catalog.transaction() as tx:
            record = tx.artifacts.find(key)
        if record is None:
            raise NotFoundError(f"Artifact '{key}' is not recorded in the catalog.")
        return record

    def exists(self, key: str) -> bool:
        """Whether an artifact is recorded under ``key``."""
        key = validate_artifact_key(key)
        with self._catalog.transaction() as tx:
            return tx.artifacts.find(key) is not None

    def list(self, prefix: str = "") -> list[ArtifactRecord]:
        """Recorded artifacts whose key starts with ``prefix``."""
        with self._catalog.transaction() as tx:
            return tx.artifacts.list(prefix)

    def delete(self, key: str) -> None:
        """Forget the artifact, then remove its bytes (a crash in between leaves only an orphan file)."""
        key = validate_artifact_key(key)
        with self._catalog.transaction() as tx:
            tx.artifacts.delete([key])
        self._store.delete(key)

    def delete_files(self, prefix: str) -> int:
        """Remove the stored bytes of every key under ``prefix`` (after their catalog rows are gone); how many.

        Raises:
            ValidationError: ``prefix`` is empty or not a folder (``runs/<id>/``): nothing is removed.
        """
        if not prefix.endswith("/") or len(prefix) < 2:
            raise ValidationError(f"Artifact prefix {prefix!r} must name a folder ending in '/', like 'runs/<id>/'.")
        keys = self._store.list_keys(prefix)
        for key in keys:
            self._store.delete(key)
        return len(keys)

    def _save(self, record: ArtifactRecord) -> ArtifactRecord:
        with self._catalog.transaction() as tx:
            tx.artifacts.put(record)
        return record


def _record(key: str, digest: str, size: int) -> ArtifactRecord:
    return ArtifactRecord(key=key, sha256=digest, size=size, created_at=datetime.now(UTC))


def _file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _verify(record: ArtifactRecord, actual: str) -> None:
    if actual != record.sha256:
        raise IntegrityError(
            f"Artifact '{record.key}' is corrupted or was replaced: its sha256 is {actual[:12]}..., "
            f"but {record.sha256[:12]}... was recorded when it was written. Restore it from a backup "
            "or write it again."
        )
