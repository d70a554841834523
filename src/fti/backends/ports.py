"""The Protocols every backend implements (STYLE.md B1-B8).

Interfaces are narrow and storage-level: bytes for artifacts, transactional record CRUD for the
catalog, keyed Arrow rows for the online store. Versioning, checksums, lineage, TTL and the other
semantics live once in the services above. Every method is required; an optional capability is a separate Protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

from fti.core.features import ColumnSpec, CommitRecord, FeatureGroupRecord, FeatureViewRecord, TrainingDatasetRecord
from fti.core.records import ArtifactRecord, SchemaState

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as pads

    from fti.core.deployments import ApiToken, Deployment
    from fti.core.events import Event
    from fti.core.lineage import TrainingDataLineage
    from fti.core.pipelines import PipelineRecord, PipelineRunRecord, RunState
    from fti.core.registry import AliasMove, ModelAlias, ModelVersionRecord, RegisteredModel
    from fti.core.tracking import Experiment, MetricBatch, RunInfo, RunSearch, RunStatus

__all__ = [
    "ArtifactRecords",
    "ArtifactStore",
    "CatalogStore",
    "CatalogTransaction",
    "Connectable",
    "DeploymentRecords",
    "EventRecords",
    "Executor",
    "FeatureGroupRecords",
    "FeatureViewRecords",
    "OfflineStore",
    "OnlineStore",
    "PipelineRecords",
    "RegistryRecords",
    "TaskHandle",
    "TokenRecords",
    "TrackingRecords",
    "TrainingDatasetRecords",
]


@runtime_checkable
class Connectable(Protocol):
    """Anything with an explicit connection lifecycle (STYLE.md B5)."""

    def open(self) -> None:
        """Connect; may be called again after ``close``."""

    def close(self) -> None:
        """Release connections and files; idempotent."""

    def ping(self) -> None:
        """Raise BackendError unless the backend is reachable and usable."""

    def describe(self) -> str:
        """Where the backend lives, for status output (no secrets)."""


T = TypeVar("T")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class ArtifactStore(Connectable, Protocol):
    """Bytes under relative keys. Writes are atomic: a reader never sees a partial object."""

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``, replacing any previous object atomically."""

    def put_file(self, key: str, path: Path) -> None:
        """Store the file at ``path`` under ``key``, atomically."""

    def get_bytes(self, key: str) -> bytes:
        """Return the object's bytes; NotFoundError if there is none."""

    def get_file(self, key: str, path: Path) -> None:
        """Write the object to ``path``; NotFoundError if there is none."""

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    def list_keys(self, prefix: str = "") -> list[str]:
        """Keys that start with ``prefix``, sorted."""

    def delete(self, key: str) -> None:
        """Remove the object; a missing key is not an error."""


class OfflineStore(Connectable, Protocol):
    """Versioned columnar tables under relative names; one write is one atomic transaction."""

    def write(
        self,
        table: str,
        data: pa.RecordBatchReader,
        *,
        mode: Literal["append", "overwrite"] = "append",
        version: int | None = None,
    ) -> int:
        """Stream ``data`` into ``table`` as one transaction, creating the table; return the new version.

        If reading ``data`` raises midway nothing is committed: readers keep seeing the previous version.
        ``overwrite`` replaces the table's rows and schema in a new version. With ``version``, the write
        commits exactly that version or raises ConflictError, so concurrent writers never interleave.
        """

    def read(self, table: str, version: int | None = None) -> pads.Dataset:
        """The table at ``version`` (default: latest); NotFoundError for a missing table or version."""

    def added(self, table: str, version: int) -> pads.FileSystemDataset:
        """The data files the commit of ``version`` added, as a dataset on the file system (and with the paths) of
        :meth:`read`'s datasets: empty when the commit added none; NotFoundError for a missing table or version."""

    def version(self, table: str) -> int | None:
        """The table's latest version, or None if there is no such table."""

    def exists(self, table: str) -> bool:
        """Whether a table is stored under ``table``."""


class ArtifactRecords(Protocol):
    """Catalog records of artifacts and their checksums."""

    def upsert(self, record: ArtifactRecord) -> None:
        """Insert or replace the record for ``record.key``."""

    def find(self, key: str) -> ArtifactRecord | None:
        """The record for ``key``, or None."""

    def list(self, prefix: str = "") -> list[ArtifactRecord]:
        """Records whose key starts with ``prefix``, sorted by key."""

    def delete(self, keys: Sequence[str]) -> None:
        """Remove the records for ``keys``."""


class TrackingRecords(Protocol):
    """Catalog records of experiments and runs with their params, metrics, tags, artifacts and lineage."""

    def ensure_experiment(self, name: str, created_at: datetime) -> Experiment:
        """The experiment called ``name``, created if it does not exist."""

    def list_experiments(self) -> list[Experiment]:
        """Every experiment, by name."""

    def create_run(self, run: RunInfo, training_data: TrainingDataLineage | None) -> None:
        """Insert a new run (its experiment must exist) and the training data it reads."""

    def find_run(self, run_id: str) -> RunInfo | None:
        """The run, or None."""

    def end_run(self, run_id: str, status: RunStatus, end_time: datetime, error: str | None) -> None:
        """Record how and when the run ended."""

    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        """Add params; ConflictError if a key was logged before with another value."""

    def log_metrics(self, batch: MetricBatch) -> None:
        """Append metric points and update each run's latest value per key."""

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Insert or replace tags."""

    def add_artifacts(self, run_id: str, paths: Mapping[str, str]) -> None:
        """Record ``path within the run -> artifact key`` for stored artifacts."""

    def list_artifacts(self, run_id: str) -> dict[str, str]:
        """``path within the run -> artifact key``, sorted by path."""

    def training_data(self, run_id: str) -> TrainingDataLineage | None:
        """The training data the run recorded, or None."""

    def search_runs(self, search: RunSearch) -> list[RunInfo]:
        """Runs matching the search's experiments and filter, in its order, skipping its offset, up to its limit."""

    def count_runs(self, search: RunSearch) -> int:
        """How many runs match the search's experiments, ids and filter (its order, limit and offset aside)."""

    def runs_for_training_data(self, feature_view_name: str, feature_view_version: int, version: int) -> list[str]:
        """Ids of the runs that recorded this training dataset version."""

    def params(self, run_ids: Sequence[str]) -> pa.Table:
        """Columns run_id, key, value for the runs' params."""

    def latest_metrics(self, run_ids: Sequence[str]) -> pa.Table:
        """Columns run_id, key, value, step, timestamp_ms: each run's latest value per metric."""

    def tags(self, run_ids: Sequence[str]) -> pa.Table:
        """Columns run_id, key, value for the runs' tags."""

    def metric_history(self, run_id: str, key: str) -> pa.Table:
        """Columns step, value, timestamp_ms of every point of one metric, in logging order."""


class RegistryRecords(Protocol):
    """Catalog records of registered models, their versions, tags, aliases and alias history."""

    def next_version(self, name: str, created_at: datetime) -> int:
        """Reserve the next version number of ``name``, registering the name on first use."""

    def add_version(self, record: ModelVersionRecord) -> None:
        """Insert a version whose number came from :meth:`next_version`."""

    def find_model(self, name: str) -> RegisteredModel | None:
        """The registered model, or None."""

    def list_models(self) -> list[RegisteredModel]:
        """Every registered model, by name."""

    def find_version(self, name: str, version: int | None) -> ModelVersionRecord | None:
        """One version (the latest when ``version`` is None), or None."""

    def list_versions(self, name: str) -> list[ModelVersionRecord]:
        """Every version of ``name``, oldest first."""

    def versions_for_runs(self, run_ids: Sequence[str]) -> list[ModelVersionRecord]:
        """Versions logged by any of ``run_ids``."""

    def versions_for_training_data(self, name: str, version: int) -> list[ModelVersionRecord]:
        """Versions trained on the training dataset ``name`` (its feature view) version ``version``."""

    def set_description(self, name: str, version: int, description: str) -> None:
        """Replace a version's description."""

    def set_version_tags(self, name: str, version: int, tags: Mapping[str, str]) -> None:
        """Insert or replace tags of a version."""

    def find_alias(self, name: str, alias: str) -> ModelAlias | None:
        """Where ``alias`` points, or None."""

    def set_alias(self, alias: ModelAlias, move: AliasMove) -> None:
        """Point the alias at its version and append ``move`` to the history."""

    def delete_alias(self, name: str, alias: str, move: AliasMove) -> None:
        """Remove the alias and append ``move`` to the history."""

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Every recorded move of ``name``'s aliases (or of one alias), oldest first."""


class FeatureGroupRecords(Protocol):
    """Catalog records of feature groups and their commits."""

    def add(self, record: FeatureGroupRecord) -> FeatureGroupRecord:
        """Insert a new feature group version; return it with its assigned id."""

    def find(self, name: str, version: int | None = None) -> FeatureGroupRecord | None:
        """The group ``name`` at ``version`` (None: the latest version), or None."""

    def find_by_id(self, group_id: int) -> FeatureGroupRecord | None:
        """The group with catalog id ``group_id``, or None."""

    def set_schema(self, group_id: int, schema: tuple[ColumnSpec, ...]) -> None:
        """Record the schema taken from the group's first insert."""

    def add_commit(self, record: CommitRecord) -> None:
        """Record one insert."""

    def set_group_statistics(self, group_id: int, commit: int, statistics: dict[str, Any]) -> None:
        """Record the statistics of the whole group as of ``commit``."""

    def commits(self, group_id: int) -> list[CommitRecord]:
        """The group's commits, oldest first."""

    def list(self) -> list[FeatureGroupRecord]:
        """Every feature group version, by name then version."""


class FeatureViewRecords(Protocol):
    """Catalog records of feature views."""

    def add(self, record: FeatureViewRecord) -> FeatureViewRecord:
        """Insert a new feature view version; return it with its assigned id."""

    def find(self, name: str, version: int | None = None) -> FeatureViewRecord | None:
        """The view ``name`` at ``version`` (None: the latest version), or None."""

    def list(self) -> list[FeatureViewRecord]:
        """Every feature view version, by name then version."""


class TrainingDatasetRecords(Protocol):
    """Catalog records of training datasets and the feature-group commits they read."""

    def add(self, record: TrainingDatasetRecord) -> TrainingDatasetRecord:
        """Insert a training dataset and its source commits; return it with its assigned id."""

    def next_version(self, feature_view_id: int) -> int:
        """One more than the view's highest training dataset version (1 for the first)."""

    def find(self, feature_view_id: int, version: int | None = None) -> TrainingDatasetRecord | None:
        """The view's training dataset ``version`` (None: the latest), or None."""

    def list(self, feature_view_id: int) -> list[TrainingDatasetRecord]:
        """The view's training datasets, oldest first."""


class DeploymentRecords(Protocol):
    """Catalog records of deployments (serving endpoints and their traffic splits)."""

    def find(self, name: str) -> Deployment | None:
        """The deployment ``name``, or None."""

    def list_all(self) -> list[Deployment]:
        """Every deployment, by name."""

    def put(self, deployment: Deployment) -> None:
        """Insert ``deployment`` or replace the one with its name (its ``created_at`` is kept)."""

    def delete(self, name: str) -> bool:
        """Delete the deployment ``name``; whether there was one."""


class TokenRecords(Protocol):
    """Catalog records of API tokens (their sha256 only)."""

    def add(self, token: ApiToken) -> None:
        """Insert a token record."""

    def find_by_name(self, name: str) -> ApiToken | None:
        """The token called ``name``, or None."""

    def list_all(self) -> list[ApiToken]:
        """Every token, oldest first."""

    def active_hashes(self) -> list[str]:
        """The sha256 of every unrevoked token."""

    def revoke(self, name: str, revoked_at: datetime) -> None:
        """Mark the token ``name`` revoked."""


class CatalogTransaction(Protocol):
    """One atomic unit of catalog work; each domain's records hang off it."""

    @property
    def artifacts(self) -> ArtifactRecords:
        """Artifact records."""

    @property
    def tracking(self) -> TrackingRecords:
        """Experiment and run records."""

    @property
    def registry(self) -> RegistryRecords:
        """Model registry records."""

    @property
    def feature_groups(self) -> FeatureGroupRecords:
        """Feature group and commit records."""

    @property
    def feature_views(self) -> FeatureViewRecords:
        """Feature view records."""

    @property
    def training_datasets(self) -> TrainingDatasetRecords:
        """Training dataset records."""

    @property
    def deployments(self) -> DeploymentRecords:
        """Deployment records."""

    @property
    def tokens(self) -> TokenRecords:
        """API token records."""

    @property
    def events(self) -> EventRecords:
        """The event log."""

    @property
    def pipelines(self) -> PipelineRecords:
        """Pipelines and pipeline runs."""


class CatalogStore(Connectable, Protocol):
    """The metadata database: schema lifecycle plus transactions."""

    def schema_state(self) -> SchemaState:
        """Compare the database's revision with the code's migrations."""

    def upgrade(self) -> SchemaState:
        """Create or migrate the schema to the code's revision; safe to run concurrently."""

    def transaction(self) -> AbstractContextManager[CatalogTransaction]:
        """A transaction committed on normal exit and rolled back on an exception."""

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables, for status output."""


class TaskHandle(Protocol[R_co]):
    """One task started by :meth:`Executor.submit`."""

    def done(self) -> bool:
        """Whether the task ended (returned, raised or was stopped)."""

    def result(self, timeout: float | None = None) -> R_co:
        """The task's return value; its exception re-raised; TimeoutError when not done within ``timeout`` seconds;
        BackendError when the task was stopped or its process died."""

    def cancel(self) -> None:
        """Stop the task now (its process and every process it started); idempotent."""


class Executor(Connectable, Protocol):
    """Runs independent tasks in parallel: local processes or a cluster."""

    def map(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Apply ``function`` to every item; results in input order; the first failure is raised."""

    def submit(self, function: Callable[[T], R], item: T) -> TaskHandle[R]:
        """Start ``function(item)`` in a process of its own (on a cluster: a task) and return at once.

        The task can be stopped (:meth:`TaskHandle.cancel`), and it dies with the process that submitted it.
        """


class OnlineStore(Connectable, Protocol):
    """The latest row per primary key of each online table, for millisecond lookups.

    An online table holds one row per primary key: the row with the newest event time written so far.
    Writes are upserts guarded by the event time, atomic per row: an older event never overwrites a
    newer one, whatever the arrival order, and for equal event times the later write wins (within one
    ``write`` call, rows apply in order). A reader sees each key's whole old row or whole new row.

    The store knows nothing of feature groups, versions or TTL: it returns each row's event time so the
    service above can decide what is still fresh.
    """

    def create_table(self, table: str, key_columns: Sequence[str], event_time_column: str, schema: pa.Schema) -> None:
        """Create ``table`` for rows of ``schema`` keyed by ``key_columns``.

        Idempotent for the same definition; ConflictError if ``table`` exists with another one.
        ValidationError for an invalid name, a missing column or an unsupported type.
        """

    def delete_table(self, table: str) -> None:
        """Drop ``table`` and all its rows; a missing table is not an error."""

    def write(self, table: str, rows: pa.Table) -> int:
        """Upsert ``rows`` (every column of the table's schema) per key; return how many keys were written.

        Per key, the row with the newest event time (of equal ones, the last) replaces the stored row
        unless that one is newer. ValidationError (before any
        write) if a column is missing or of the wrong type, or a key or event time is null.
        """

    def read(self, table: str, keys: pa.Table | Sequence[Any], columns: Sequence[str] | None = None) -> pa.Table:
        """Look up many keys in one round trip.

        ``keys`` is a table with the key columns, or key tuples in ``key_columns`` order (bare values
        for a one-column key). The result has
        one row per requested key, in request order: the key columns, the requested feature columns
        (default: all) and the event time column; every value but the keys is null for a missing key.
        """

    def read_one(self, table: str, key: Any, columns: Sequence[str] | None = None) -> dict[str, Any] | None:
        """Look up one key: its stored row as Python values, or None when the key is missing.

        ``key`` is a tuple in ``key_columns`` order (a bare value for a one-column key). The dict maps
        the requested feature columns (default: all) and the event time column to exactly the values
        ``read(table, [key], columns).to_pylist()[0]`` gives for them: the single-entity path of online
        serving, without the fixed cost of building Arrow arrays for one row.
        """

    def count(self, table: str) -> int:
        """Number of keys stored in ``table``."""


class EventRecords(Protocol):
    """The event log: one increasing id over every event, in commit order (the scheduler's cursor)."""

    def append(self, event: Event) -> int:
        """Record ``event`` and return its id. Call it last in a transaction: ids must commit in order, so
        writers of events queue from here to their commit."""

    def after(self, cursor: int, limit: int = 1000) -> list[Event]:
        """Events with an id above ``cursor``, oldest first, at most ``limit``."""

    def last_id(self) -> int:
        """The id of the newest event (0 when there is none)."""

    def produced_by(self, pipeline_run_ids: Sequence[str]) -> list[Event]:
        """Events written inside any of the pipeline runs, oldest first."""


class PipelineRecords(Protocol):
    """Pipelines (definition, schedule and event cursors) and pipeline runs, with their leases."""

    def ensure(self, name: str, definition: Mapping[str, Any], now: datetime, event_cursor: int) -> PipelineRecord:
        """The pipeline's record with ``definition`` stored; created with both cursors at ``now`` and
        ``event_cursor`` when new (so it neither catches up on old slots nor reacts to old events)."""

    def find(self, name: str) -> PipelineRecord | None:
        """The pipeline's record, or None."""

    def list_all(self) -> list[PipelineRecord]:
        """Every pipeline's record, by name."""

    def advance(self, name: str, *, schedule_cursor: datetime | None = None, event_cursor: int | None = None) -> None:
        """Move the cursors forward (never back)."""

    def add_runs(self, runs: Sequence[PipelineRunRecord]) -> int:
        """Insert the runs, skipping any whose (pipeline, slot, attempt) exists; return how many were inserted."""

    def claim(
        self, owner: str, now: datetime, lease_until: datetime, concurrency: Mapping[str, int], limit: int
    ) -> list[PipelineRunRecord]:
        """Start up to ``limit`` queued runs due at ``now`` of the pipelines in ``concurrency``, oldest first,
        never more running runs of a pipeline than its concurrency, whichever scheduler runs them: each is
        set running, owned by ``owner`` with a lease until ``lease_until``, and returned."""

    def claim_run(self, run_id: str, owner: str, now: datetime, lease_until: datetime) -> PipelineRunRecord | None:
        """Start one queued run (any due time) as :meth:`claim` does, or None when it is not queued."""

    def renew(self, owner: str, lease_until: datetime) -> int:
        """Extend the leases of ``owner``'s running runs; return how many."""

    def expire(self, now: datetime) -> list[PipelineRunRecord]:
        """Mark lost every running run whose lease ended before ``now``; return them (as they are now)."""

    def finish(
        self, run_id: str, owner: str, state: RunState, ended_at: datetime, error: str | None, reads: Sequence[str]
    ) -> bool:
        """Record the end of a run ``owner`` holds; False (and nothing changed) when it no longer holds it."""

    def find_run(self, run_id: str) -> PipelineRunRecord | None:
        """The run, or None."""

    def runs(self, pipeline: str | None = None, limit: int = 50, offset: int = 0) -> list[PipelineRunRecord]:
        """Runs (of one pipeline, or all), newest first."""

    def count_queued(self, pipelines: Sequence[str]) -> int:
        """How many runs of ``pipelines`` wait to start (whatever their due time)."""
