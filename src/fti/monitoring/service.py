"""The monitoring service: checks a deployment's inference log against its reference, records labels, reports
performance and alerts, and closes the loop: a deployment's references are profiled when it is deployed
(:meth:`MonitoringService.profile_deployment`), an alert can retrain a challenger into it
(:meth:`~MonitoringService.retraining`), and its A/B analysis can promote the winner
(:meth:`~MonitoringService.ab_report`). It reads the inference log, the registry, the feature store and the
artifact store; the deployments it adds challengers to and the project its training pipelines get are handed to it.

Example:
    >>> result = project.monitor("fraud", window="1h")  # doctest: +SKIP
    >>> result.drifted_features, result.save()  # doctest: +SKIP
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from fti.core.durations import parse_duration
from fti.errors import NotFoundError, ValidationError
from fti.inference_log.features import FEATURE_COLUMNS, feature_columns
from fti.monitoring import promotion
from fti.monitoring.actions import notify
from fti.monitoring.alerts import MetricBelowRule, evaluate_rules
from fti.monitoring.labels import LabelData, labels_table
from fti.monitoring.references import (
    ReferenceInput,
    ReferenceSource,
    deployed_model,
    profile_references,
    resolve_reference,
    served_references,
    text_reference_data,
)
from fti.monitoring.result import MonitorResult
from fti.monitoring.retraining import RetrainAction, TrainingPipeline, add_to_split, import_callable, retrain
from fti.monitoring.rules_file import load_alerts
from fti.monitoring.stats.columns import as_table
from fti.monitoring.stats.drift import detect_drift
from fti.monitoring.stats.performance import infer_task, performance_over_time
from fti.monitoring.stats.quality import QualityConfig, check_quality
from fti.monitoring.stats.reference import ReferenceProfile, build_reference
from fti.monitoring.stats.windows import detect_drift_and_windows
from fti.monitoring.text import is_text_window, text_stats, text_window

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from fti.artifacts import ArtifactService
    from fti.core.deployments import Deployment
    from fti.features import FeatureStore
    from fti.inference_log import InferenceLog, LogWindow
    from fti.monitoring.actions import AlertAction
    from fti.monitoring.alerts import Alert, AlertRule
    from fti.monitoring.options import (
        ABOptions,
        AddToDeployment,
        CheckOptions,
        MonitorOptions,
        PerformanceOptions,
        RetrainingOptions,
        RetrainOptions,
    )
    from fti.monitoring.retraining import TrafficSplits
    from fti.monitoring.stats.drift import DriftReport
    from fti.monitoring.stats.performance import PerformancePoint
    from fti.registry.service import ModelRegistry
    from fti.registry.version import ModelVersion

__all__ = ["MonitoringService"]

_WINDOWS_OVER_TIME = 10
_DEFAULT_SHARE = 0.1


class MonitoringService:
    """Monitoring of deployments over the inference log (see :meth:`monitor`).

    Args:
        log: the inference log.
        registry: the model registry (references, aliases, promotion).
        features: the feature store (the training datasets references are profiled from).
        artifacts: where reference profiles and reports are kept.
        deployments: the deployments a retrained challenger joins (default: none; pass ``add_to_deployment``).
        context: what training pipelines are called with (the project).
    """

    def __init__(
        self,
        log: InferenceLog,
        registry: ModelRegistry,
        features: FeatureStore,
        artifacts: ArtifactService,
        *,
        deployments: TrafficSplits | None = None,
        context: object = None,
        on_alerts: Callable[[str, Sequence[Alert]], None] | None = None,
    ) -> None:
        self.log = log
        self._on_alerts = on_alerts
        self._registry = registry
        self._features = features
        self._artifacts = artifacts
        self._deployments = deployments
        self._context = context

    # -- drift and quality -------------------------------------------------------------------------

    def profile_deployment(self, deployment: Deployment) -> Deployment:
        """Build and keep the reference profile of each model version ``deployment`` serves (variants and shadow),
        so that its first check reads them instead of building them; returns the deployment.

        Best effort: a version whose reference cannot be built (no training dataset in its lineage, inputs the
        dataset lacks) is skipped, and its first check says why.
        """
        profile_references(served_references(deployment), self._registry, self._features, self._artifacts)
        return deployment

    def monitor(
        self, deployment: str, reference: ReferenceInput = None, **options: Unpack[MonitorOptions]
    ) -> MonitorResult:
        """Check a deployment's logged traffic for drift (features and prediction) and data quality.

        Args:
            deployment: the deployment's name in the inference log.
            reference: a ReferenceProfile or data to profile; by default the training dataset of the model
                the deployment serves (its champion), profiled once and kept as an artifact.
            **options: the window read and how the check decides (see :class:`~fti.monitoring.options.MonitorOptions`):
                ``window``, ``start``, ``end``, ``config``, ``quality``, ``over_time``.

        Returns:
            The result; ``result.save()`` stores its JSON and HTML reports as artifacts.

        Raises:
            NotFoundError: the deployment logged nothing in the window.
            ValidationError: the window or the reference is unusable.
        """
        current = self.log.read_window(
            deployment, options.get("window"), start=options.get("start"), end=options.get("end")
        )
        return self.monitor_window(
            current,
            reference,
            config=options.get("config"),
            quality=options.get("quality"),
            over_time=options.get("over_time"),
        )

    def monitor_window(
        self, current: LogWindow, reference: ReferenceInput = None, **options: Unpack[CheckOptions]
    ) -> MonitorResult:
        """:meth:`monitor` over logged rows already read: ``current`` holds the deployment's non-shadow rows of the
        window, oldest first (what :meth:`~fti.inference_log.InferenceLog.read_window` reads), e.g. by the dashboard
        within the freshness it allows.

        Raises:
            NotFoundError: the window holds no rows.
            ValidationError: the reference is unusable.
        """
        deployment = current.deployment
        if current.rows == 0:
            raise NotFoundError(
                f"Deployment '{deployment}' has no logged predictions in the window: send traffic to it or widen the "
                "window (--window / window=)."
            )
        model = None if reference is not None else deployed_model(self._registry, deployment, current.log)
        if is_text_window(current.current.column_names) and not isinstance(reference, ReferenceProfile):
            current, source = self._text_check(current, reference, model)
        else:
            source = resolve_reference(reference, model=model, features=self._features, artifacts=self._artifacts)
        profile = source.profile
        has_prediction = "prediction" in profile.columns and current.current.column("prediction").null_count < (
            current.rows
        )
        prediction = "prediction" if has_prediction else None
        features = [name for name in profile.columns if name != "prediction"]
        data = current.current if has_prediction else current.current.drop_columns(["prediction"])
        drift, series = self._drift(current, profile, data, features, prediction, options)
        quality = options.get("quality") or QualityConfig()
        # the request log keeps the entity keys (sticky assignment, feature lookups) by design: not a finding
        keys = [name for name in self._entity_keys(deployment) if name not in profile.columns]
        ignored = tuple({*quality.ignore, *keys, *([] if has_prediction else ["prediction"])})
        quality_report = check_quality(profile, data, config=replace(quality, ignore=ignored))
        return MonitorResult(
            deployment=deployment,
            model=source.model,
            reference=source.description,
            reference_key=source.artifact_key,
            window=current.describe(),
            drift=drift,
            quality=quality_report,
            over_time=series,
            _artifacts=self._artifacts,
        )

    def generation_stats(
        self,
        deployment: str,
        feedback: pd.DataFrame,
        *,
        bucket: str | timedelta = "1h",
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pd.DataFrame:
        """A text generation deployment's requests per model version and time bucket: prompt and response
        lengths and tokens, latency and time to first token, the mean feedback rating (see
        :func:`fti.monitoring.text.text_stats`); ``feedback`` holds its feedback rows."""
        columns = ["request_id", "model_name", "model_version", "latency_ms", *FEATURE_COLUMNS]
        log = self.log.read(deployment, start, end, columns=columns)
        parsed = feature_columns(log)
        rows = log.drop_columns([name for name in FEATURE_COLUMNS if name in log.column_names])
        for name in parsed.column_names:
            if name not in rows.column_names:
                rows = rows.append_column(name, parsed.column(name))
        if log.num_rows and not is_text_window(rows.column_names):
            raise ValidationError(
                f"Deployment '{deployment}' logged no prompts and responses: generation statistics are for text "
                "generation deployments."
            )
        return text_stats(rows, feedback, parse_duration(bucket, what="bucket"))

    def _text_check(
        self, current: LogWindow, reference: ReferenceInput, model: ModelVersion | None
    ) -> tuple[LogWindow, ReferenceSource]:
        """A text generation window and its reference as derived columns (:mod:`fti.monitoring.text`)."""
        if reference is None:
            assert model is not None
            data = text_reference_data(model, self._features)
            label: str | None = f"{model.name}:{model.version}"
            described = f"training prompts of {label}"
        else:
            data, label, described = as_table(reference, what="reference"), None, "given prompts"
        window, derived = text_window(current, data)
        return window, ReferenceSource(build_reference(derived), label, None, described)

    def _entity_keys(self, deployment: str) -> tuple[str, ...]:
        """The keys the request log of ``deployment`` keeps beside the features: its entity keys and the serving
        keys of the feature view it looks features up in (none when it is not deployed here, or no deployments
        are known)."""
        if self._deployments is None:
            return ()
        found = next((item for item in self._deployments.list_deployments() if item.name == deployment), None)
        if found is None:
            return ()
        keys = list(found.entity_keys)
        if found.feature_lookup is not None:
            name, _, version = found.feature_lookup.partition(":")
            try:
                view = self._features.get_feature_view(name, int(version) if version else None)
                keys.extend(view.serving_keys())
            except (NotFoundError, ValidationError):  # a view gone or no longer online: no lookup keys logged
                pass
        return tuple(dict.fromkeys(keys))

    def _drift(
        self,
        current: LogWindow,
        profile: ReferenceProfile,
        data: pa.Table,
        features: list[str],
        prediction: str | None,
        options: CheckOptions,
    ) -> tuple[DriftReport, list[DriftReport]]:
        """The drift of the whole window and of its slices over time, from one pass over each column."""
        config, over_time = options.get("config"), options.get("over_time")
        if isinstance(over_time, int) and not isinstance(over_time, bool):
            return detect_drift_and_windows(
                profile, data, rows=over_time, columns=features, prediction=prediction, config=config
            )
        if isinstance(over_time, str | timedelta):
            every = parse_duration(over_time, what="over_time slice")
        else:
            description = current.describe()
            if description["start"] is None or description["end"] is None:
                return detect_drift(profile, data, columns=features, prediction=prediction, config=config), []
            span = datetime.fromisoformat(description["end"]) - datetime.fromisoformat(description["start"])
            every = max(span / _WINDOWS_OVER_TIME, timedelta(seconds=1))
        stamped = data.append_column("_fti_timestamp", current.log.column("timestamp"))
        return detect_drift_and_windows(
            profile,
            stamped,
            every=every,
            timestamp="_fti_timestamp",
            columns=features,
            prediction=prediction,
            config=config,
        )

    # -- labels and performance --------------------------------------------------------------------

    def log_labels(self, deployment: str, data: LabelData, *, label: str = "label") -> int:
        """Record ground truth for logged predictions of ``deployment``.

        Args:
            deployment: the deployment whose predictions the labels answer.
            data: rows with ``request_id`` and the label column (DataFrame, Arrow table or dict of columns);
                an optional ``labelled_at`` timestamp.
            label: the label column's name.

        Returns:
            The number of labels written.

        Raises:
            ValidationError: a column is missing, a label is not a number, or a request id was never logged.
        """
        table = labels_table(deployment, data, label=label, logged=self.log.request_ids(deployment))
        return self.log.write_labels(table)

    def labelled_log(self, deployment: str, start: datetime | None = None, end: datetime | None = None) -> pa.Table:
        """The deployment's logged predictions (shadow excluded) with their labels, unlabelled rows left out, in no
        particular order: ``timestamp``, ``model_name``, ``model`` (``name:version``), ``prediction``, ``label``."""
        return self.log.labelled_predictions(deployment, start, end)

    def performance(self, deployment: str, **options: Unpack[PerformanceOptions]) -> list[PerformancePoint]:
        """Model metrics per model version and time bucket, over labelled predictions.

        Args:
            deployment: the deployment.
            **options: ``bucket`` (default ``"1h"``), ``task``, ``start``, ``end`` (see
                :class:`~fti.monitoring.options.PerformanceOptions`).

        Returns:
            One point per (model version, bucket); ``point.version`` is ``name:version``.
        """
        every = parse_duration(options.get("bucket", "1h"), what="bucket")
        joined = self.labelled_log(deployment, options.get("start"), options.get("end"))
        if joined.num_rows == 0:
            return []
        chosen = options.get("task") or infer_task(joined.column("label"))
        return performance_over_time(joined, task=chosen, version="model", every=every)

    # -- alerts and retraining ---------------------------------------------------------------------

    def check_alerts(
        self,
        deployment: str,
        rules: Iterable[AlertRule] | str | Path,
        actions: Sequence[AlertAction] = (),
        *,
        result: MonitorResult | None = None,
        bucket: str | timedelta = "1h",
        **options: Unpack[MonitorOptions],
    ) -> list[Alert]:
        """Evaluate alert rules against a fresh check (and performance, for metric rules); run the actions.

        Args:
            deployment: the deployment.
            rules: the rules (see :mod:`fti.monitoring.alerts`), or a YAML file of rules and actions (see
                :mod:`fti.monitoring.rules_file`; its ``retrain`` actions run :meth:`retraining`).
            actions: run for every fired alert (a retraining action once per check, with the first alert);
                one failing does not stop the others.
            result: a check already made (default: ``monitor(deployment, **options)``).
            bucket: the performance bucket for metric rules.
            **options: passed to :meth:`monitor`.

        Returns:
            The fired alerts.

        Raises:
            BackendError: after every action ran, when some failed.
        """
        if isinstance(rules, str | Path):
            loaded = load_alerts(rules, retrain=functools.partial(self._retraining_from, deployment))
            rules, actions = loaded.rules, (*loaded.actions, *actions)
        chosen = list(rules)
        checked = result or self.monitor(deployment, **options)
        needs_metrics = any(isinstance(rule, MetricBelowRule) for rule in chosen)
        points = self.performance(deployment, bucket=bucket) if needs_metrics else None
        fired = evaluate_rules(chosen, drift=checked.drift, quality=checked.quality, performance=points)
        if fired and self._on_alerts is not None:
            self._on_alerts(deployment, fired)  # recorded before the actions run, whatever they do
        if fired:
            # retraining answers the check, not each alert: it runs once, after the notifications
            retraining = [action for action in actions if isinstance(action, RetrainAction)]
            notify(fired, [action for action in actions if not isinstance(action, RetrainAction)])
            notify(fired[:1], retraining)
        return fired

    def retraining(
        self, deployment: str, train: TrainingPipeline, **options: Unpack[RetrainingOptions]
    ) -> RetrainAction:
        """An alert action that runs ``train(project)``, sets ``challenger`` on the model version it returns and
        adds it to the deployment (``share`` of its traffic, by ``add_to_deployment`` or the deployment's split)."""
        share = options.get("share", _DEFAULT_SHARE)
        return RetrainAction(deployment, self._pipeline(train), share, self._hook(options.get("add_to_deployment")))

    def retrain(self, deployment: str, train: TrainingPipeline, **options: Unpack[RetrainOptions]) -> ModelVersion:
        """Retrain now: run ``train(project)``, set ``challenger`` on its result, add it to the deployment."""
        return retrain(
            deployment,
            self._pipeline(train),
            share=options.get("share", _DEFAULT_SHARE),
            add_to_deployment=self._hook(options.get("add_to_deployment")),
            reason=options.get("reason"),
        )

    def _retraining_from(self, deployment: str, entry: Mapping[str, Any]) -> RetrainAction:
        """The retraining of a rules file's ``{type: retrain, pipeline: "package.module:function", share: 0.2}``."""
        pipeline = import_callable(str(entry["pipeline"]))
        return self.retraining(deployment, pipeline, share=float(entry.get("share", _DEFAULT_SHARE)))

    def _pipeline(self, train: TrainingPipeline) -> functools.partial[ModelVersion]:
        return functools.partial(train, self._context)

    def _hook(self, given: AddToDeployment | None) -> AddToDeployment | None:
        if given is not None or self._deployments is None:
            return given
        return add_to_split(self._deployments)

    # -- A/B and promotion -------------------------------------------------------------------------

    def ab_report(self, deployment: str, metric: str = "accuracy", **options: Unpack[ABOptions]) -> promotion.ABReport:
        """Compare a deployment's model versions on labelled traffic (shadow excluded); with ``promote=True``,
        move ``champion`` to a version that wins significantly, the evidence kept in the alias history.

        Accuracy and error rate use the two-proportion z-test, squared and absolute error Welch's t-test; every
        effect has a bootstrap interval, and ``mde`` gives the sample size needed (see
        :class:`~fti.monitoring.options.ABOptions` for every option).
        """
        labelled = self.log.labelled_predictions(deployment)
        return promotion.ab_report(labelled, self._registry, deployment=deployment, metric=metric, **options)
