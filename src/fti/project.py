"""The Project: the thin entry point that builds backends from config and hands out services."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from fti.artifacts import ArtifactService
from fti.backends.registry import ROLES, create_backend
from fti.config import LoadedConfig, load_config
from fti.core.records import SchemaState, SchemaStatus
from fti.errors import CatalogSchemaError, FtiError
from fti.features import FeatureGroup, FeatureStore, FeatureView

if TYPE_CHECKING:
    import pyarrow as pa

    from fti.backends.ports import ArtifactStore, CatalogStore, OfflineStore
    from fti.features.expectations import Expectation
    from fti.features.queries import Query

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

    def __init__(
        self, loaded: LoadedConfig, catalog: CatalogStore, artifact_store: ArtifactStore, offline_store: OfflineStore
    ) -> None:
        self._loaded = loaded
        self.catalog = catalog
        self.artifact_store = artifact_store
        self.offline_store = offline_store
        self.artifacts = ArtifactService(artifact_store, catalog)
        self.features = FeatureStore(catalog, offline_store)

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

    # -- feature store -----------------------------------------------------------------------------

    def create_feature_group(
        self,
        name: str,
        version: int = 1,
        *,
        primary_key: Sequence[str],
        event_time: str,
        description: str = "",
        online: bool = False,
        ttl: timedelta | None = None,
        expectations: Sequence[Expectation] | None = None,
        tags: Mapping[str, str] | None = None,
        schema: pa.Schema | None = None,
    ) -> FeatureGroup:
        """Create a feature group: a versioned table of features keyed by primary key and event time.

        The schema is taken from ``schema`` or from the first insert; later inserts must match it.

        Raises:
            ValidationError: a name, column or setting is invalid.
            ConflictError: ``name`` already has ``version``.

        Example:
            >>> cards = project.create_feature_group(
            ...     "card_activity", primary_key=["cc_num"], event_time="ts",
            ...     expectations=[fti.expect.not_null("amount")])  # doctest: +SKIP
        """
        return self.features.create_feature_group(
            name,
            version,
            primary_key=primary_key,
            event_time=event_time,
            description=description,
            online=online,
            ttl=ttl,
            expectations=expectations,
            tags=tags,
            schema=schema,
        )

    def get_feature_group(self, name: str, version: int | None = None) -> FeatureGroup:
        """The feature group ``name`` at ``version`` (None: the latest); NotFoundError if absent."""
        return self.features.get_feature_group(name, version)

    def feature_groups(self, search: str | None = None) -> list[FeatureGroup]:
        """Feature groups whose name, description, features or tags contain ``search`` (all if None)."""
        return self.features.feature_groups(search)

    def create_feature_view(
        self, name: str, version: int = 1, *, query: Query, labels: Sequence[str] | None = None, description: str = ""
    ) -> FeatureView:
        """Create a feature view: a point-in-time query over feature groups plus label columns.

        Example:
            >>> fv = project.create_feature_view(
            ...     "fraud", query=labels.select(["is_fraud"]).join(cards.select_all()),
            ...     labels=["is_fraud"])  # doctest: +SKIP
        """
        return self.features.create_feature_view(name, version, query=query, labels=labels, description=description)

    def get_feature_view(self, name: str, version: int | None = None) -> FeatureView:
        """The feature view ``name`` at ``version`` (None: the latest); NotFoundError if absent."""
        return self.features.get_feature_view(name, version)

    def feature_views(self, search: str | None = None) -> list[FeatureView]:
        """Feature views whose name or description contain ``search`` (all if None)."""
        return self.features.feature_views(search)

    def close(self) -> None:
        """Close every backend."""
        self.offline_store.close()
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
        kind, options = loaded.backend("offline_store")
        offline_store: OfflineStore = create_backend("offline_store", kind, options)
        offline_store.open()
    except BaseException:
        catalog.close()
        raise
    return Project(loaded, catalog, artifact_store, offline_store)


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
