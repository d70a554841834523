"""The orchestration service: the project's pipelines, manual runs, run history, logs and lineage.

Pipelines come from the modules listed under ``pipelines:`` in ``fti.yaml`` (imported on first use) and
from :meth:`OrchestrationService.register`. Schedulers built by :meth:`OrchestrationService.scheduler`
run them; every run is in the catalog's history.

Example:
    >>> run = project.run_pipeline("features", params={"days": "7"})  # doctest: +SKIP
    >>> run.state, project.orchestration.logs(run.id)  # doctest: +SKIP
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fti.core.audit import audit_entry
from fti.core.pipelines import PipelineRecord, PipelineRunRecord, RunState
from fti.errors import NotFoundError, ValidationError
from fti.orchestration.definitions import Pipeline, Step, define_pipeline
from fti.orchestration.loading import add_unique, load_pipelines
from fti.orchestration.scheduler import Clock, Scheduler, SchedulerSettings, log_key, new_run, utc_now
from fti.orchestration.triggers import next_slot

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from fti.artifacts import ArtifactService
    from fti.backends.ports import CatalogStore, Executor
    from fti.core.events import Event

__all__ = ["OrchestrationService", "RunLineage"]


@dataclass(frozen=True, slots=True)
class RunLineage:
    """What a pipeline run read, what started it and what it wrote (the events it produced)."""

    run: PipelineRunRecord
    trigger_event: Event | None
    reads: tuple[str, ...]
    produced: tuple[Event, ...]


class OrchestrationService:
    """Pipelines and their runs (see the module docstring)."""

    def __init__(
        self,
        catalog: CatalogStore,
        artifacts: ArtifactService,
        *,
        sources: Sequence[str],
        root: Path,
        executor: Callable[[], Executor],
        opener: Callable[[], AbstractContextManager[Any]],
        settings: SchedulerSettings,
    ) -> None:
        self._catalog = catalog
        self._artifacts = artifacts
        self._sources = list(sources)
        self._root = root
        self._executor = executor
        self._opener = opener
        self.settings = settings
        self._loaded: dict[str, Pipeline] | None = None
        self._registered: dict[str, Pipeline] = {}

    # -- definitions -------------------------------------------------------------------------------

    def register(self, pipeline: Pipeline | Step | Sequence[Step], **options: Any) -> Pipeline:
        """Register a pipeline (``@fti.pipeline`` result), or a function or steps with ``options`` (see
        :func:`fti.pipeline`), beside those of ``fti.yaml``; schedulers built afterwards run it.

        Raises:
            ValidationError: an option does not parse, or another pipeline has the name.
        """
        built = pipeline if isinstance(pipeline, Pipeline) else define_pipeline(pipeline, **options)
        known = dict(self._definitions())
        add_unique(known, built)
        self._registered[built.name] = built
        return built

    def pipelines(self) -> list[Pipeline]:
        """Every pipeline of the project, by name."""
        return [pipeline for _, pipeline in sorted(self._definitions().items())]

    def get(self, name: str) -> Pipeline:
        """The pipeline ``name``; NotFoundError if there is none."""
        found = self._definitions().get(name)
        if found is None:
            known = ", ".join(sorted(self._definitions())) or "none"
            raise NotFoundError(
                f"No pipeline '{name}' (the project's pipelines: {known}). Define it with @fti.pipeline in a module "
                "listed under 'pipelines:' in fti.yaml."
            )
        return found

    def _definitions(self) -> dict[str, Pipeline]:
        if self._loaded is None:
            self._loaded = load_pipelines(self._sources, self._root)
        return {**self._loaded, **self._registered}

    # -- running -----------------------------------------------------------------------------------

    def scheduler(self, *, clock: Clock = utc_now, settings: SchedulerSettings | None = None) -> Scheduler:
        """A scheduler for every pipeline of the project (open the executor first; the caller closes it)."""
        specs = {name: pipeline.spec for name, pipeline in self._definitions().items()}
        return Scheduler(
            self._catalog,
            self._executor(),
            self._artifacts,
            specs,
            opener=self._opener,
            root=self._root,
            settings=settings or self.settings,
            clock=clock,
        )

    def run(self, name: str, params: Mapping[str, Any] | None = None, *, wait: bool = True) -> PipelineRunRecord:
        """Run the pipeline ``name`` by hand: queued now, then run here until it ends (with its retries)
        unless ``wait`` is False (a running scheduler starts it).

        Returns:
            The last attempt as it ended, or the queued run.

        Raises:
            NotFoundError: no such pipeline.
            ValidationError: a param the pipeline does not declare.
        """
        pipeline = self.get(name)
        values = {str(key): str(value) for key, value in (params or {}).items()}
        unknown = sorted(set(values) - set(pipeline.spec.params))
        if unknown:
            declared = ", ".join(sorted(pipeline.spec.params)) or "none"
            raise ValidationError(
                f"Pipeline '{name}' has no param '{unknown[0]}' (its params: {declared}); declare params with "
                "@fti.pipeline(params={...})."
            )
        now = utc_now()
        run = new_run(name, f"manual:{uuid.uuid4().hex}", now, params=values)
        with self._catalog.transaction() as tx:
            tx.pipelines.ensure(name, pipeline.spec.to_dict(), now, tx.events.last_id())
            tx.pipelines.add_runs([run])
            tx.audit.append(audit_entry("pipeline.run", name, run_id=run.id, params=values))
        if not wait:
            return run
        ended = self.scheduler().run_queued([run.id])
        return ended[-1] if ended else self.get_run(run.id)

    def record(self, events: Sequence[Event]) -> None:
        """Append events to the catalog's event log (one transaction), e.g. the alerts a check fired."""
        if events:
            with self._catalog.transaction() as tx:
                for event in events:
                    tx.events.append(event)

    # -- history -----------------------------------------------------------------------------------

    def runs(self, name: str | None = None, *, limit: int = 50, offset: int = 0) -> list[PipelineRunRecord]:
        """Pipeline runs (of one pipeline, or all), newest first."""
        with self._catalog.transaction() as tx:
            return tx.pipelines.runs(name, limit, offset)

    def records(self) -> dict[str, PipelineRecord]:
        """What the catalog keeps per pipeline (cursors, the definition its last scheduler registered)."""
        with self._catalog.transaction() as tx:
            return {record.name: record for record in tx.pipelines.list()}

    def get_run(self, run_id: str) -> PipelineRunRecord:
        """The pipeline run ``run_id``; NotFoundError if there is none."""
        with self._catalog.transaction() as tx:
            found = tx.pipelines.find_run(run_id)
        if found is None:
            raise NotFoundError(f"No pipeline run '{run_id}': see `fti pipelines history` for the run ids.")
        return found

    def logs(self, run_id: str) -> str:
        """The output of a run: live while it runs (on this machine), kept as an artifact once it ended."""
        run = self.get_run(run_id)
        live = self._root / ".fti" / "pipelines" / "logs" / f"{run.id}.log"
        if live.exists():
            return live.read_text(encoding="utf-8", errors="replace")
        if self._artifacts.exists(log_key(run)):
            return self._artifacts.get_bytes(log_key(run)).decode("utf-8", errors="replace")
        return ""

    def lineage(self, run_id: str) -> RunLineage:
        """What the run read, the event that started it and what it wrote."""
        run = self.get_run(run_id)
        with self._catalog.transaction() as tx:
            produced = tx.events.produced_by([run.id])
            found = [] if run.event_id is None else tx.events.after(run.event_id - 1, limit=1)
        trigger = found[0] if found and found[0].id == run.event_id else None
        return RunLineage(run, trigger, run.reads, tuple(produced))

    def next_run(self, name: str, now: datetime | None = None) -> datetime | None:
        """When the pipeline's schedule next fires (None without a schedule)."""
        spec = self.get(name).spec
        if spec.schedule is None:
            return None
        return next_slot(spec.schedule, spec.timezone, now or utc_now())

    @staticmethod
    def is_final(run: PipelineRunRecord) -> bool:
        """Whether the run ended."""
        return run.state not in (RunState.QUEUED, RunState.RUNNING)
