"""The tracking service: starts runs, keeps the active-run stack, answers run queries in SQL."""

from __future__ import annotations

import atexit
import logging
import math
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fti.core.audit import audit_entry
from fti.core.events import new_event
from fti.core.lineage import HasFeatureSchema, TrainingDataLineage, TrainingDataRef
from fti.core.naming import validate_identifier
from fti.core.tracking import OWNER_TAG, RunInfo, RunSearch, RunStatus, validate_value_key
from fti.errors import BackendError, ConflictError, NotFoundError, ValidationError
from fti.tracking.buffer import MetricBuffer
from fti.tracking.deletion import DeletedExperiment, DeletedRuns, delete_experiment, delete_run
from fti.tracking.environment import code_version, installed_packages, python_version
from fti.tracking.owner import ProcessOwner, current_owner
from fti.tracking.run import Run
from fti.tracking.search import parse_filter, parse_order_by

if TYPE_CHECKING:
    from fti.artifacts import ArtifactService
    from fti.backends.ports import CatalogStore, CatalogTransaction, TrackingRecords
    from fti.registry.service import ModelRegistry

__all__ = ["TrackingService"]

_logger = logging.getLogger(__name__)

#: how often run queries look for runs of killed processes (``fail_killed_runs`` itself always looks)
_KILLED_CHECK_SECONDS = 2.0
_BASE_COLUMNS = ["run_id", "experiment", "name", "status", "start_time", "end_time", "parent_run_id"]


class TrackingService:
    """Experiments and runs of one project.

    Creating the service connects and registers nothing. Its first run registers an interpreter exit hook
    that ends the runs still active (failed, when an uncaught exception ended the program) and writes the
    buffered metrics, so a process that never closes its project loses nothing; :meth:`close` does the same
    and removes the hook.
    """

    def __init__(
        self,
        catalog: CatalogStore,
        artifacts: ArtifactService,
        registry: ModelRegistry,
        *,
        root: Path,
        flush_interval: float = 2.0,
    ) -> None:
        self.catalog = catalog
        self.artifacts = artifacts
        self.registry = registry
        self.buffer = MetricBuffer(catalog, interval=flush_interval)
        self._root = root
        self._local = threading.local()
        self._active: dict[str, Run] = {}
        self._active_lock = threading.Lock()
        self._exit_hook: Callable[[], None] | None = None
        self._checked_killed_at = -math.inf

    # -- runs --------------------------------------------------------------------------------------

    def start_run(
        self,
        experiment: str,
        name: str | None = None,
        *,
        training_data: TrainingDataRef | None = None,
        tags: Mapping[str, Any] | None = None,
        parent: Run | str | None = None,
    ) -> Run:
        """Start a run in ``experiment`` (created on first use); see :meth:`fti.Project.start_run`."""
        validate_identifier(experiment, "experiment name")
        lineage = _lineage(training_data)
        parent_id = self._parent_id(parent)
        tag_values = {validate_value_key(key, "tag"): str(value) for key, value in (tags or {}).items()}
        now = datetime.now(UTC)
        info = RunInfo(
            id=uuid.uuid4().hex,
            experiment=experiment,
            name=name,
            status=RunStatus.RUNNING,
            start_time=now,
            parent_run_id=parent_id,
            code=code_version(self._root),
            python_version=python_version(),
            packages=installed_packages(),
        )
        with self.catalog.transaction() as tx:
            tx.tracking.ensure_experiment(experiment, now)
            if parent_id is not None and tx.tracking.find_run(parent_id) is None:
                raise NotFoundError(f"Parent run '{parent_id}' does not exist: pass a run of this project.")
            tx.tracking.add_run(info, lineage)
            tx.tracking.set_tags(info.id, {**tag_values, OWNER_TAG: current_owner().encode()})
            tx.events.append(new_event("run", experiment, run_id=info.id, name=name))
            tx.audit.append(audit_entry("run.create", info.id, experiment=experiment, name=name))
        schema = training_data.feature_schema if isinstance(training_data, HasFeatureSchema) else None
        run = Run(self, info, is_active=True, feature_schema=schema)
        with self._active_lock:
            self._active[run.id] = run
            self._register_exit_hook()
        self._stack().append(run)
        return run

    def join_run(self, run_id: str) -> Run:
        """A handle that logs to a running run another process started; see :meth:`fti.Project.join_run`."""
        info = self.get_run_info(run_id)
        if info.status is not RunStatus.RUNNING:
            raise ConflictError(
                f"Cannot join run '{info.id}': it has {info.status.value}. Join a run while it is running, "
                "or start a new one with project.start_run(...)."
            )
        with self._active_lock:
            if info.id in self._active:
                return self._active[info.id]
            # the hook writes what the joined handle buffered when the process exits without leaving it
            self._register_exit_hook()
        return Run(self, info, is_active=True, is_joined=True)

    def _register_exit_hook(self) -> None:
        """Register the interpreter exit hook once (called holding ``_active_lock``)."""
        if self._exit_hook is None:
            self._exit_hook = _exit_hook_for(self)
            atexit.register(self._exit_hook)

    def end_run(self, run: Run, status: RunStatus, error: str | None) -> None:
        """Write buffered metrics and record the end in one transaction (called by :meth:`Run.end`)."""
        end_time = datetime.now(UTC)
        try:
            self.buffer.flush(then=lambda tx: _record_end(tx, run.id, status, end_time, error))
        finally:
            with self._active_lock:
                self._active.pop(run.id, None)
            stack = self._stack()
            if run in stack:
                stack.remove(run)

    @property
    def active_run(self) -> Run | None:
        """The innermost run started in this thread that has not ended."""
        stack = self._stack()
        return stack[-1] if stack else None

    def get_run(self, run_id: str | Run) -> Run:
        """A handle on an existing run (it logs only if it was started in this process and is running)."""
        if isinstance(run_id, Run):
            return run_id
        with self._active_lock:
            active = self._active.get(run_id)
        if active is not None:
            return active
        info = self.get_run_info(run_id)
        with self._active_lock:
            active = self._active.get(info.id)
        return active if active is not None else Run(self, info, is_active=False)

    def get_run_info(self, run_id: str) -> RunInfo:
        """The run's attributes; ``run_id`` may be any unique prefix of the id, as in git.

        Raises:
            NotFoundError: no run's id is or starts with ``run_id``.
            ValidationError: ``run_id`` is empty, or the prefix of several runs' ids.
        """
        self._fail_killed_runs_at_times()
        with self.catalog.reading() as tx:
            info = tx.tracking.find_run(run_id)
            if info is None:
                info = _run_by_prefix(tx.tracking, run_id)
        return info

    def _fail_killed_runs_at_times(self) -> None:
        """:meth:`fail_killed_runs` before a query, at most once per :data:`_KILLED_CHECK_SECONDS`.

        A catalog this process may read but not change (a read-only database user) keeps its killed runs as they
        are, with a warning: the query itself goes on.
        """
        if time.monotonic() - self._checked_killed_at >= _KILLED_CHECK_SECONDS:
            try:
                self.fail_killed_runs()
            except BackendError as exc:
                _logger.warning("Runs of killed processes could not be marked failed: %s", exc)

    def fail_killed_runs(self) -> list[str]:
        """Mark failed the runs still running whose process was killed; the ids of those marked, sorted.

        A run records the process that started it (:mod:`fti.tracking.owner`). One whose process ran on this
        host and is gone, without having ended the run, was killed (SIGKILL, out of memory): it ends as failed,
        with the error ``killed: ...``. Runs of other hosts, and of processes that still live, are left as they
        are. Searches and run lookups call this first (at most every 2 s), so a killed run does not show as
        running here for longer.
        """
        self._checked_killed_at = time.monotonic()
        with self.catalog.reading() as tx:
            owners = tx.tracking.running_run_owners()
        with self._active_lock:
            active = set(self._active)
        killed: dict[str, ProcessOwner] = {}
        for run_id, value in owners.items():
            owner = ProcessOwner.decode(value)
            if run_id not in active and owner is not None and owner.is_gone():
                killed[run_id] = owner
        if not killed:
            return []
        end_time = datetime.now(UTC)
        marked = []
        with self.catalog.transaction() as tx:
            for run_id, owner in sorted(killed.items()):
                error = f"killed: its process (pid {owner.pid} on {owner.host}) ended without ending the run"
                if tx.tracking.end_running_run(run_id, RunStatus.FAILED, end_time, error):
                    marked.append(run_id)
                    tx.audit.append(audit_entry("run.end", run_id, status=RunStatus.FAILED.value, killed=True))
        return marked

    def delete_run(self, run_id: str, *, force: bool = False) -> DeletedRuns:
        """Delete a run (or unique id prefix) with what was logged to it (see :mod:`fti.tracking.deletion`)."""
        self.buffer.flush()
        with self._active_lock:
            active = set(self._active)
        return delete_run(self.catalog, self.artifacts, self.get_run_info(run_id).id, force=force, active=active)

    def _full_id(self, run_id: str) -> str:
        """The full id of the run whose id is or starts with ``run_id``; as given when there is none."""
        try:
            return self.get_run_info(run_id).id
        except NotFoundError:
            return run_id  # named with the other missing ones

    def delete_experiment(self, name: str, *, force: bool = False) -> DeletedExperiment:
        """Delete an experiment, with its runs when ``force`` (see :mod:`fti.tracking.deletion`)."""
        self.buffer.flush()
        with self._active_lock:
            active = set(self._active)
        return delete_experiment(self.catalog, self.artifacts, name, force=force, active=active)

    def experiments(self) -> list[str]:
        """Names of every experiment."""
        with self.catalog.reading() as tx:
            return [item.name for item in tx.tracking.list_experiments()]

    # -- queries -----------------------------------------------------------------------------------

    def runs(
        self,
        experiment: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        *,
        offset: int = 0,
        run_ids: Sequence[str] = (),
    ) -> pd.DataFrame:
        """One row per matching run with params.*, metrics.* (latest) and tags.* columns, ``offset`` runs skipped."""
        if limit is not None and limit < 0:
            raise ValidationError(f"limit must be zero or positive, got {limit}.")
        if offset < 0:
            raise ValidationError(f"offset must be zero or positive, got {offset}.")
        experiments = (experiment,) if isinstance(experiment, str) else tuple(experiment or ())
        search = RunSearch(
            experiments=experiments,
            filter=parse_filter(filter),
            order_by=parse_order_by(
                None if order_by is None else ([order_by] if isinstance(order_by, str) else list(order_by))
            ),
            limit=limit,
            run_ids=tuple(run_ids),
            offset=offset,
        )
        self._fail_killed_runs_at_times()
        self.buffer.flush()
        with self.catalog.reading() as tx:
            rows = tx.tracking.search_run_rows(search)
            ids = rows.column("run_id").to_pylist()
            params, metrics, tags = tx.tracking.run_values(ids)
        return _frame(rows, params, metrics, tags)

    def count_runs(self, experiment: str | Sequence[str] | None = None, filter: str | None = None) -> int:
        """How many runs :meth:`runs` would return without a limit: what a paginated view shows as its total."""
        experiments = (experiment,) if isinstance(experiment, str) else tuple(experiment or ())
        search = RunSearch(experiments=experiments, filter=parse_filter(filter))
        self._fail_killed_runs_at_times()
        self.buffer.flush()
        with self.catalog.reading() as tx:
            return tx.tracking.count_runs(search)

    def compare_runs(self, run_ids: Sequence[str | Run]) -> pd.DataFrame:
        """Params and latest metrics side by side: one column per run, one row per param or metric."""
        ids = [item.id if isinstance(item, Run) else self._full_id(item) for item in run_ids]
        frame = self.runs(run_ids=ids)
        missing = sorted(set(ids) - set(frame["run_id"]))
        if missing:
            raise NotFoundError(f"Cannot compare runs: {', '.join(repr(item) for item in missing)} do not exist.")
        frame = frame.set_index("run_id").loc[ids]
        values = [column for column in frame.columns if column.startswith(("params.", "metrics."))]
        compared: pd.DataFrame = frame[["experiment", "name", "status", *values]].T
        return compared

    def values(self, run_id: str, kind: Literal["params", "metrics", "tags"]) -> dict[str, Any]:
        """A run's params, latest metrics or tags as a dict."""
        if kind == "metrics":
            self.buffer.flush()
        with self.catalog.reading() as tx:
            records = tx.tracking
            table = {"params": records.params, "metrics": records.latest_metrics, "tags": records.tags}[kind]([run_id])
        return dict(zip(table.column("key").to_pylist(), table.column("value").to_pylist(), strict=True))

    def metric_history(self, run_id: str, key: str) -> pd.DataFrame:
        """Every logged value of a metric: columns step, value, timestamp."""
        self.buffer.flush()
        with self.catalog.reading() as tx:
            table = tx.tracking.metric_history(run_id, key)
        frame: pd.DataFrame = table.to_pandas()
        frame["timestamp"] = pd.to_datetime(frame.pop("timestamp_ms"), unit="ms", utc=True)
        return frame

    # -- lifecycle ---------------------------------------------------------------------------------

    def close(self, *, status: RunStatus = RunStatus.FINISHED, error: str | None = None) -> None:
        """End the runs still active (as ``status``), write every buffered metric, and drop the exit hook."""
        with self._active_lock:
            active = list(self._active.values())
            hook, self._exit_hook = self._exit_hook, None
        if hook is not None:
            atexit.unregister(hook)
        for run in reversed(active):
            run.end(status, error)
        self.buffer.close()

    def _stack(self) -> list[Run]:
        stack: list[Run] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def _parent_id(self, parent: Run | str | None) -> str | None:
        if isinstance(parent, Run):
            return parent.id
        if isinstance(parent, str):
            return parent
        active = self.active_run
        return active.id if active is not None else None


def _lineage(training_data: TrainingDataRef | None) -> TrainingDataLineage | None:
    if training_data is None:
        return None
    if isinstance(training_data, TrainingDataLineage):
        return training_data
    if not isinstance(training_data, TrainingDataRef):
        raise ValidationError(
            f"training_data must be a training dataset (with feature_view_name, feature_view_version, "
            f"training_dataset_version and feature_group_commits), got {type(training_data).__name__}."
        )
    return TrainingDataLineage.from_ref(training_data)


def _frame(rows: pa.Table, params: pa.Table, metrics: pa.Table, tags: pa.Table) -> pd.DataFrame:
    """The light rows with one column per param, metric and tag key (sorted by key), built in Arrow at once."""
    columns = {name: rows.column(name) for name in _BASE_COLUMNS}
    for prefix, table in (("params.", params), ("metrics.", metrics), ("tags.", tags)):
        columns.update(_wide(rows.num_rows, table, prefix))
    frame: pd.DataFrame = pa.table(columns).to_pandas()
    return frame


def _wide(count: int, table: pa.Table, prefix: str) -> dict[str, pa.Array]:
    """``prefix + key -> the key's values by run`` (null where a run lacks the key) from ``table``'s rows of
    position (of the run, below ``count``), key and value: every key's take indices in one scatter."""
    if table.num_rows == 0:
        return {}
    encoded = pc.dictionary_encode(table.column("key")).combine_chunks()
    names = encoded.dictionary.to_pylist()
    index = np.full((len(names), count), -1, dtype=np.int64)
    index[encoded.indices.to_numpy(), table.column("position").to_numpy()] = np.arange(table.num_rows)
    values = table.column("value")
    return {
        f"{prefix}{names[code]}": values.take(pa.array(index[code], mask=index[code] < 0))
        for code in sorted(range(len(names)), key=names.__getitem__)
    }


def _record_end(tx: CatalogTransaction, run_id: str, status: RunStatus, end_time: datetime, error: str | None) -> None:
    tx.tracking.end_run(run_id, status, end_time, error)
    tx.audit.append(audit_entry("run.end", run_id, status=status.value))


def _exit_hook_for(service: TrackingService) -> Callable[[], None]:
    """What interpreter exit runs for a process that started runs and never closed its project.

    It holds the service weakly: a forgotten project's service may still be collected.
    """
    reference = weakref.ref(service)
    return lambda: _end_at_exit(reference)


def _end_at_exit(reference: weakref.ref[TrackingService]) -> None:
    service = reference()
    if service is None:
        return
    # sys.last_exc is set when an uncaught exception ended the program: its runs failed
    failure = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    if failure is not None:
        service.close(status=RunStatus.FAILED, error=f"{type(failure).__name__}: {failure}")
    else:
        service.close()


#: how many of the runs a prefix matches an ambiguity error names
_SHOWN_MATCHES = 5


def _run_by_prefix(records: TrackingRecords, prefix: str) -> RunInfo:
    """The one run whose id starts with ``prefix``."""
    if not prefix.strip():
        raise ValidationError("A run id is empty: give the run's id or a unique prefix of it (see `fti runs list`).")
    matches = records.run_ids_starting_with(prefix, _SHOWN_MATCHES + 1)
    if not matches:
        raise NotFoundError(f"Run '{prefix}' does not exist: list runs with `fti runs list`.")
    if len(matches) > 1:
        shown = ", ".join(matches[:_SHOWN_MATCHES]) + (", ..." if len(matches) > _SHOWN_MATCHES else "")
        raise ValidationError(
            f"Run id prefix '{prefix}' matches several runs ({shown}): give more characters of the id."
        )
    found = records.find_run(matches[0])
    if found is None:  # deleted between the two reads
        raise NotFoundError(f"Run '{prefix}' does not exist: list runs with `fti runs list`.")
    return found
