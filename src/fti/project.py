"""The Project: the thin entry point that builds backends from config and hands out services."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from fti.inference.log_table import InferenceLogTable
from fti.observability import MonitoringService
from fti.observability.ab_testing import ab_report as _ab_report
from fti.observability.retraining import RetrainAction, retrain
from fti.registry.service import ModelRegistry
from fti.tracking.run import Run
from fti.tracking.service import TrackingService

if TYPE_CHECKING:
    from datetime import datetime

    import pandas as pd
    import pyarrow as pa

    from fti.backends.ports import ArtifactStore, CatalogStore, OfflineStore, OnlineStore
    from fti.core.deployments import ApiToken, Combine, Deployment, OutputKind
    from fti.core.lineage import TrainingDataRef
    from fti.core.registry import RegisteredModel
    from fti.features.expectations import Expectation
    from fti.features.queries import Query
    from fti.inference.batch import BatchPredictions
    from fti.monitoring.alerts import Alert, AlertAction, AlertRule
    from fti.monitoring.drift import DriftConfig
    from fti.monitoring.performance import PerformancePoint
    from fti.observability import ABReport, MonitorResult
    from fti.observability.retraining import AddToDeployment
    from fti.registry.lineage import ModelLineage, RunLineage, TrainingDataUsage
    from fti.registry.version import ModelVersion
    from fti.training.ports import SplitData
    from fti.training.preprocessing import PreprocessingConfig
    from fti.training.space import Distribution
    from fti.training.tracked import Tracked
    from fti.training.tuning import Direction, Sampler

__all__ = ["BackendStatus", "Project", "check_backends", "connect", "ensure_schema", "open_catalog"]


@dataclass(frozen=True, slots=True)
class BackendStatus:
    """One backend as ``fti status`` reports it."""

    role: str
    kind: str
    location: str
    is_reachable: bool
    detail: str


class _LazyOnlineStore:
    """The configured online store, built and opened on first use (projects that never serve never connect)."""

    def __init__(self, loaded: LoadedConfig) -> None:
        self._loaded = loaded
        self._store: OnlineStore | None = None
        self._lock = threading.Lock()

    def __call__(self) -> OnlineStore:
        store = self._store
        if store is not None:
            return store
        with self._lock:
            if self._store is None:
                kind, options = self._loaded.backend("online_store")
                opened: OnlineStore = create_backend("online_store", kind, options)
                opened.open()
                self._store = opened
            return self._store

    def close(self) -> None:
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()


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
        self._online = _LazyOnlineStore(loaded)
        self.features = FeatureStore(catalog, offline_store, self._online)
        self.monitoring = MonitoringService(
            InferenceLogTable(offline_store), self.registry, self.features, self.artifacts
        )
        self.serving = DeploymentService(catalog, self.registry, self.features)
        self.api_tokens = TokenService(catalog)

    @property
    def online_store(self) -> OnlineStore:
        """The configured online store, opened on first use."""
        return self._online()

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
    ) -> Tracked:
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
        from fti.training.tracked import train_tracked

        return train_tracked(
            self,
            training_data,
            model,
            task=task,
            params=params,
            preprocessing=preprocessing,
            experiment=experiment,
            run_name=run_name,
            register=register,
            importance=importance,
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
    ) -> Tracked:
        """Tune ``model`` over ``space`` with Optuna: a study run, a nested run per trial, the best registered.

        With ``n_workers`` > 1, trials run in that many processes sharing one study (a journal file under
        the project's ``.fti/studies`` folder); each worker opens this project by its folder to log its
        trials' runs.

        Args:
            training_data: the training dataset to tune on (its validation split ranks the trials).
            model: the model type to tune (see :meth:`train`).
            space: param name -> ``fti.space.uniform/loguniform/int/choice``.
            metric: the metric to optimize (default: the task's validation metric, e.g. ``validation_f1``).
            direction: ``"maximize"`` or ``"minimize"`` (default: by the metric).
            sampler: ``"tpe"`` (default), ``"random"`` or ``"grid"``.
            n_trials: trials over all workers (the grid's size for grid search when None).
            timeout: seconds after which no new trial starts.
            n_workers: processes running trials at once.
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
        from fti.training.tracked import tune_tracked

        return tune_tracked(
            self,
            training_data,
            model,
            space,
            metric=metric,
            direction=direction,
            sampler=sampler,
            n_trials=n_trials,
            timeout=timeout,
            n_workers=n_workers,
            pruning=pruning,
            experiment=experiment,
            register=register,
            task=task,
            params=params,
            preprocessing=preprocessing,
            storage_dir=self.root / ".fti" / "studies",
            opener=functools.partial(connect, self.root, overrides=_overrides(self._loaded)),
            seed=seed,
        )

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
    ) -> Tracked:
        """Try several model families, each tuned within ``time_budget`` seconds; log all, register the best.

        Every trial is a run nested in the AutoML run, tagged with its family; the AutoML run holds the
        leaderboard (``leaderboard.json``) and the best model's test metrics and figures.

        Example:
            >>> found = project.automl(td, time_budget=120, register="fraud-detector")  # doctest: +SKIP
            >>> found.result.leaderboard  # doctest: +SKIP
        """
        from fti.training.automl import FAMILIES
        from fti.training.tracked import automl_tracked

        return automl_tracked(
            self,
            training_data,
            task=task,
            time_budget=time_budget,
            families=tuple(families or FAMILIES),
            trials_per_family=trials_per_family,
            metric=metric,
            experiment=experiment,
            register=register,
            seed=seed,
        )

    # -- registry ----------------------------------------------------------------------------------

    def get_model(self, ref: str) -> ModelVersion:
        """A model version: ``"name"`` (latest), ``"name:3"`` or ``"name@champion"``."""
        return self.registry.get_model(ref)

    def models(self) -> list[RegisteredModel]:
        """Every registered model with its latest version and aliases."""
        return self.registry.list_models()

    def lineage(self, target: Any) -> ModelLineage | RunLineage | TrainingDataUsage:
        """Lineage from any end: a model version or reference, a run or run id, or a training dataset."""
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

    # -- monitoring --------------------------------------------------------------------------------

    def monitor(
        self,
        deployment: str,
        reference: Any = None,
        *,
        window: str | timedelta | int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        config: DriftConfig | None = None,
    ) -> MonitorResult:
        """Check a deployment's logged traffic for drift (features and prediction) and data quality.

        The reference defaults to the training dataset of the model the deployment serves (its champion),
        profiled once and kept as an artifact. ``window`` is a duration ending now (``"1h"``, ``"1d"``) or
        the last N rows; ``start``/``end`` bound it instead.

        Example:
            >>> result = project.monitor("fraud", window="1h")  # doctest: +SKIP
            >>> result.drifted_features, result.save()  # doctest: +SKIP
        """
        return self.monitoring.monitor(deployment, reference, window=window, start=start, end=end, config=config)

    def log_labels(self, deployment: str, data: Any, *, label: str = "label") -> int:
        """Record ground truth (``request_id`` and ``label`` columns) for a deployment's logged predictions."""
        return self.monitoring.log_labels(deployment, data, label=label)

    def performance(self, deployment: str, bucket: str | timedelta = "1h") -> list[PerformancePoint]:
        """Model metrics per model version (``name:version``) and time bucket over labelled predictions."""
        return self.monitoring.performance(deployment, bucket=bucket)

    def check_alerts(
        self,
        deployment: str,
        rules: Sequence[AlertRule] | Path | str,
        actions: Sequence[AlertAction] = (),
        **monitor_options: Any,
    ) -> list[Alert]:
        """Evaluate alert rules (a list, or a YAML file with rules and actions) and run the actions.

        Example:
            >>> project.check_alerts("fraud", [DriftShareRule(0.5)], [WebhookAction(url)])  # doctest: +SKIP
        """
        if isinstance(rules, str | Path):
            from fti.observability import load_alerts

            loaded = load_alerts(rules, retrain=lambda options: self._retrain_from(deployment, options))
            rules, actions = loaded.rules, (*loaded.actions, *actions)
        return self.monitoring.check_alerts(deployment, rules, actions, **monitor_options)

    def _retrain_from(self, deployment: str, options: Mapping[str, Any]) -> RetrainAction:
        from fti.observability.retraining import import_callable

        pipeline = import_callable(str(options["pipeline"]))
        return self.retraining(deployment, pipeline, share=float(options.get("share", 0.1)))

    def retraining(
        self,
        deployment: str,
        train: Callable[[Project], ModelVersion],
        *,
        share: float = 0.1,
        add_to_deployment: AddToDeployment | None = None,
    ) -> RetrainAction:
        """An alert action that runs ``train(project)``, sets ``challenger`` on the model version it returns
        and calls ``add_to_deployment(deployment, "name:version", share)`` (default: add it to the
        deployment's traffic split with that share)."""
        return RetrainAction(deployment, lambda: train(self), share, add_to_deployment or self._add_variant)

    def retrain(
        self,
        deployment: str,
        train: Callable[[Project], ModelVersion],
        *,
        share: float = 0.1,
        add_to_deployment: AddToDeployment | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        """Retrain now: run ``train(project)``, set ``challenger`` on its result, add it to the deployment."""
        hook = add_to_deployment or self._add_variant
        return retrain(deployment, lambda: train(self), share=share, add_to_deployment=hook, reason=reason)

    def _add_variant(self, deployment: str, reference: str, share: float) -> None:
        """Put a retrained challenger into a deployment's traffic split, if that deployment exists."""
        if deployment in {existing.name for existing in self.serving.list_deployments()}:
            self.serving.add_variant(deployment, reference, share)

    def ab_report(
        self,
        deployment: str,
        metric: str = "accuracy",
        *,
        control: str = "champion",
        alpha: float = 0.05,
        mde: float | None = None,
        promote: bool = False,
    ) -> ABReport:
        """Compare a deployment's model versions on labelled traffic (shadow excluded).

        Accuracy and error rate use the two-proportion z-test, squared and absolute error Welch's t-test;
        every effect has a bootstrap interval, and ``mde`` gives the sample size needed. ``promote=True``
        moves ``champion`` to a version that wins significantly, the evidence kept in the alias history.

        Example:
            >>> report = project.ab_report("fraud", metric="accuracy", mde=0.05, promote=True)  # doctest: +SKIP
        """
        labelled = self.monitoring.labelled_log(deployment)
        return _ab_report(
            labelled,
            self.registry,
            deployment=deployment,
            metric=metric,
            control=control,
            alpha=alpha,
            mde=mde,
            promote=promote,
        )

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
            entity_key: column(s) that pin a caller to a variant (sticky A/B); None assigns at random.
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
        deployment = self.serving.deploy(
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
        # the first drift check of the deployment would profile its models' training data: do it now, once
        served = [variant.reference for variant in deployment.variants]
        self.monitoring.profile_references([*served, deployment.shadow] if deployment.shadow else served)
        return deployment

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
        output_kind: OutputKind = "predict",
    ) -> BatchPredictions:
        """Predict ``model`` over its feature view and write the predictions as a feature-group commit.

        The feature view comes from the model's lineage unless ``feature_view`` names one. Rows are the
        view's spine rows with event time in ``[start, end)``, or the given ``spine``. The feature group
        ``output`` (created on first use, keyed like the spine) gets one commit per call with the keys,
        the event time, ``prediction``, ``model_name`` and ``model_version``. A classifier's class scores
        come as ``proba_<class>`` columns with ``output_kind="proba"`` (instead of ``prediction``) or
        ``"both"``.

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
            output_kind=output_kind,
        )

    def close(self) -> None:
        """End active runs, write buffered metrics, and close every backend."""
        try:
            self.tracking.close()
        finally:
            try:
                self._online.close()
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
