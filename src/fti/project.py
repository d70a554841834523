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
from fti.inference.deployments import DeploymentService, TokenService
from fti.registry.service import ModelRegistry
from fti.tracking.service import TrackingService

if TYPE_CHECKING:
    from datetime import datetime

    import pandas as pd
    import pyarrow as pa

    from fti.backends.ports import ArtifactStore, CatalogStore, OfflineStore
    from fti.core.deployments import ApiToken, Deployment
    from fti.core.lineage import TrainingDataRef
    from fti.core.registry import RegisteredModel
    from fti.features.expectations import Expectation
    from fti.features.queries import Query
    from fti.inference.batch import BatchPredictions
    from fti.registry.lineage import ModelLineage, RunLineage, TrainingDataUsage
    from fti.registry.version import ModelVersion
    from fti.tracking.run import Run

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
        self.registry = ModelRegistry(catalog, self.artifacts)
        self.tracking = TrackingService(catalog, self.artifacts, self.registry, root=loaded.root)
        self.features = FeatureStore(catalog, offline_store)
        self.serving = DeploymentService(catalog, self.registry, self.features)
        self.api_tokens = TokenService(catalog)

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

    # -- tracking ----------------------------------------------------------------------------------

    def start_run(
        self,
        experiment: str,
        name: str | None = None,
        *,
        training_data: TrainingDataRef | None = None,
        tags: Mapping[str, Any] | None = None,
        parent: Run | str | None = None,
    ) -> Run:
        """Start a run in ``experiment`` (created on first use); use it as a context manager.

        The run records the git commit (and whether the work tree is dirty), the entry point, the Python
        version and the installed packages. A run started while another is active in this thread is
        nested in it unless ``parent`` says otherwise.

        Args:
            experiment: the experiment's name (an identifier such as 'fraud').
            name: an optional name for the run.
            training_data: the training dataset the run trains on; model versions logged in the run are
                traced back to it, its feature view and the feature-group commits it read.
            tags: tags to set on the run.
            parent: the run (or its id) to nest this run in.

        Example:
            >>> with project.start_run("fraud", training_data=td) as run:  # doctest: +SKIP
            ...     run.log_params({"max_depth": 6})
            ...     run.log_metric("f1", 0.91)
            ...     version = run.log_model(model, "fraud-detector")
        """
        return self.tracking.start_run(experiment, name, training_data=training_data, tags=tags, parent=parent)

    def get_run(self, run_id: str) -> Run:
        """The run with ``run_id``; NotFoundError if there is none."""
        return self.tracking.get_run(run_id)

    def runs(
        self,
        experiment: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | str | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Runs as a DataFrame: one row per run with ``params.*``, ``metrics.*`` (latest) and ``tags.*``.

        The filter and ordering are evaluated by the catalog in SQL.

        Args:
            experiment: one experiment's name, or several (default: all).
            filter: for example ``"metrics.f1 > 0.8 and params.model = 'xgb'"``.
            order_by: for example ``["-metrics.f1"]`` (``-`` or `` desc`` for descending).
            limit: at most this many runs.

        Example:
            >>> project.runs("fraud", filter="metrics.f1 > 0.8", order_by=["-metrics.f1"], limit=5)  # doctest: +SKIP
        """
        return self.tracking.runs(experiment, filter=filter, order_by=order_by, limit=limit)

    def compare_runs(self, run_ids: Sequence[str | Run]) -> pd.DataFrame:
        """Params and metrics of several runs side by side (one column per run)."""
        return self.tracking.compare_runs(run_ids)

    # -- registry ----------------------------------------------------------------------------------

    def get_model(self, ref: str) -> ModelVersion:
        """A model version: ``"name"`` (latest), ``"name:3"`` or ``"name@champion"``."""
        return self.registry.get_model(ref)

    def models(self) -> list[RegisteredModel]:
        """Every registered model with its latest version and aliases."""
        return self.registry.list_models()

    def lineage(self, target: Any) -> ModelLineage | RunLineage | TrainingDataUsage:
        """Lineage from any end: a model version or reference, a run or run id, or a training dataset."""
        return self.registry.lineage_of(target)

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

    # -- inference -------------------------------------------------------------------------------------

    def deploy(
        self,
        name: str,
        variants: Mapping[str, float] | str,
        *,
        shadow: str | None = None,
        feature_view: str | tuple[str, int] | None = None,
        entity_key: str | Sequence[str] | None = None,
    ) -> Deployment:
        """Create or update the deployment ``name``: model references with traffic shares.

        Every model reference and the feature view must exist; shares must sum to 1. Re-deploying a name
        replaces it and gives it a new etag, so running servers switch to it. Aliases are resolved by the
        server, so moving ``champion`` needs no re-deploy.

        Args:
            name: the deployment's name (an identifier), the ``{name}`` of ``/v1/deployments/{name}/predict``.
            variants: ``{"fraud@champion": 0.9, "fraud@challenger": 0.1}``, or one reference for all traffic.
            shadow: a model reference that gets a copy of all traffic; its answers are logged, never returned.
            feature_view: ``"name"`` or ``"name:2"``: where ``entities`` requests read their features.
            entity_key: column(s) that pin a caller to a variant (sticky A/B); None assigns at random.

        Raises:
            ValidationError: a name, reference or share is invalid.
            NotFoundError: a model, alias or feature view does not exist.

        Example:
            >>> project.deploy("fraud", {"fraud@champion": 0.9, "fraud@challenger": 0.1},
            ...                entity_key="cc_num")  # doctest: +SKIP
        """
        return self.serving.deploy(name, variants, shadow=shadow, feature_view=feature_view, entity_key=entity_key)

    def get_deployment(self, name: str) -> Deployment:
        """The deployment ``name``; NotFoundError if there is none."""
        return self.serving.get_deployment(name)

    def deployments(self) -> list[Deployment]:
        """Every deployment, by name."""
        return self.serving.list_deployments()

    def undeploy(self, name: str) -> None:
        """Delete the deployment ``name``; NotFoundError if there is none."""
        self.serving.undeploy(name)

    def create_token(self, name: str) -> str:
        """Create an API token for the model server; the secret is returned once and never stored."""
        return self.api_tokens.create_token(name)

    def revoke_token(self, name: str) -> None:
        """Revoke the API token ``name``."""
        self.api_tokens.revoke_token(name)

    def tokens(self) -> list[ApiToken]:
        """Every API token's record (name, times; never the secret)."""
        return self.api_tokens.list_tokens()

    def batch_predict(
        self,
        model: str | ModelVersion,
        start: datetime | None = None,
        end: datetime | None = None,
        spine: Any = None,
        *,
        output: str,
        feature_view: str | FeatureView | None = None,
        chunk_rows: int | None = None,
        show_progress: bool = True,
    ) -> BatchPredictions:
        """Predict ``model`` over its feature view and write the predictions as a feature-group commit.

        The feature view comes from the model's lineage unless ``feature_view`` names one. Rows are the
        view's spine rows with event time in ``[start, end)``, or the given ``spine``. The feature group
        ``output`` (created on first use, keyed like the spine) gets one commit per call with the keys,
        the event time, ``prediction``, ``model_name`` and ``model_version``.

        Example:
            >>> project.batch_predict("fraud@champion", output="fraud_scores")  # doctest: +SKIP
        """
        from fti.inference.batch import DEFAULT_CHUNK_ROWS, batch_predict

        return batch_predict(
            self.features,
            self.registry,
            model,
            output=output,
            start=start,
            end=end,
            spine=spine,
            feature_view=feature_view,
            chunk_rows=chunk_rows or DEFAULT_CHUNK_ROWS,
            show_progress=show_progress,
        )

    def close(self) -> None:
        """End active runs, write buffered metrics, and close every backend."""
        try:
            self.tracking.close()
        finally:
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
