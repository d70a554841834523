"""The monitoring service: checks a deployment's inference log against its reference, records labels, and
reports performance and alerts. It reads only the inference log, the registry, the feature store and the
artifact store.

Example:
    >>> result = project.monitor("fraud", window="1h")  # doctest: +SKIP
    >>> result.drifted_features, result.save()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.errors import FtiError, NotFoundError, ValidationError
from fti.inference_log.window import LogWindow, WindowSpec, parse_duration
from fti.monitoring.actions import notify
from fti.monitoring.alerts import evaluate_rules
from fti.monitoring.references import deployed_model, reference_profile, resolve_reference
from fti.monitoring.result import MonitorResult
from fti.monitoring.retraining import RetrainAction
from fti.monitoring.stats.columns import as_table
from fti.monitoring.stats.drift import detect_drift
from fti.monitoring.stats.performance import performance_over_time
from fti.monitoring.stats.quality import QualityConfig, check_quality
from fti.monitoring.stats.windows import detect_drift_and_windows

if TYPE_CHECKING:
    from fti.artifacts import ArtifactService
    from fti.features import FeatureStore
    from fti.inference_log import InferenceLog
    from fti.monitoring.actions import AlertAction
    from fti.monitoring.alerts import Alert, AlertRule
    from fti.monitoring.stats.drift import DriftConfig, DriftReport
    from fti.monitoring.stats.performance import PerformancePoint
    from fti.monitoring.stats.reference import ReferenceProfile
    from fti.registry.service import ModelRegistry

__all__ = ["MonitoringService", "Task"]

Task = Literal["classification", "regression"]
_WINDOWS_OVER_TIME = 10
_MAX_CLASSES = 20


class MonitoringService:
    """Monitoring of deployments over the inference log (see :meth:`monitor`)."""

    def __init__(
        self, log: InferenceLog, registry: ModelRegistry, features: FeatureStore, artifacts: ArtifactService
    ) -> None:
        self.log = log
        self._registry = registry
        self._features = features
        self._artifacts = artifacts

    # -- drift and quality -------------------------------------------------------------------------

    def profile_references(self, references: Iterable[str]) -> list[str]:
        """Build and keep the reference profile of each model version ``references`` serve now (``name@alias``,
        ``name:version``), so that the first check of a deployment serving them reads it instead of building it.

        Best effort: a version whose reference cannot be built (no training dataset in its lineage, inputs the
        dataset lacks) is skipped, and its first check says why. Returns the artifact keys of the profiles kept.
        """
        keys = []
        for reference in dict.fromkeys(references):
            try:
                model = self._registry.get_model(reference)
                if model.lineage().training_data is None:
                    continue
                keys.append(reference_profile(model, self._features, self._artifacts)[1])
            except FtiError:
                continue
        return keys

    def monitor(
        self,
        deployment: str,
        reference: Any = None,
        *,
        window: WindowSpec = None,
        start: datetime | None = None,
        end: datetime | None = None,
        config: DriftConfig | None = None,
        quality: QualityConfig | None = None,
        over_time: str | timedelta | int | None = None,
    ) -> MonitorResult:
        """Check a deployment's logged traffic for drift (features and prediction) and data quality.

        Args:
            deployment: the deployment's name in the inference log.
            reference: a ReferenceProfile or data to profile; by default the training dataset of the model
                the deployment serves (its champion), profiled once and kept as an artifact.
            window: a duration ending at ``end`` (``"1h"``, ``"1d"``, a timedelta) or the last N rows.
            start: the window's start (with ``end``; instead of a duration).
            end: the window's end (default: now for a duration; unbounded otherwise).
            config: drift methods and thresholds.
            quality: data-quality tolerances.
            over_time: the slice width of drift over time: a duration or a row count (default: a tenth
                of the window).

        Returns:
            The result; ``result.save()`` stores its JSON and HTML reports as artifacts.

        Raises:
            NotFoundError: the deployment logged nothing in the window.
            ValidationError: the window or the reference is unusable.
        """
        current = self.log.read_window(deployment, window, start=start, end=end)
        return self.monitor_window(current, reference, config=config, quality=quality, over_time=over_time)

    def monitor_window(
        self,
        current: LogWindow,
        reference: Any = None,
        *,
        config: DriftConfig | None = None,
        quality: QualityConfig | None = None,
        over_time: str | timedelta | int | None = None,
    ) -> MonitorResult:
        """:meth:`monitor` over logged rows already read: ``current`` holds the deployment's non-shadow rows of the
        window, oldest first (what :meth:`~fti.inference_log.InferenceLog.read_window` reads), e.g. from a reader that
        keeps the log's files in memory.

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
        source = resolve_reference(reference, model=model, features=self._features, artifacts=self._artifacts)
        profile = source.profile
        has_prediction = "prediction" in profile.columns and current.current.column("prediction").null_count < (
            current.rows
        )
        prediction = "prediction" if has_prediction else None
        features = [name for name in profile.columns if name != "prediction"]
        data = current.current if has_prediction else current.current.drop_columns(["prediction"])
        drift, series = self._drift(current, profile, data, features, prediction, config, over_time)
        ignored = tuple({*(quality.ignore if quality else ()), *([] if has_prediction else ["prediction"])})
        quality_config = QualityConfig(
            **{**_quality_options(quality), "ignore": ignored},
        )
        quality_report = check_quality(profile, data, config=quality_config)
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

    def _drift(
        self,
        current: LogWindow,
        profile: ReferenceProfile,
        data: pa.Table,
        features: list[str],
        prediction: str | None,
        config: DriftConfig | None,
        over_time: str | timedelta | int | None,
    ) -> tuple[DriftReport, list[DriftReport]]:
        """The drift of the whole window and of its slices over time, from one pass over each column."""
        options: dict[str, Any] = {"columns": features, "prediction": prediction, "config": config}
        if isinstance(over_time, int) and not isinstance(over_time, bool):
            return detect_drift_and_windows(profile, data, rows=over_time, **options)
        if isinstance(over_time, str | timedelta):
            every = parse_duration(over_time, what="over_time slice")
        else:
            description = current.describe()
            if description["start"] is None or description["end"] is None:
                return detect_drift(profile, data, **options), []
            span = datetime.fromisoformat(description["end"]) - datetime.fromisoformat(description["start"])
            every = max(span / _WINDOWS_OVER_TIME, timedelta(seconds=1))
        stamped = data.append_column("_fti_timestamp", current.log.column("timestamp"))
        return detect_drift_and_windows(profile, stamped, every=every, timestamp="_fti_timestamp", **options)

    # -- labels and performance --------------------------------------------------------------------

    def log_labels(self, deployment: str, data: Any, *, label: str = "label") -> int:
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
        table = _labels_table(data)
        missing = [name for name in ("request_id", label) if name not in table.column_names]
        if missing:
            raise ValidationError(
                f"Labels for deployment '{deployment}' need the columns request_id and {label}; missing: "
                f"{', '.join(missing)} (columns: {', '.join(table.column_names)})."
            )
        values = table.column(label)
        if not (
            pa.types.is_integer(values.type) or pa.types.is_floating(values.type) or pa.types.is_boolean(values.type)
        ):
            raise ValidationError(
                f"Label column '{label}' is {values.type}: labels are numbers (classes as integers, booleans or "
                "floats). Encode the classes as numbers like the model's predictions."
            )
        ids = pc.cast(table.column("request_id"), pa.string())
        if ids.null_count:
            raise ValidationError(f"Labels for deployment '{deployment}' have a null request_id: drop those rows.")
        logged = self.log.request_ids(deployment)
        unknown = pc.filter(ids, pc.invert(pc.is_in(ids, value_set=logged)))
        if len(unknown):
            shown = ", ".join(repr(item) for item in unknown.to_pylist()[:5])
            raise ValidationError(
                f"{len(unknown)} label(s) name request ids deployment '{deployment}' never logged (e.g. {shown}). "
                "Check the deployment name and the request ids."
            )
        columns = {
            "request_id": ids,
            "deployment": pa.array([deployment] * table.num_rows, pa.string()),
            "label": pc.cast(values, pa.float64()),
        }
        if "labelled_at" in table.column_names:
            columns["labelled_at"] = table.column("labelled_at")
        return self.log.write_labels(pa.table(columns))

    def labelled_log(self, deployment: str, start: datetime | None = None, end: datetime | None = None) -> pa.Table:
        """The deployment's logged predictions (shadow excluded) with their labels, unlabelled rows left out, in no
        particular order: ``timestamp``, ``model_name``, ``model`` (``name:version``), ``prediction``, ``label``."""
        return self.log.labelled_predictions(deployment, start, end)

    def performance(
        self,
        deployment: str,
        *,
        bucket: str | timedelta = "1h",
        task: Task | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[PerformancePoint]:
        """Model metrics per model version and time bucket, over labelled predictions.

        Args:
            deployment: the deployment.
            bucket: the bucket width (``"1h"``, ``"1d"`` or a timedelta).
            task: ``classification`` or ``regression`` (default: classification when every label is a whole
                number and there are at most 20 classes).
            start: only predictions made at or after this time.
            end: only predictions made before this time.

        Returns:
            One point per (model version, bucket); ``point.version`` is ``name:version``.
        """
        every = parse_duration(bucket, what="bucket")
        joined = self.labelled_log(deployment, start, end)
        if joined.num_rows == 0:
            return []
        chosen = task or infer_task(joined.column("label"))
        return performance_over_time(joined, task=chosen, version="model", every=every)

    # -- alerts ------------------------------------------------------------------------------------

    def check_alerts(
        self,
        deployment: str,
        rules: Iterable[AlertRule],
        actions: Sequence[AlertAction] = (),
        *,
        result: MonitorResult | None = None,
        bucket: str | timedelta = "1h",
        **monitor_options: Any,
    ) -> list[Alert]:
        """Evaluate alert rules against a fresh check (and performance, for metric rules); run the actions.

        Args:
            deployment: the deployment.
            rules: the rules (see :mod:`fti.monitoring.alerts`, or :func:`fti.monitoring.load_alerts`).
            actions: run for every fired alert (a retraining action once per check, with the first alert);
                one failing does not stop the others.
            result: a check already made (default: ``monitor(deployment, **monitor_options)``).
            bucket: the performance bucket for metric rules.
            **monitor_options: passed to :meth:`monitor`.

        Returns:
            The fired alerts.

        Raises:
            BackendError: after every action ran, when some failed.
        """
        chosen = list(rules)
        checked = result or self.monitor(deployment, **monitor_options)
        needs_metrics = any(getattr(rule, "type", "") == "metric_below" for rule in chosen)
        points = self.performance(deployment, bucket=bucket) if needs_metrics else None
        fired = evaluate_rules(chosen, drift=checked.drift, quality=checked.quality, performance=points)
        if fired:
            # retraining answers the check, not each alert: it runs once, after the notifications
            retraining = [action for action in actions if isinstance(action, RetrainAction)]
            notify(fired, [action for action in actions if not isinstance(action, RetrainAction)])
            notify(fired[:1], retraining)
        return fired


def infer_task(labels: pa.ChunkedArray) -> Task:
    """Classification when every label is a whole number and there are at most 20 of them, else regression."""
    values = np.asarray(labels.to_numpy(zero_copy_only=False), dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size and np.all(values == np.floor(values)) and np.unique(values).size <= _MAX_CLASSES:
        return "classification"
    return "regression"


def _labels_table(data: Any) -> pa.Table:
    if isinstance(data, Mapping):
        try:
            return pa.table({str(name): list(values) for name, values in data.items()})
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise ValidationError(f"Cannot read the labels as columns: {exc}. Give lists of one type each.") from exc
    return as_table(data, what="labels")


def _quality_options(config: QualityConfig | None) -> dict[str, Any]:
    if config is None:
        return {}
    return {
        "null_rate_tolerance": config.null_rate_tolerance,
        "out_of_range_rate": config.out_of_range_rate,
        "unseen_category_rate": config.unseen_category_rate,
    }
