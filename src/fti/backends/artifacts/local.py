"""Artifacts in a local folder; each write goes to a temporary file that is renamed into place."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from fti.backends.settings import parse_backend_config
from fti.core.naming import validate_artifact_key
from fti.errors import BackendError, NotFoundError

__all__ = ["LocalArtifactConfig", "LocalArtifactStore"]

_TEMP_PREFIX = ".tmp-"


class LocalArtifactConfig(BaseModel):
    """Settings of the local artifact store: the folder that holds everything."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    root: Path


class LocalArtifactStore:
    """Artifact store on the local file system."""

    def __init__(self, config: LocalArtifactConfig) -> None:
        self.config = config

    @classmethod
    def config_from(cls, options: Mapping[str, Any]) -> LocalArtifactConfig:
        """Validate this backend's options (``uri`` is a folder path or ``file://`` URL)."""
        options = dict(options)
        uri = str(options.pop("uri", options.pop("root", "")))
        options.pop("endpoint_url", None)
        options.pop("region", None)
        root = uri.removeprefix("file://")
        return parse_backend_config(LocalArtifactConfig, {"root": root, **options}, "artifact_store")

    @property
    def root(self) -> Path:
        """The folder holding the artifacts."""
        return self.config.root

    def open(self) -> None:
        """Create the folder if needed."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError(f"Artifact store folder {self.root} cannot be created: {exc}") from exc

    def close(self) -> None:
        """Nothing to release."""

    def ping(self) -> None:
        """Check the folder exists and is writable."""
        if not self.root.is_dir() or not os.access(self.root, os.W_OK):
            raise BackendError(f"Artifact store folder {self.root} is missing or not writable.")

    def describe(self) -> str:
        """The folder path."""
        return str(self.root)

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write to a temporary file in the target folder, fsync, then rename over the target."""
        target = self._path(key)
        self._atomic_write(target, lambda handle: handle.write(data))

    def put_file(self, key: str, path: Path) -> None:
        """Copy ``path`` into the store atomically."""
        target = self._path(key)
        if not Path(path).is_file():
            raise NotFoundError(f"Cannot read {path} to store it as artifact '{key}': no such file.")
        with Path(path).open("rb") as source:
            self._atomic_write(target, lambda handle: shutil.copyfileobj(source, handle, 1 << 20))

    def get_bytes(self, key: str) -> bytes:
        """Read the whole object."""
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"Artifact '{key}' does not exist in {self.root}.") from None
        except OSError as exc:
            raise BackendError(f"Artifact '{key}' cannot be read: {exc}") from exc

    def get_file(self, key: str, path: Path) -> None:
        """Copy the object to ``path``."""
        source = self._path(key)
        if not source.is_file():
            raise NotFoundError(f"Artifact '{key}' does not exist in {self.root}.")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)

    def exists(self, key: str) -> bool:
        """Whether the file exists."""
        return self._path(key).is_file()

    def list_keys(self, prefix: str = "") -> list[str]:
        """Every stored key starting with ``prefix`` (temporary files are never listed)."""
        keys = []
        for dirpath, _dirnames, filenames in os.walk(self.root):
            relative = Path(dirpath).relative_to(self.root)
            for name in filenames:
                if name.startswith(_TEMP_PREFIX):
                    continue
                key = (relative / name).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def delete(self, key: str) -> None:
        """Remove the file if it exists."""
        self._path(key).unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_artifact_key(key).split("/"))

    def _atomic_write(self, target: Path, write: Any) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=target.parent)
        except OSError as exc:
            raise BackendError(f"Cannot write artifact under {target.parent}: {exc}") from exc
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            Path(temp_name).replace(target)
        except BaseException as exc:
            Path(temp_name).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise BackendError(f"Cannot write artifact {target}: {exc}") from exc
            raise
