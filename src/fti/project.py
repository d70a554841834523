"""The Project: the thin entry point that builds backends from config and hands out services."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from fti.artifacts import ArtifactService
from fti.backends.registry import ROLES, create_backend
from fti.config import LoadedConfig, load_config
from fti.core.records import SchemaState, SchemaStatus
from fti.errors import CatalogSchemaError, FtiError

if TYPE_CHECKING:
    from fti.backends.ports import ArtifactStore, CatalogStore

__all__ = ["BackendStatus", "Project", "check_backends", "connect", "ensure_schema", "open_catalog"]


@dataclass(frozen=True, slots=True)
class BackendStatus:
    """One backend as ``fti status`` reports it."""

    role: str
    kind: str
    location: str
    is_reachable: bool
    detail: str


class Project:
    """An FTI project: its configuration, catalog and stores, and the services over them.

    Build one with :func:`fti.connect`; close it (or use it as a context manager) when done.

    Example:
        >>> import fti
        >>> with fti.connect("my_project") as project:  # doctest: +SKIP
        ...     print(project.root)
    """

    def __init__(self, loaded: LoadedConfig, catalog: CatalogStore, artifact_store: ArtifactStore) -> None:
        self._loaded = loaded
        self.catalog = catalog
        self.artifact_store = artifact_store
        self.artifacts = ArtifactService(artifact_store, catalog)

    @property
    def name(self) -> str:
        """The project's name from ``fti.yaml``."""
        return self._loaded.config.project

    @property
    def root(self) -> Path:
        """The folder the project's relative paths start from."""
        return self._loaded.root

    @property
    def settings(self) -> LoadedConfig:
        """The resolved configuration and where each value came from."""
        return self._loaded

    def status(self) -> list[BackendStatus]:
        """Reachability of every configured backend."""
        return check_backends(self._loaded)

    def counts(self) -> dict[str, int]:
        """Number of rows per catalog table."""
        return self.catalog.counts()

    def close(self) -> None:
        """Close every backend."""
        self.artifact_store.close()
        self.catalog.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Project(name={self.name!r}, root={str(self.root)!r})"


def connect(path: Path | str | None = None, *, overrides: dict[str, Any] | None = None) -> Project:
    """Open the project at ``path`` (default: the working directory).

    Uses the nearest ``fti.yaml`` in or above ``path``; without one, embedded defaults under
    ``./.fti/``. A new catalog is created at the current schema; an older one must be upgraded with
    ``fti db upgrade`` first.

    Args:
        path: the project folder, or its ``fti.yaml``.
        overrides: ``section.key -> value`` settings applied over file and environment.

    Raises:
        ValidationError: the configuration is invalid.
        CatalogSchemaError: the catalog needs ``fti db upgrade`` or a newer fti.
        BackendError: a backend cannot be reached.

    Example:
        >>> import fti
        >>> project = fti.connect()  # doctest: +SKIP
    """
    loaded = load_config(path, overrides=overrides)
    catalog = open_catalog(loaded)
    try:
        ensure_schema(catalog)
        kind, options = loaded.backend("artifact_store")
        artifact_store: ArtifactStore = create_backend("artifact_store", kind, options)
        artifact_store.open()
    except BaseException:
        catalog.close()
        raise
    return Project(loaded, catalog, artifact_store)


def open_catalog(loaded: LoadedConfig) -> CatalogStore:
    """Build and open the configured catalog store without touching its schema."""
    kind, options = loaded.backend("catalog")
    catalog: CatalogStore = create_backend("catalog", kind, options)
    catalog.open()
    return catalog


def ensure_schema(catalog: CatalogStore) -> SchemaState:
    """Create a new catalog's schema; refuse one that is behind or ahead of this fti."""
    state = catalog.schema_state()
    if state.status is SchemaStatus.EMPTY:
        state = catalog.upgrade()
    if state.status is SchemaStatus.BEHIND:
        raise CatalogSchemaError(
            f"Catalog {catalog.describe()} is at schema revision {', '.join(state.current)} but this fti "
            f"needs {', '.join(state.expected)}: back it up, then run `fti db upgrade`."
        )
    if state.status is SchemaStatus.AHEAD:
        raise CatalogSchemaError(
            f"Catalog {catalog.describe()} is at schema revision {', '.join(state.current)}, written by a "
            "newer fti: upgrade fti to use it."
        )
    return state


def check_backends(loaded: LoadedConfig) -> list[BackendStatus]:
    """Try every configured backend and report whether it is reachable (never raises)."""
    report = []
    for role in ROLES:
        kind, options = loaded.backend(role)
        location = str(options.get("url") or options.get("uri") or options.get("path") or "in process")
        try:
            backend = create_backend(role, kind, options)
            location = backend.describe()
            backend.open()
            try:
                backend.ping()
            finally:
                backend.close()
        except FtiError as exc:
            report.append(BackendStatus(role, kind, location, False, str(exc)))
            continue
        report.append(BackendStatus(role, kind, location, True, "ok"))
    return report
