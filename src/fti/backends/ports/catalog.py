"""The catalog's ports: one record Protocol per domain, the transaction they hang off, and the store.

The module runs past 400 lines: it is the one place a catalog backend reads what it must implement, one
Protocol per domain with its docstrings; splitting it would scatter the transaction's members.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from fti.backends.ports.storage import Connectable
from fti.core.features import ColumnSpec, CommitRecord, FeatureGroupRecord, FeatureViewRecord, TrainingDatasetRecord
from fti.core.records import ArtifactRecord, SchemaState
from fti.core.sources import SourceCursorRecord

if TYPE_CHECKING:
    import pyarrow as pa

    from fti.core.audit import AuditEntry
    from fti.core.deployments import ApiToken, Deployment
    from fti.core.events import Event
    from fti.core.lineage import TrainingDataLineage
    from fti.core.pipelines import PipelineRecord, PipelineRunRecord, RunState
    from fti.core.registry import AliasMove, ModelAlias, ModelVersionRecord, RegisteredModel
    from fti.core.tracking import Experiment, MetricBatch, RunInfo, RunSearch, RunStatus

__all__ = [
    "ArtifactRecords",
    "AuditRecords",
    "CatalogStore",
    "CatalogTransaction",
    "DeploymentRecords",
    "EventRecords",
    "FeatureGroupRecords",
    "FeatureViewRecords",
    "PipelineRecords",
    "RegistryRecords",
    "SourceCursorRecords",
    "TokenRecords",
    "TrackingRecords",
    "TrainingDatasetRecords",
]


class ArtifactRecords(Protocol):
    """Catalog records of artifacts and their checksums."""

    def put(self, record: ArtifactRecord) -> None:
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

    def delete_experiment(self, name: str) -> None:
        """Delete the experiment ``name``; its runs must be deleted already."""

    def add_run(self, run: RunInfo, training_data: TrainingDataLineage | None) -> None:
        """Insert a new run (its experiment must exist) and the training data it reads."""

    def find_run(self, run_id: str) -> RunInfo | None:
        """The run, or None."""

    def run_ids_starting_with(self, prefix: str, limit: int) -> list[str]:
        """Ids of at most ``limit`` runs whose id starts with ``prefix`` (taken literally), sorted."""

    def delete_runs(self, run_ids: Sequence[str]) -> None:
        """Remove the runs with everything logged to them (params, metrics, tags, artifact paths, lineage).

        Nested runs of a run that is removed must be among ``run_ids``; model versions must be gone already.
        """

    def end_run(self, run_id: str, status: RunStatus, end_time: datetime, error: str | None) -> None:
        """Record how and when the run ended."""

    def end_running_run(self, run_id: str, status: RunStatus, end_time: datetime, error: str | None) -> bool:
        """Record how and when the run ended if it is still running; whether it was."""

    def running_run_owners(self) -> dict[str, str]:
        """``run id -> recorded owner`` (the value of the tag ``OWNER_TAG``) of every running run that has one."""

    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        """Add params; ConflictError if a key was logged before with another value."""

    def log_metrics(self, batch: MetricBatch) -> None:
        """Append metric points and update each run's latest value per key."""

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Insert or replace tags."""

    def set_artifacts(self, run_id: str, paths: Mapping[str, str]) -> None:
        """Insert or replace ``path within the run -> artifact key`` for stored artifacts."""

    def list_artifacts(self, run_id: str) -> dict[str, str]:
        """``path within the run -> artifact key``, sorted by path."""

    def find_training_data(self, run_id: str) -> TrainingDataLineage | None:
        """The training data the run recorded, or None."""

    def search_runs(self, search: RunSearch) -> list[RunInfo]:
        """Runs matching the search's experiments and filter, in its order, skipping its offset, up to its limit."""

    def search_run_rows(self, search: RunSearch) -> pa.Table:
        """What :meth:`search_runs` finds as light rows, without each run's code and packages: columns run_id,
        experiment, name, status, start_time, end_time (UTC timestamps) and parent_run_id."""

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

    def run_values(self, run_ids: Sequence[str]) -> tuple[pa.Table, pa.Table, pa.Table]:
        """The runs' params, latest metric values and tags (the owner tag left out), read together for a search's
        frame: three tables with columns position (of the run in ``run_ids``), key and value."""

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

    def delete_version(self, name: str, version: int) -> None:
        """Remove a version with its tags; its aliases must be gone already. Numbers are never reused."""

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

    def reserve_stamp(self, group_id: int, floor: int) -> int:
        """Reserve the next stamp for the group's rows: one more than the last reserved (than ``floor`` for the
        group's first), never the same for two inserts, however many run at once."""

    def next_commit(self, group_id: int) -> int:
        """The group's next commit number; the group stays locked against other commits until the transaction
        ends, so the number is still free when :meth:`add_commit` records it."""

    def add_commit(self, record: CommitRecord) -> None:
        """Record one insert."""

    def set_group_statistics(self, group_id: int, commit: int, statistics: dict[str, Any]) -> None:
        """Record the statistics of the whole group as of ``commit``."""

    def commits(self, group_id: int) -> list[CommitRecord]:
        """The group's commits, oldest first."""

    def list(self) -> list[FeatureGroupRecord]:
        """Every feature group version, by name then version."""

    def delete_empty(self, group_id: int) -> bool:
        """Delete the group if it has no commits (what a failed first insert leaves) and no more than one insert
        began on it (another may still be writing); whether it was deleted."""

    def delete(self, group_id: int) -> None:
        """Delete the group with its commits and source cursors; no training dataset may read it any more."""


class SourceCursorRecords(Protocol):
    """Catalog records of the last cursor of each source a feature group reads from."""

    def find(self, feature_group_id: int, source: str) -> SourceCursorRecord | None:
        """The source's cursor in the group, or None before its first commit."""

    def list(self, feature_group_id: int) -> list[SourceCursorRecord]:
        """The group's source cursors, by source name."""

    def advance(self, record: SourceCursorRecord, previous_commit: int | None) -> None:
        """Store ``record`` if the stored cursor is still the one ``previous_commit`` recorded (None: none yet);
        ConflictError otherwise (another ingestion advanced it), so two runs never both commit one range."""


class FeatureViewRecords(Protocol):
    """Catalog records of feature views."""

    def add(self, record: FeatureViewRecord) -> FeatureViewRecord:
        """Insert a new feature view version; return it with its assigned id."""

    def find(self, name: str, version: int | None = None) -> FeatureViewRecord | None:
        """The view ``name`` at ``version`` (None: the latest version), or None."""

    def list(self) -> list[FeatureViewRecord]:
        """Every feature view version, by name then version."""

    def delete(self, view_id: int) -> None:
        """Delete the view version; its training datasets must be deleted already."""


class TrainingDatasetRecords(Protocol):
    """Catalog records of training datasets and the feature-group commits they read."""

    def add(self, record: TrainingDatasetRecord) -> TrainingDatasetRecord:
        """Insert a training dataset and its source commits; return it with its assigned id."""

    def next_version(self, feature_view_id: int) -> int:
        """One more than the view's highest training dataset version, deleted ones that runs still name
        included (1 for the first): a run's lineage never comes to name another dataset."""

    def find(self, feature_view_id: int, version: int | None = None) -> TrainingDatasetRecord | None:
        """The view's training dataset ``version`` (None: the latest), or None."""

    def list(self, feature_view_id: int) -> list[TrainingDatasetRecord]:
        """The view's training datasets, oldest first."""

    def delete(self, dataset_id: int) -> None:
        """Delete the training dataset with its record of the commits it read."""


class DeploymentRecords(Protocol):
    """Catalog records of deployments (serving endpoints and their traffic splits)."""

    def find(self, name: str) -> Deployment | None:
        """The deployment ``name``, or None."""

    def list(self) -> list[Deployment]:
        """Every deployment, by name."""

    def put(self, deployment: Deployment) -> None:
        """Insert ``deployment`` or replace the one with its name (its ``created_at`` is kept)."""

    def delete(self, name: str) -> bool:
        """Delete the deployment ``name``; whether there was one."""


class TokenRecords(Protocol):
    """Catalog records of API tokens (their sha256 only)."""

    def add(self, token: ApiToken) -> None:
        """Insert a token record."""

    def find(self, name: str) -> ApiToken | None:
        """The token called ``name``, or None."""

    def active_hashes(self) -> list[str]:
        """The sha256 of every unrevoked token."""

    def active(self) -> list[ApiToken]:
        """Every unrevoked token (expired ones too: expiry is checked when a token is used)."""

    def revoke(self, name: str, revoked_at: datetime) -> None:
        """Mark the token ``name`` revoked."""

    def list(self) -> list[ApiToken]:
        """Every token, oldest first (then by name)."""


class AuditRecords(Protocol):
    """The audit log: one entry per recorded change, ids increasing."""

    def append(self, entry: AuditEntry) -> int:
        """Record ``entry``; its id."""

    def list(
        self,
        *,
        limit: int = 100,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditEntry]:
        """The newest entries first, at most ``limit``, optionally only ``actor``'s, one action's (or a prefix
        of actions ending in ``.``: ``token.``), or those from ``since`` on."""


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
    def audit(self) -> AuditRecords:
        """The audit log."""

    @property
    def source_cursors(self) -> SourceCursorRecords:
        """The last cursor of each source of each feature group."""

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

    def reading(self) -> AbstractContextManager[CatalogTransaction]:
        """A read-only transaction: one consistent snapshot; a write in it fails. It waits for no writer."""

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables, for status output."""


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

    def list(self) -> list[PipelineRecord]:
        """Every pipeline's record, by name."""
