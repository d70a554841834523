"""The Project: the thin entry point that builds backends from config and hands out services.

The module runs past 400 lines: it is the documented public API (DESIGN.md's target API), one method per
user-facing verb, each a delegation to a service whose docstring, with its example, is what users read.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, Unpack, overload

from fti.backends.kinds import ROLES, create_backend
from fti.core.access import DEFAULT_ROLE, parse_expiry
from fti.core.events import alert_event
from fti.core.records import SchemaState, SchemaStatus
from fti.core.sources import CommitLineage, Source
from fti.errors import CatalogSchemaError, FtiError, ValidationError

if TYPE_CHECKING:
    from datetime import datetime

    import pandas as pd
    import pyarrow as pa

    from fti.artifacts import ArtifactService
    from fti.backends.ports import (
        ArtifactStore,
        CatalogStore,
        Connectable,
        Executor,
        OfflineStore,
        OnlineStore,
        StreamBroker,
    )
    from fti.config import LoadedConfig
    from fti.core.access import Role
    from fti.core.audit import AuditEntry
    from fti.core.deployments import ApiToken, Combine, Deployment, OutputKind
    from fti.core.lineage import TrainingDataRef
    from fti.core.pipelines import PipelineRunRecord
    from fti.core.registry import RegisteredModel
    from fti.features import AggregationGroup, FeatureGroup, FeatureStore, FeatureView
    from fti.features.aggregations import Aggregation, ValueType
    from fti.features.deletion import DeletedFeatureGroup
    from fti.features.expectations import Expectation
    from fti.features.ingestion import IngestResult, InsertOptions
    from fti.features.queries import Query
    from fti.features.view_deletion import DeletedFeatureView, DeletedTrainingDatasets
    from fti.inference.batch import BatchPredictions
    from fti.inference.deployments import AuditLog, DeploymentService, TokenService
    from fti.inference_log import InferenceLog
    from fti.llm.finetune_config import FinetuneConfig, Method
    from fti.llm.generation import GenerationParams
    from fti.llm.preference_tracked import PreferenceTuned
    from fti.llm.tracked import Finetuned
    from fti.monitoring import ABReport, MonitoringService, MonitorResult, RetrainAction
    from fti.monitoring.actions import AlertAction
    from fti.monitoring.alerts import Alert, AlertRule
    from fti.monitoring.feedback import FeedbackData, FeedbackLog, FeedbackWritten
    from fti.monitoring.labels import LabelData
    from fti.monitoring.options import (
        ABOptions,
        AlertOptions,
        MonitorOptions,
        PerformanceOptions,
        RetrainingOptions,
        RetrainOptions,
    )
    from fti.monitoring.references import ReferenceInput
    from fti.monitoring.stats.performance import PerformancePoint
    from fti.orchestration import OrchestrationService, Pipeline
    from fti.orchestration.definitions import Step
    from fti.registry.collection import CollectedFiles
    from fti.registry.deletion import DeletedVersion
    from fti.registry.lineage import ModelLineage, RunLineage, TrainingDataUsage
    from fti.registry.service import ModelRegistry
    from fti.registry.version import ModelVersion
    from fti.streams import StreamJob
    from fti.streams.predictions import PredictionJob
    from fti.tracking.deletion import DeletedExperiment, DeletedRuns
    from fti.tracking.run import Run
    from fti.tracking.service import TrackingService
    from fti.training.automl import AutoMLResult
    from fti.training.ports import SplitData
    from fti.training.preprocessing import PreprocessingConfig
    from fti.training.space import Distribution
    from fti.training.study import Direction, Sampler, TuningResult
    from fti.training.tracked import Tracked, TrainingService
    from fti.training.trainers import TrainingResult

__all__ = ["BackendStatus", "Project", "check_backends", "connect", "ensure_schema", "open_catalog"]

BackendT = TypeVar("BackendT", bound="Connectable")
ServiceT = TypeVar("ServiceT")

#: what ``fti status`` counts, in the words of DESIGN.md, and the catalog table holding each
_OBJECT_TABLES = {
    "feature groups": "feature_groups",
    "feature views": "feature_views",
    "training datasets": "training_datasets",
    "experiments": "experiments",
    "runs": "runs",
    "models": "registered_models",
    "model versions": "model_versions",
    "deployments": "deployments",
    "pipelines": "pipelines",
    "pipeline runs": "pipeline_runs",
}


class _service(Generic[ServiceT]):  # noqa: N801  # used as a decorator, named like one
    """A service of the project, built by the decorated method on first use and then kept on the instance.

    A project opened only to read the catalog or check the monitors imports nothing of the services it does
    not use (the feature store pulls pandas, pyarrow.dataset and DuckDB; sources, streams and LLM tuning
    more). Building is serialized per project (services build their dependencies, so the lock is
    re-entrant); after that the instance attribute shadows this descriptor and reads cost nothing.
    """

    def __init__(self, build: Callable[[Project], ServiceT]) -> None:
        self._build = build
        self._name = build.__name__
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, project: None, owner: type[Project]) -> _service[ServiceT]: ...

    @overload
    def __get__(self, project: Project, owner: type[Project]) -> ServiceT: ...

    def __get__(self, project: Project | None, owner: type[Project]) -> ServiceT | _service[ServiceT]:
        if project is None:
            return self
        with project._services_lock:
            built: ServiceT | None = project.__dict__.get(self._name)
            if built is None:
                built = self._build(project)
                project.__dict__[self._name] = built
        return built


@dataclass(frozen=True, slots=True)
class BackendStatus:
    """One backend as ``fti status`` reports it."""

    role: str
    kind: str
    location: str
    is_reachable: bool
    detail: str


class _LazyBackend(Generic[BackendT]):
    """A configured backend, built and opened on first use (a project that never serves or runs parallel work
    never connects to the online store or starts worker processes), closed with the project."""

    def __init__(self, build: Callable[[], BackendT]) -> None:
        self._build = build
        self._backend: BackendT | None = None
        self._lock = threading.Lock()

    def __call__(self) -> BackendT:
        backend = self._backend
        if backend is not None:
            return backend
        with self._lock:
            if self._backend is None:
                opened = self._build()
                opened.open()
                self._backend = opened
            return self._backend

    def close(self) -> None:
        with self._lock:
            backend, self._backend = self._backend, None
        if backend is not None:
            backend.close()


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
        self._services_lock = threading.RLock()
        self._online: _LazyBackend[OnlineStore] = _LazyBackend(
            lambda: create_backend("online_store", *loaded.backend("online_store"))
        )
        self._executor: _LazyBackend[Executor] = _LazyBackend(
            lambda: create_backend("executor", *loaded.backend("executor"))
        )
        self._broker: _LazyBackend[StreamBroker] = _LazyBackend(
            lambda: create_backend("stream_broker", *loaded.backend("stream_broker"))
        )
        self._training: TrainingService | None = None

    # -- services, each built (and its modules imported) on first use ---------------------------------

    @_service
    def artifacts(self) -> ArtifactService:
        """Artifacts: content-addressed files in the artifact store, recorded in the catalog."""
        from fti.artifacts import ArtifactService

        return ArtifactService(self.artifact_store, self.catalog)

    @_service
    def registry(self) -> ModelRegistry:
        """The model registry: registered models, versions, aliases and lineage."""
        from fti.registry.service import ModelRegistry

        return ModelRegistry(self.catalog, self.artifacts, explainer=_explain_rows)

    @_service
    def tracking(self) -> TrackingService:
        """Experiment tracking: experiments, runs, their metrics, params and artifacts."""
        from fti.tracking.service import TrackingService

        return TrackingService(self.catalog, self.artifacts, self.registry, root=self._loaded.root)

    @_service
    def features(self) -> FeatureStore:
        """The feature store: feature groups, aggregation groups, feature views and training datasets."""
        from fti.features import FeatureStore

        return FeatureStore(
            self.catalog,
            self.offline_store,
            self._online,
            open_source=_open_source,
            provenance=self._provenance,
            compact_after=self._loaded.config.features.compact_after,
            executor=self._executor,
        )

    @_service
    def serving(self) -> DeploymentService:
        """Deployments: which model versions serve under which name, and how."""
        from fti.inference.deployments import DeploymentService

        return DeploymentService(self.catalog, self.registry, self.features)

    @_service
    def inference_log(self) -> InferenceLog:
        """The request log of every deployment, in the offline store."""
        from fti.inference_log import InferenceLog

        return InferenceLog(self.offline_store)

    @_service
    def orchestration(self) -> OrchestrationService:
        """Pipelines, their schedules and triggers, and the run history."""
        from fti.orchestration import OrchestrationService, SchedulerSettings

        scheduling = self._loaded.config.scheduler
        return OrchestrationService(
            self.catalog,
            self.artifacts,
            sources=self._loaded.config.pipelines,
            root=self._loaded.root,
            executor=self._executor,
            opener=self._opener(),
            settings=SchedulerSettings(
                scheduling.poll_interval, timedelta(seconds=scheduling.lease_seconds), scheduling.max_runs
            ),
        )

    @_service
    def monitoring(self) -> MonitoringService:
        """Monitoring: drift, performance, alerts, A/B reports and retraining over the request log."""
        from fti.monitoring import MonitoringService

        return MonitoringService(
            self.inference_log,
            self.registry,
            self.features,
            self.artifacts,
            deployments=self.serving,
            context=self,
            on_alerts=self._record_alerts,
        )

    @_service
    def api_tokens(self) -> TokenService:
        """API tokens for the serving endpoints."""
        from fti.inference.deployments import TokenService

        return TokenService(self.catalog)

    @_service
    def audit_log(self) -> AuditLog:
        """The audit log of authenticated calls."""
        from fti.inference.deployments import AuditLog

        return AuditLog(self.catalog)

    @_service
    def feedback_log(self) -> FeedbackLog:
        """Feedback on logged responses (preferences, corrections), kept as a feature group."""
        from fti.monitoring.feedback import FeedbackLog

        return FeedbackLog(self.features, self.inference_log)

    def _record_alerts(self, deployment: str, fired: Sequence[Alert]) -> None:
        """Fired alerts are catalog events: pipelines with ``fti.on_alert(deployment)`` triggers start on them."""
        self.orchestration.record([alert_event(deployment, alert.to_dict()) for alert in fired])

    @property
    def online_store(self) -> OnlineStore:
        """The configured online store, opened on first use."""
        store: OnlineStore = self._online()
        return store

    @property
    def stream_broker(self) -> StreamBroker:
        """The configured stream broker, connected on first use."""
        broker: StreamBroker = self._broker()
        return broker

    @property
    def executor(self) -> Executor:
        """The configured executor, opened on first use."""
        executor: Executor = self._executor()
        return executor

    @property
    def training(self) -> TrainingService:
        """Tracked training, tuning and AutoML (what :meth:`train`, :meth:`tune` and :meth:`automl` use)."""
        if self._training is None:
            from fti.training.tracked import TrainingService

            studies = self.root / ".fti" / "studies"
            self._training = TrainingService(
                self.tracking, studies=studies, opener=self._opener(), executor=self._executor
            )
        return self._training

    def _opener(self) -> Callable[[], Project]:
        """Opens this project again, with the same settings, in a task's process (picklable)."""
        return functools.partial(connect, self.root, overrides=_overrides(self._loaded))

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

    def object_counts(self) -> dict[str, int]:
        """How many of each thing the user made: feature groups, runs, models, deployments and so on.

        Example:
            >>> project.object_counts()["runs"]  # doctest: +SKIP
            12
        """
        rows = self.catalog.counts()
        return {label: rows.get(table, 0) for label, table in _OBJECT_TABLES.items()}

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

    def join_run(self, run_id: str) -> Run:
        """Log to a running run from another process (a worker of a distributed job, say).

        The handle logs metrics, params, tags, artifacts and models like the run's own; metric points from
        every process are kept, each (key, step) as its process logged it, so give each process its own steps
        (or keys). Leaving the handle's ``with`` block (or ``end()``) writes its buffered metrics; it does not
        end the run: the process that started the run ends it.

        Raises:
            NotFoundError: no run has the id (or unique prefix) ``run_id``.
            ConflictError: the run has ended.

        Example:
            >>> with project.join_run(run_id) as run:  # doctest: +SKIP
            ...     run.log_metric("loss", loss, step=rank * steps + step)
        """
        return self.tracking.join_run(run_id)

    def fail_killed_runs(self) -> list[str]:
        """Mark failed the runs left running by a process that was killed on this host; their ids, sorted.

        Each run records the process that started it (host, pid and when the process started). A run still
        running whose process on this host is gone, without having ended it (SIGKILL, an out-of-memory kill),
        ends as failed with the error ``killed: ...``. Runs of processes on other hosts are left as they are:
        only their host can tell. :meth:`runs`, :meth:`get_run` and the dashboard call this first, so a killed
        run never shows as running on its host; ``fti runs gc`` calls it alone.

        Example:
            >>> project.fail_killed_runs()  # doctest: +SKIP
            ['526dfce8a0b94e1c9d1f0e3b2a7c4d5e']
        """
        return self.tracking.fail_killed_runs()

    def collect_unregistered_files(self, grace: timedelta = timedelta(minutes=10)) -> CollectedFiles:
        """Remove the files of model registrations that never finished; the folders and how many files.

        A process killed while it registered a model leaves the files it uploaded under its run, where no
        model version points. Nothing reads them, and deleting the run removes them; this removes them sooner:
        those of runs that ended (call :meth:`fail_killed_runs` first for runs whose process was killed), whose
        newest file is older than ``grace``. Each folder removed is in the audit log (``model_files.collect``).
        ``fti runs gc`` does both.

        Example:
            >>> project.fail_killed_runs(); project.collect_unregistered_files().files  # doctest: +SKIP
            3
        """
        return self.registry.collect_unregistered(grace)

    def delete_run(self, run_id: str, *, force: bool = False) -> DeletedRuns:
        """Delete a run with everything logged to it: params, metrics, tags and its files.

        Refused (nothing deleted) while lineage needs the run: the model versions it logged must be deleted
        first (:meth:`delete_model_version`); nested runs (tuning trials) go with it only with ``force``.

        Args:
            run_id: the run's id or any unique prefix of it.
            force: delete the run's nested runs with it.

        Raises:
            ConflictError: the run logged model versions, is running here, or has nested runs without ``force``.

        Example:
            >>> project.delete_run("526dfce8")  # doctest: +SKIP
        """
        return self.tracking.delete_run(run_id, force=force)

    def delete_experiment(self, name: str, *, force: bool = False) -> DeletedExperiment:
        """Delete an experiment; with ``force``, its runs (and their nested runs) and their files with it.

        Refused (nothing deleted) while it has runs and ``force`` is not set, and, whatever ``force`` says,
        while one of its runs logged model versions (delete those first) or is running here.

        Raises:
            NotFoundError: there is no such experiment.
            ConflictError: as above.

        Example:
            >>> project.delete_experiment("scratch", force=True)  # doctest: +SKIP
        """
        return self.tracking.delete_experiment(name, force=force)

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

    # -- training ----------------------------------------------------------------------------------

    def train(
        self,
        training_data: SplitData,
        model: str | Any,
        *,
        task: str | None = None,
        params: Mapping[str, Any] | None = None,
        preprocessing: PreprocessingConfig | None = None,
        experiment: str | None = None,
        run_name: str | None = None,
        register: str | None = None,
        importance: bool = False,
    ) -> Tracked[TrainingResult]:
        """Train ``model`` on a training dataset in a new run; log params, metrics and figures; register it.

        The fitted pipeline (preprocessing and model) is registered as ``register`` with a signature from
        the training data's feature columns and lineage back to the feature-group commits.

        Args:
            training_data: the training dataset (``fv.create_training_data(...)``) or any splits.
            model: a model type (``"logistic_regression"``, ``"random_forest"``, ``"gradient_boosting"``,
                ``"xgboost"``, ``"lightgbm"``, ``"mlp"``, ...) or an unfitted scikit-learn estimator.
            task: ``"binary"``, ``"multiclass"`` or ``"regression"``; inferred from the labels when None.
            params: the model's params over the family's defaults.
            preprocessing: imputation, scaling and encoding (``fti.training.PreprocessingConfig``).
            experiment: the run's experiment (default: the registered name, else the feature view's name).
            run_name: the run's name.
            register: the model name to register the fitted pipeline under.
            importance: also log permutation importance on the held-out split.

        Example:
            >>> trained = project.train(td, "xgboost", register="fraud-detector")  # doctest: +SKIP
            >>> trained.version.predict(X)  # doctest: +SKIP
        """
        from fti.training.tracked import ModelRecipe, RunSettings

        recipe = ModelRecipe(model, task, params or {}, preprocessing)
        return self.training.train(
            training_data, recipe, RunSettings(experiment, run_name, register), importance=importance
        )

    def tune(
        self,
        training_data: SplitData,
        model: str,
        space: Mapping[str, Distribution],
        metric: str | None = None,
        direction: Direction | None = None,
        sampler: Sampler = "tpe",
        *,
        n_trials: int | None = 20,
        timeout: float | None = None,
        n_workers: int = 1,
        pruning: bool = True,
        experiment: str | None = None,
        register: str | None = None,
        task: str | None = None,
        params: Mapping[str, Any] | None = None,
        preprocessing: PreprocessingConfig | None = None,
        seed: int = 0,
    ) -> Tracked[TuningResult]:
        """Tune ``model`` over ``space`` with Optuna: a study run, a nested run per trial, the best registered.

        The options of the search make a :class:`fti.training.TuningSpec` (one place for each). With
        ``n_workers`` > 1, that many shares of the trials run as tasks on the project's executor (``executor:``
        in ``fti.yaml``: local worker processes by default), sharing one study through a journal file under
        the project's ``.fti/studies`` folder; each worker opens this project by its folder to log its trials'
        runs.

        Args:
            training_data: the training dataset to tune on (its validation split ranks the trials).
            model: the model type to tune (see :meth:`train`).
            space: param name -> ``fti.space.uniform/loguniform/int/choice``.
            metric: the metric to optimize (default: the task's validation metric, e.g. ``validation_f1``).
            direction: ``"maximize"`` or ``"minimize"`` (default: by the metric).
            sampler: ``"tpe"`` (default), ``"random"`` or ``"grid"``.
            n_trials: trials over all workers (the grid's size for grid search when None).
            timeout: seconds after which no new trial starts.
            n_workers: trials running at once, as tasks on the executor.
            pruning: stop unpromising trials of iterative models (MLP epochs, boosting rounds) early.
            experiment: the runs' experiment (default: the registered name, else the feature view's name).
            register: the model name to register the best trial's pipeline under.
            task: the learning task; inferred when None.
            params: fixed params of every trial.
            preprocessing: imputation, scaling and encoding.
            seed: seeds the samplers.

        Example:
            >>> tuned = project.tune(td, "xgboost", {"max_depth": fti.space.int(2, 8)}, n_trials=20,
            ...                      n_workers=2, register="fraud-detector")  # doctest: +SKIP
        """
        from fti.training.study import TuningSpec
        from fti.training.tracked import ModelRecipe, RunSettings

        search = TuningSpec(space, metric, direction, sampler, n_trials, timeout, n_workers, pruning, seed)
        recipe = ModelRecipe(model, task, params or {}, preprocessing)
        return self.training.tune(training_data, recipe, search, RunSettings(experiment, register=register))

    def automl(
        self,
        training_data: SplitData,
        task: str | None = None,
        *,
        time_budget: float = 300.0,
        families: Sequence[str] | None = None,
        trials_per_family: int = 10,
        metric: str | None = None,
        experiment: str | None = None,
        register: str | None = None,
        seed: int = 0,
    ) -> Tracked[AutoMLResult]:
        """Try several model families, each tuned within ``time_budget`` seconds; log all, register the best.

        Every trial is a run nested in the AutoML run, tagged with its family; the AutoML run holds the
        leaderboard (``leaderboard.json``) and the best model's test metrics and figures.

        Example:
            >>> found = project.automl(td, time_budget=120, register="fraud-detector")  # doctest: +SKIP
            >>> found.result.leaderboard  # doctest: +SKIP
        """
        from fti.training.automl import FAMILIES, AutoMLSpec
        from fti.training.tracked import RunSettings

        search = AutoMLSpec(task, time_budget, tuple(families or FAMILIES), trials_per_family, metric, seed=seed)
        return self.training.automl(training_data, search, RunSettings(experiment, register=register))

    def finetune(
        self,
        base_model: Any,
        training_data: Any,
        method: Method | None = None,
        *,
        config: FinetuneConfig | None = None,
        register: str | None = None,
        experiment: str | None = None,
        run_name: str | None = None,
        evaluation: GenerationParams | None = None,
        **options: Any,
    ) -> Finetuned:
        """Fine-tune a pretrained causal LM on text data in a new run; evaluate it before and after; register it.

        Every setting, the base model, the tokenizer and every data row are checked before the run starts.
        The run logs each step's ``train_loss``, ``learning_rate`` and ``eval_loss``, and perplexity, BLEU,
        ROUGE-1/2/L, exact match and generated samples before (``base_*``) and after fine-tuning. The
        registered version keeps the lineage of its training dataset and of its base model.

        Args:
            base_model: a registered model (``"tiny-gpt2:1"``, ``"base@champion"``, a model version), a local
                folder, or ``"package:<name>"`` for a model shipped by an installed package. Nothing is
                downloaded.
            training_data: a ``fti.llm.TextDataset``, or a training dataset (prompt/response,
                instruction/input/output or chat messages) to read as one.
            method: ``"lora"`` or ``"full"`` (default: the config's, LoRA).
            config: the settings (``fti.llm.FinetuneConfig``); ``options`` override single ones, such as
                ``learning_rate=1e-4, max_steps=200, lora_rank=8``.
            register: register the fine-tuned model under this name.
            experiment: the run's experiment (default: the registered name).
            run_name: the run's name.
            evaluation: generation parameters of the evaluation samples (default: greedy).

        Raises:
            ValidationError: bad settings, a base model that is not a causal LM, a tokenizer that cannot pad,
                empty or over-long rows (counted), or a LoRA target the model lacks (the message lists them).

        Example:
            >>> tuned = project.finetune("tiny-gpt2:1", data, method="lora", learning_rate=2e-4,
            ...                          register="code-writer")  # doctest: +SKIP
            >>> tuned.metrics["perplexity"] < tuned.metrics["base_perplexity"]  # doctest: +SKIP
            True
        """
        from fti.llm.tracked import finetune_tracked, options_config

        return finetune_tracked(
            self.tracking,
            self.registry,
            base_model,
            training_data,
            options_config(config, method, options),
            register=register,
            experiment=experiment,
            run_name=run_name,
            evaluation=evaluation,
        )

    def preference_tune(
        self,
        base_model: Any,
        feedback: str | pd.DataFrame | TrainingDataRef | None = None,
        method: str = "dpo",
        *,
        config: FinetuneConfig | None = None,
        beta: float = 0.1,
        held_out: float = 0.2,
        register: str | None = None,
        experiment: str | None = None,
        run_name: str | None = None,
        **options: Any,
    ) -> PreferenceTuned:
        """Tune a causal LM to prefer the responses people preferred (DPO), in a new run; register it.

        Pairs come from the feedback: a preferred response over its rejected one, and for ratings, each
        response over every response to the same prompt rated lower (:mod:`fti.llm.preference` states the
        rule). Feedback on a deployment (its name) or on every deployment (None) is read through a new
        training dataset of the ``feedback`` feature group, so the registered version's lineage reaches the
        feedback commits it learned from. The run tracks the rewards' margins and accuracies at every step and
        the chosen-over-rejected log-probability margin on held-out prompts before and after.

        Args:
            base_model: a registered model (``"writer:1"``, ``"writer@champion"``, a model version), a folder or
                ``"package:<name>"``.
            feedback: a deployment's name, None (all feedback), a training dataset or a DataFrame of feedback
                rows (``prompt`` with ``preferred``/``rejected`` or ``response``/``rating``) or of pairs
                (``prompt``, ``chosen``, ``rejected``).
            method: ``"dpo"``, the one preference method.
            config: how to train (``fti.llm.FinetuneConfig``: LoRA or full, learning rate, steps...); ``options``
                override single settings (``max_steps=40, learning_rate=5e-3``).
            beta: how far the tuned model may move from the base model (DPO's temperature).
            held_out: the share of prompts kept out of training to measure the margins on.
            register: register the tuned model under this name.
            experiment: the run's experiment (default: the registered name).
            run_name: the run's name.

        Raises:
            ValidationError: an unknown method or setting, no pairs, or pairs that do not fit the model.

        Example:
            >>> tuned = project.preference_tune("writer:1", feedback="writer", register="writer")  # doctest: +SKIP
            >>> tuned.metrics["logp_margin"] > tuned.metrics["base_logp_margin"]  # doctest: +SKIP
            True
        """
        from fti.llm.preference_tracked import preference_tune_tracked
        from fti.llm.tracked import options_config

        if method != "dpo":
            raise ValidationError(f"Preference tuning method must be 'dpo', got {method!r}.")
        rows: Any = feedback
        lineage = None
        if feedback is None or isinstance(feedback, str):
            lineage = self.feedback_log.training_data()
            rows = lineage.read()
            if feedback is not None:
                rows = rows[rows["deployment"] == feedback]
        return preference_tune_tracked(
            self.tracking,
            self.registry,
            base_model,
            rows,
            options_config(config, None, options),
            beta=beta,
            held_out=held_out,
            lineage=lineage,
            register=register,
            experiment=experiment,
            run_name=run_name,
        )

    # -- registry ----------------------------------------------------------------------------------

    def get_model(self, ref: str) -> ModelVersion:
        """A model version: ``"name"`` (latest), ``"name:3"`` or ``"name@champion"``."""
        return self.registry.get_model(ref)

    def delete_model_version(self, ref: str, *, force: bool = False) -> DeletedVersion:
        """Delete a model version with its tags and files; its number is not given again.

        Refused (nothing deleted) while a deployment serves the version, whatever ``force`` says, and while an
        alias points at it unless ``force`` (which removes the alias, recorded in its history).

        Args:
            ref: ``"name:3"`` or ``"name@alias"`` (a bare name, the latest version, is refused as too loose).
            force: remove the aliases pointing at the version with it.

        Raises:
            ValidationError: ``ref`` names no version.
            ConflictError: a deployment serves the version, or an alias points at it without ``force``.

        Example:
            >>> project.delete_model_version("fraud-detector:1")  # doctest: +SKIP
        """
        if ":" not in ref and "@" not in ref:
            raise ValidationError(f"Name the version to delete: '{ref}:VERSION' (or '{ref}@ALIAS'), not '{ref}' alone.")
        return self.registry.delete_model_version(ref, force=force)

    def models(self) -> list[RegisteredModel]:
        """Every registered model with its latest version and aliases."""
        return self.registry.list_models()

    def lineage(self, target: Any) -> ModelLineage | RunLineage | TrainingDataUsage:
        """Lineage from any end: a model version or reference, a run or run id, or a training dataset."""
        from fti.tracking.run import Run

        return self.registry.lineage_of(target.id if isinstance(target, Run) else target)

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

    def get_or_create_feature_group(
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
        """The feature group ``name`` v``version``, created as :meth:`create_feature_group` would if absent.

        For pipelines that run again and again. A group found with another definition is refused, naming
        what differs; a schema taken from the group's first insert matches a call that gives none.

        Raises:
            ConflictError: the group exists with another key, event time, schema or other setting.

        Example:
            >>> cards = project.get_or_create_feature_group(
            ...     "cards", primary_key=["cc_num"], event_time="ts")  # doctest: +SKIP
        """
        return self.features.get_or_create_feature_group(
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

    def create_aggregation_group(
        self,
        name: str,
        version: int = 1,
        *,
        key: Sequence[str],
        event_time: str,
        aggregations: Sequence[Aggregation],
        lateness: str | timedelta = timedelta(0),
        stream: str | None = None,
        key_types: Mapping[str, ValueType] | None = None,
        emit: str | timedelta | None = None,
        description: str = "",
        online: bool = False,
        ttl: timedelta | None = None,
    ) -> AggregationGroup:
        """Create a feature group defined by windowed aggregations over events, computed the same way by its
        backfill and by a stream job (``fti stream run NAME``).

        Each event gets one row: its key, its event time and every aggregate over the key's events in
        ``(t - window, t]``. ``lateness`` is how far behind the newest event an event may arrive and still
        count; ``stream`` names the stream its events arrive on; ``key_types`` how key columns are read
        (default ``"string"``). With an emit step (``emit="1m"``) the group keeps one row per key and step of
        event time (from the epoch): its last event's; a stream job writes a step's row offline once the
        watermark passes the step's end, and the online values at every event. Windows, lateness and the
        emit step are checked before anything is created.

        Raises:
            ValidationError: a window, lateness, name or type is invalid.
            ConflictError: ``name`` already has ``version``.

        Example:
            >>> windows = project.create_aggregation_group(
            ...     "card_windows", key=["cc_num"], event_time="ts",
            ...     aggregations=[fti.agg.count(window="1h"), fti.agg.mean("amount", window="7d")])  # doctest: +SKIP
            >>> windows.backfill(transactions)  # doctest: +SKIP
        """
        from fti.features.aggregations import AggregationSpec

        spec = AggregationSpec.of(
            name,
            key=key,
            event_time=event_time,
            aggregations=aggregations,
            lateness=lateness,
            stream=stream,
            key_types=key_types,
            emit=emit,
        )
        return self.features.create_aggregation_group(
            name, version, spec=spec, description=description, online=online, ttl=ttl
        )

    def get_aggregation_group(self, name: str, version: int | None = None) -> AggregationGroup:
        """The aggregation group ``name`` at ``version`` (None: the latest); NotFoundError if absent."""
        return self.features.get_aggregation_group(name, version)

    def publish(
        self, stream: str, events: Any, *, key: Sequence[str] | None = None, partitions: int | None = None
    ) -> int:
        """Append events to a stream of the configured broker (see :func:`fti.streams.publish`).

        Example:
            >>> project.publish("transactions", df, key=["cc_num"], partitions=4)  # doctest: +SKIP
        """
        from fti.streams import publish

        return publish(self.stream_broker, stream, events, key=key, partitions=partitions)

    def stream_job(
        self, name: str, version: int | None = None, *, worker: int = 0, workers: int = 1, **options: Any
    ) -> StreamJob:
        """Worker ``worker`` of ``workers`` of the stream job keeping aggregation group ``name`` up to date from
        its stream; ``options`` are :class:`fti.streams.StreamJobOptions`'s (``batch_size``, ``commit_seconds``,
        ``offline_process``).

        Example:
            >>> project.stream_job("card_windows").run(should_stop=lambda: False)  # doctest: +SKIP
        """
        from fti.streams import StreamJob, StreamJobOptions

        group = self.get_aggregation_group(name, version)
        return StreamJob(
            group,
            self.stream_broker,
            worker=worker,
            workers=workers,
            options=StreamJobOptions(**options),
            opener=self._opener(),
        )

    def prediction_job(
        self, deployment: str, *, source: str, to: str, worker: int = 0, workers: int = 1, **options: Any
    ) -> PredictionJob:
        """Worker ``worker`` of ``workers`` of the streaming inference of ``deployment``: each event of stream
        ``source`` scored (features from the deployment's feature view, as ``/predict`` with ``entities``) into
        stream ``to`` and the request log; ``options`` are :class:`fti.streams.PredictionJobOptions`'s.

        Example:
            >>> job = project.prediction_job("fraud", source="transactions", to="fraud_scores")  # doctest: +SKIP
            >>> job.run(should_stop=lambda: False)  # doctest: +SKIP
        """
        from fti.inference.adapters import CatalogDeploymentSource, FeatureViewLookup, RegistryResolver
        from fti.inference.live import ModelTable
        from fti.streams.predictions import PredictionJob, PredictionJobOptions

        found = self.serving.get_deployment(deployment)
        key_types: dict[str, str] = {}
        if found.feature_lookup is not None:
            view_name, _, view_version = found.feature_lookup.partition(":")
            view = self.features.get_feature_view(view_name, int(view_version) if view_version else None)
            key_types = {key: str(kind) for key, kind in view.serving_keys().items()}
        return PredictionJob(
            deployment,
            source=source,
            to=to,
            broker=self.stream_broker,
            table=ModelTable(RegistryResolver(self.registry), CatalogDeploymentSource(self.serving)),
            features=FeatureViewLookup(self.features),
            log=self.inference_log,
            key_types=key_types,
            worker=worker,
            workers=workers,
            options=PredictionJobOptions(**options),
        )

    def get_feature_group(self, name: str, version: int | None = None) -> FeatureGroup:
        """The feature group ``name`` at ``version`` (None: the latest); NotFoundError if absent."""
        return self.features.get_feature_group(name, version)

    def delete_feature_group(self, name: str, version: int) -> DeletedFeatureGroup:
        """Delete a feature group version with its commits, source cursors and data (offline and online).

        Refused (nothing deleted) while a feature view reads the version: the view's training datasets and
        the models trained on them need it. The version can be created again afterwards, empty.

        Raises:
            NotFoundError: there is no such version.
            ConflictError: a feature view reads it.

        Example:
            >>> project.delete_feature_group("cards", version=1)  # doctest: +SKIP
        """
        return self.features.delete_feature_group(name, version)

    def delete_feature_view(self, name: str, version: int, *, force: bool = False) -> DeletedFeatureView:
        """Delete a feature view version; with ``force``, its training datasets and their tables with it.

        Refused (nothing deleted), whatever ``force`` says, while a deployment looks features up through the
        view or a model version was trained on one of its training datasets; without ``force``, while it has
        training datasets. Runs that read them are kept, with their record of what they read.

        Raises:
            NotFoundError: there is no such version.
            ConflictError: as above.

        Example:
            >>> project.delete_feature_view("fraud", version=1, force=True)  # doctest: +SKIP
        """
        return self.features.delete_feature_view(name, version, force=force)

    def delete_training_dataset(
        self, name: str, version: int, training_dataset_version: int, *, force: bool = False
    ) -> DeletedTrainingDatasets:
        """Delete training dataset ``training_dataset_version`` of feature view ``name`` v``version`` and its table.

        Refused (nothing deleted), whatever ``force`` says, while model versions were trained on it (delete them
        first); without ``force``, while runs read it (they keep their record of it, and its version number is
        not given again).

        Raises:
            NotFoundError: there is no such view or training dataset.
            ConflictError: as above.

        Example:
            >>> project.delete_training_dataset("fraud", 1, 2)  # doctest: +SKIP
        """
        return self.features.delete_training_dataset(name, version, training_dataset_version, force=force)

    def ingest(
        self, source: Source | str, *, into: FeatureGroup | str, **options: Unpack[InsertOptions]
    ) -> IngestResult:
        """Read what is new in ``source`` into the feature group ``into`` as one commit, moving its cursor.

        ``source`` is a source (``fti.sources.csv(...)``, ``sql(...)``, ``http(...)``) or a path, glob, URL
        or YAML spec (:func:`fti.sources.open_source`); ``into`` a feature group or its name (``"cards"``,
        ``"cards:2"``). The options are :meth:`FeatureGroup.insert`'s. The commit records its lineage: the
        source, what was read (files, cursor range), the code version and the run active in this thread.

        Example:
            >>> project.ingest(fti.sources.csv("data/*.csv"), into="cards", parse_dates=["ts"])  # doctest: +SKIP
        """
        from fti.features import FeatureGroup
        from fti.sources import open_source

        group = into if isinstance(into, FeatureGroup) else self.get_feature_group(*_group_ref(into))
        opened = open_source(source) if isinstance(source, str) else source
        return group.insert(opened, **options)

    def preview(
        self,
        source: Source | str,
        *,
        into: FeatureGroup | str | None = None,
        rows: int = 10,
        **options: Unpack[InsertOptions],
    ) -> pa.Table:
        """The first ``rows`` rows an ingestion would read now, prepared by ``options``; nothing is written.

        With ``into``, reading starts at the group's cursor for the source (only what is new); the
        table's schema is what the group would get (or must match).

        Example:
            >>> project.preview("data/*.csv", normalize_names=True).schema  # doctest: +SKIP
        """
        from fti.features import FeatureGroup
        from fti.features.ingestion import preparation_of
        from fti.sources import open_source

        group = None
        if into is not None:
            group = into if isinstance(into, FeatureGroup) else self.get_feature_group(*_group_ref(into))
        opened = open_source(source) if isinstance(source, str) else source
        return self.features.preview(opened, group, rows, preparation_of(options))

    def _provenance(self) -> CommitLineage:
        """The code version and active run a commit written now records in its lineage."""
        from fti.tracking.environment import code_version

        run = self.tracking.active_run
        return CommitLineage(source=None, code=code_version(self.root), run_id=None if run is None else run.id)

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

    def get_or_create_feature_view(
        self, name: str, version: int = 1, *, query: Query, labels: Sequence[str] | None = None, description: str = ""
    ) -> FeatureView:
        """The feature view ``name`` v``version``, created as :meth:`create_feature_view` would if absent.

        For code that runs again and again (a notebook, a pipeline). A view found with another query, labels
        or description is refused, naming what differs.

        Raises:
            ConflictError: the view exists with another definition.

        Example:
            >>> fv = project.get_or_create_feature_view(
            ...     "fraud", query=labels.select(["is_fraud"]).join(cards.select_all()),
            ...     labels=["is_fraud"])  # doctest: +SKIP
        """
        return self.features.get_or_create_feature_view(
            name, version, query=query, labels=labels, description=description
        )

    def get_feature_view(self, name: str, version: int | None = None) -> FeatureView:
        """The feature view ``name`` at ``version`` (None: the latest); NotFoundError if absent."""
        return self.features.get_feature_view(name, version)

    def feature_views(self, search: str | None = None) -> list[FeatureView]:
        """Feature views whose name or description contain ``search`` (all if None)."""
        return self.features.feature_views(search)

    # -- monitoring --------------------------------------------------------------------------------

    def monitor(
        self, deployment: str, reference: ReferenceInput = None, **options: Unpack[MonitorOptions]
    ) -> MonitorResult:
        """Check a deployment's logged traffic for drift (features and prediction) and data quality.

        The reference defaults to the training dataset of the model the deployment serves (its champion),
        profiled once and kept as an artifact. ``window`` is a duration ending now (``"1h"``, ``"1d"``) or
        the last N rows; ``start``/``end`` bound it instead; ``config``, ``quality`` and ``over_time`` decide
        the check (every option: :class:`fti.monitoring.options.MonitorOptions`).

        Example:
            >>> result = project.monitor("fraud", window="1h")  # doctest: +SKIP
            >>> result.drifted_features, result.save()  # doctest: +SKIP
        """
        return self.monitoring.monitor(deployment, reference, **options)

    def log_labels(self, deployment: str, data: LabelData, *, label: str = "label") -> int:
        """Record ground truth (``request_id`` and ``label`` columns) for a deployment's logged predictions."""
        return self.monitoring.log_labels(deployment, data, label=label)

    def log_feedback(self, deployment: str, data: FeedbackData) -> FeedbackWritten:
        """Record feedback on a deployment's logged requests in the ``feedback`` feature group (one commit).

        ``data`` holds ``request_id`` and a ``rating`` (0 bad to 1 good), a ``preferred`` response (with the
        ``rejected`` one; default: the logged response), or both, and an optional ``comment``: one row as a dict,
        row dicts, or columns (every format: :mod:`fti.monitoring.feedback`).

        Raises:
            ValidationError: an unknown request id, a rating out of range, identical preferred and rejected
                responses...: the message names the field and the row, and nothing is written.

        Example:
            >>> project.log_feedback("writer", {"request_id": rid, "preferred": "def f(): ..."})  # doctest: +SKIP
        """
        return self.feedback_log.write(deployment, data)

    def feedback(self, deployment: str | None = None) -> pd.DataFrame:
        """The feedback on ``deployment``'s requests (None: every deployment) with each request's model version,
        prompt and response, oldest first."""
        return self.feedback_log.read(deployment)

    def generation_stats(
        self,
        deployment: str,
        *,
        bucket: str | timedelta = "1h",
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pd.DataFrame:
        """A text generation deployment over time, per model version (``name:version``) and bucket: ``requests``,
        mean ``prompt_chars``, ``response_chars``, ``prompt_tokens`` and ``completion_tokens``, p50/p99
        ``latency_ms`` and ``time_to_first_token_ms``, and the mean ``feedback_rating``.

        Drift of the prompts (their embeddings against the training prompts) and of the lengths is part of
        :meth:`monitor`, which checks a text generation deployment on those derived columns.

        Example:
            >>> project.generation_stats("writer", bucket="1h")  # doctest: +SKIP
        """
        feedback = self.feedback_log.read(deployment)
        return self.monitoring.generation_stats(deployment, feedback, bucket=bucket, start=start, end=end)

    def performance(self, deployment: str, **options: Unpack[PerformanceOptions]) -> list[PerformancePoint]:
        """Model metrics per model version (``name:version``) and time bucket over labelled predictions
        (``bucket="1h"``; every option: :class:`fti.monitoring.options.PerformanceOptions`)."""
        return self.monitoring.performance(deployment, **options)

    def check_alerts(
        self,
        deployment: str,
        rules: Sequence[AlertRule] | Path | str,
        actions: Sequence[AlertAction] = (),
        **options: Unpack[AlertOptions],
    ) -> list[Alert]:
        """Evaluate alert rules (a list, or a YAML file with rules and actions) and run the actions.

        Each fired alert is recorded as a catalog event: pipelines with ``fti.on_alert(deployment)`` start on it.

        Example:
            >>> project.check_alerts("fraud", [DriftShareRule(0.5)], [WebhookAction(url)])  # doctest: +SKIP
        """
        return self.monitoring.check_alerts(deployment, rules, actions, **options)

    def retraining(
        self, deployment: str, train: Callable[[Project], ModelVersion], **options: Unpack[RetrainingOptions]
    ) -> RetrainAction:
        """An alert action that runs ``train(project)``, sets ``challenger`` on the model version it returns
        and calls ``add_to_deployment(deployment, "name:version", share)`` (default: add it to the
        deployment's traffic split with that share)."""
        return self.monitoring.retraining(deployment, train, **options)

    def retrain(
        self, deployment: str, train: Callable[[Project], ModelVersion], **options: Unpack[RetrainOptions]
    ) -> ModelVersion:
        """Retrain now: run ``train(project)``, set ``challenger`` on its result, add it to the deployment."""
        return self.monitoring.retrain(deployment, train, **options)

    def ab_report(self, deployment: str, metric: str = "accuracy", **options: Unpack[ABOptions]) -> ABReport:
        """Compare a deployment's model versions on labelled traffic (shadow excluded).

        Accuracy and error rate use the two-proportion z-test, squared and absolute error Welch's t-test;
        every effect has a bootstrap interval, and ``mde`` gives the sample size needed. ``promote=True``
        moves ``champion`` to a version that wins significantly, the evidence kept in the alias history
        (every option: :class:`fti.monitoring.options.ABOptions`).

        Example:
            >>> report = project.ab_report("fraud", metric="accuracy", mde=0.05, promote=True)  # doctest: +SKIP
        """
        return self.monitoring.ab_report(deployment, metric, **options)

    # -- inference -------------------------------------------------------------------------------------

    def deploy(
        self,
        name: str,
        variants: Mapping[str, float] | Sequence[str] | str,
        *,
        shadow: str | None = None,
        feature_view: str | tuple[str, int] | None = None,
        entity_key: str | Sequence[str] | None = None,
        output_kind: OutputKind = "predict",
        preprocess: str | None = None,
        postprocess: str | None = None,
        combine: Combine | None = None,
        stacker: str | None = None,
    ) -> Deployment:
        """Create or update the deployment ``name``: model references with traffic shares.

        Every model reference and the feature view must exist; shares must sum to 1. Re-deploying a name
        replaces it and gives it a new etag, so running servers switch to it. Aliases are resolved by the
        server, so moving ``champion`` needs no re-deploy. The reference profile of each model version served
        (its training dataset, for drift checks) is built here, once per version, where the lineage has one.

        Args:
            name: the deployment's name (an identifier), the ``{name}`` of ``/v1/deployments/{name}/predict``.
            variants: ``{"fraud@champion": 0.9, "fraud@challenger": 0.1}``, or one reference for all traffic.
            shadow: a model reference that gets a copy of all traffic; its answers are logged, never returned.
            feature_view: ``"name"`` or ``"name:2"``: where ``entities`` requests read their features.
            entity_key: column(s) that pin a caller to a variant (sticky A/B), as "name" or "name:int64" /
                "name:string" to declare the type the server accepts; None assigns at random.
            output_kind: what a classifier answers: ``"predict"`` (labels), ``"proba"`` (class scores) or
                ``"both"``.
            preprocess: ``"package.module:function"`` turning each request's rows into the models' inputs.
            postprocess: ``"package.module:function"`` turning ``(predictions, features)`` into what is returned.
            combine: serve the variants as one ensemble: ``"mean"``, ``"weighted_mean"`` (by their shares),
                ``"vote"`` or ``"stacking"`` (with ``stacker``); None splits the traffic between them.
            stacker: the model reference combining the members' outputs when ``combine="stacking"``.

        Raises:
            ValidationError: a name, reference or share is invalid.
            NotFoundError: a model, alias or feature view does not exist.

        Example:
            >>> project.deploy("fraud", {"fraud@champion": 0.9, "fraud@challenger": 0.1},
            ...                entity_key="cc_num")  # doctest: +SKIP
        """
        return self.monitoring.profile_deployment(
            self.serving.deploy(
                name,
                variants,
                shadow=shadow,
                feature_view=feature_view,
                entity_key=entity_key,
                output_kind=output_kind,
                preprocess=preprocess,
                postprocess=postprocess,
                combine=combine,
                stacker=stacker,
            )
        )

    def get_deployment(self, name: str) -> Deployment:
        """The deployment ``name``; NotFoundError if there is none."""
        return self.serving.get_deployment(name)

    def deployments(self) -> list[Deployment]:
        """Every deployment, by name."""
        return self.serving.list_deployments()

    def undeploy(self, name: str) -> None:
        """Delete the deployment ``name``; NotFoundError if there is none."""
        self.serving.undeploy(name)

    def create_token(self, name: str, role: Role = DEFAULT_ROLE, expires: str | datetime | None = None) -> str:
        """Create an API token for the model server and the dashboard; the secret is returned once and never
        stored.

        Args:
            name: the token's name (an identifier), recorded in the audit log for what it does.
            role: ``read``, ``predict`` (the default), ``write`` or ``admin``; each includes the ones before it.
            expires: when it stops working: a duration from now (``"30d"``, ``"12h"``), a date or time
                (``"2027-01-31"``), a timezone-aware datetime, or None (never).
        """
        expires_at = parse_expiry(expires) if isinstance(expires, str) else expires
        return self.api_tokens.create_token(name, role, expires_at)

    def revoke_token(self, name: str) -> None:
        """Revoke the API token ``name``."""
        self.api_tokens.revoke_token(name)

    def tokens(self) -> list[ApiToken]:
        """Every API token's record (name, role, times; never the secret)."""
        return self.api_tokens.list_tokens()

    def audit(
        self,
        *,
        limit: int = 100,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditEntry]:
        """The audit log, newest first: who (a token's name, or ``local:<user>``) changed what, and when.

        ``action`` is one action (``"token.create"``) or, ending in ``.``, a family (``"deployment."``).
        """
        return self.audit_log.entries(limit=limit, actor=actor, action=action, since=since)

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
        output_kind: OutputKind = "predict",
    ) -> BatchPredictions:
        """Predict ``model`` over its feature view and write the predictions as a feature-group commit.

        The feature view comes from the model's lineage unless ``feature_view`` names one. The rows scored
        are, by default, the view's spine rows with event time in ``[start, end)``: for a view whose spine is
        its labels, only the labelled rows. To score other rows (new, unlabelled ones: what batch inference
        is for), pass ``spine``: a DataFrame or Arrow table of the spine's keys and event time (each row
        scored with the features as of its time), or a feature group whose rows in ``[start, end)`` are
        scored (``spine=project.get_feature_group("card_activity")``). The feature group
        ``output`` (created on first use, keyed like the spine) gets one commit per call with the keys,
        the event time, ``prediction``, ``model_name`` and ``model_version``. Millions of rows are scored in
        parts, one per worker of the project's executor, when it has several (``fti.inference.batch``).
        A classifier's class scores
        come as ``proba_<class>`` columns with ``output_kind="proba"`` (instead of ``prediction``) or
        ``"both"``.

        Example:
            >>> project.batch_predict("fraud@champion", output="fraud_scores")  # doctest: +SKIP
            >>> project.batch_predict("fraud@champion", spine=cards, output="fraud_scores")  # doctest: +SKIP
        """
        from fti.inference.batch import DEFAULT_CHUNK_ROWS, Parallelism, batch_predict

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
            parallelism=Parallelism(self._executor, self._opener()),
            output_kind=output_kind,
        )

    # -- pipelines ---------------------------------------------------------------------------------

    def register_pipeline(self, pipeline: Pipeline | Step | Sequence[Step], **options: Any) -> Pipeline:
        """Register a pipeline beside those of the modules under ``pipelines:`` in ``fti.yaml``.

        ``pipeline`` is a ``@fti.pipeline`` function, or a function or list of steps with the options of
        :func:`fti.pipeline` (``name``, ``schedule``, ``triggers``, ``retries``, ``timeout``, ...).

        Example:
            >>> project.register_pipeline(build_features, schedule="0 * * * *")  # doctest: +SKIP
        """
        return self.orchestration.register(pipeline, **options)

    def run_pipeline(
        self, name: str, params: Mapping[str, Any] | None = None, *, wait: bool = True
    ) -> PipelineRunRecord:
        """Run the pipeline ``name`` now (a manual run, recorded in its history) and wait for it to end.

        Example:
            >>> run = project.run_pipeline("features", params={"days": "7"})  # doctest: +SKIP
        """
        return self.orchestration.run(name, params, wait=wait)

    def pipeline_runs(self, name: str | None = None, *, limit: int = 50) -> list[PipelineRunRecord]:
        """Pipeline runs (of one pipeline, or all), newest first."""
        return self.orchestration.runs(name, limit=limit)

    def close(self) -> None:
        """End active runs, write buffered metrics, stop the executor's workers, and close every backend."""
        try:
            if "tracking" in self.__dict__:  # built on first use: a project that never tracked has nothing to end
                self.tracking.close()
        finally:
            try:
                self._online.close()
                self._broker.close()
                self._executor.close()
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


def _open_source(spec: str) -> Source:
    """:func:`fti.sources.open_source`, imported when a source is first opened (the drivers are heavy)."""
    from fti.sources import open_source

    return open_source(spec)


def _explain_rows(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """SHAP attributions for ``ModelVersion.explain``; training (scikit-learn, matplotlib) loads on first use."""
    from fti.training.explain import explain_rows

    return explain_rows(model, frame)


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
    from fti.config import load_config  # pydantic and YAML: imported when a project is opened

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


def _group_ref(text: str) -> tuple[str, int | None]:
    """``name`` or ``name:version``."""
    name, sep, version = text.partition(":")
    if not sep:
        return name, None
    if not version.isdigit():
        raise ValidationError(f"Invalid feature group {text!r}: use NAME or NAME:VERSION, e.g. cards:2.")
    return name, int(version)


def _overrides(loaded: LoadedConfig) -> dict[str, Any]:
    """The settings given as overrides, so a worker process opens the project with the same ones."""
    found: dict[str, Any] = {}
    for key, source in loaded.sources.items():
        if source == "override":
            value: Any = loaded.config
            for part in key.split("."):
                value = getattr(value, part)
            found[key] = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    return found


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
