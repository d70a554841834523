"""A run: one execution of training code, logging params, metrics, tags, artifacts and models."""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol

import pandas as pd

from fti.core.naming import validate_artifact_key
from fti.core.registry import ModelOrigin
from fti.core.tracking import RunInfo, RunStatus, validate_value_key
from fti.errors import ConflictError, NotFoundError, ValidationError

if TYPE_CHECKING:
    import pyarrow as pa

    from fti.artifacts import ArtifactService
    from fti.backends.ports import CatalogStore
    from fti.core.lineage import TrainingDataLineage
    from fti.registry.service import ModelRegistry
    from fti.registry.version import ModelVersion
    from fti.tracking.buffer import MetricBuffer

__all__ = ["Run", "RunTracker"]


class RunTracker(Protocol):
    """What a run asks of the tracking service that started it (a :class:`fti.tracking.TrackingService` is one)."""

    @property
    def catalog(self) -> CatalogStore:
        """Where the run's params, tags, artifacts and end are written."""
        ...

    @property
    def artifacts(self) -> ArtifactService:
        """Where the run's files go."""
        ...

    @property
    def buffer(self) -> MetricBuffer:
        """Where logged metric points wait for their batch write."""
        ...

    @property
    def registry(self) -> ModelRegistry:
        """Where the run registers its models."""
        ...

    def get_run_info(self, run_id: str) -> RunInfo:
        """The run's attributes as the catalog holds them."""
        ...

    def values(self, run_id: str, kind: Literal["params", "metrics", "tags"]) -> dict[str, Any]:
        """The run's params, latest metrics or tags."""
        ...

    def metric_history(self, run_id: str, key: str) -> pd.DataFrame:
        """Every logged value of one metric."""
        ...

    def end_run(self, run: Run, status: RunStatus, error: str | None) -> None:
        """Write the run's buffered metrics and record its end."""
        ...


class Run:
    """One run. Use it as a context manager: it ends as finished, or as failed if the block raises.

    Metrics are buffered in memory and written in batches, so ``log_metric`` is cheap enough to call
    at every step.

    Example:
        >>> with project.start_run("fraud") as run:  # doctest: +SKIP
        ...     run.log_params({"max_depth": 6})
        ...     for step, loss in enumerate(losses):
        ...         run.log_metric("loss", loss, step=step)
    """

    def __init__(
        self,
        service: RunTracker,
        info: RunInfo,
        *,
        is_active: bool,
        feature_schema: pa.Schema | None = None,
        is_joined: bool = False,
    ) -> None:
        self._service = service
        self._info = info
        self._is_active = is_active
        self._is_joined = is_joined
        self._feature_schema = feature_schema
        self._steps: dict[str, int] = {}
        self._valid_keys: set[str] = set()

    # -- identity ----------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The run's id."""
        return self._info.id

    @property
    def experiment(self) -> str:
        """The experiment's name."""
        return self._info.experiment

    @property
    def name(self) -> str | None:
        """The run's name, if it was given one."""
        return self._info.name

    @property
    def parent_run_id(self) -> str | None:
        """The id of the run this one is nested in."""
        return self._info.parent_run_id

    @property
    def info(self) -> RunInfo:
        """The run's attributes as the catalog holds them now."""
        self._info = self._service.get_run_info(self.id)
        return self._info

    @property
    def status(self) -> RunStatus:
        """Running, finished or failed."""
        return self.info.status

    @property
    def feature_schema(self) -> pa.Schema | None:
        """Feature columns of the training data the run was started with, when it describes them."""
        return self._feature_schema

    @property
    def is_active(self) -> bool:
        """Whether this handle can still log (the run was started or joined here and has not ended)."""
        return self._is_active

    @property
    def is_joined(self) -> bool:
        """Whether this handle joined a run another process started (:meth:`fti.Project.join_run`): it logs,
        and leaving it writes its metrics, but only the process that started the run ends it."""
        return self._is_joined

    # -- logging -----------------------------------------------------------------------------------

    def log_param(self, key: str, value: Any) -> None:
        """Log one param (an input of the run; it cannot change once logged)."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log several params in one write."""
        self._check_active("log params")
        values = {validate_value_key(key, "param"): _param_text(value) for key, value in params.items()}
        with self._service.catalog.transaction() as tx:
            tx.tracking.log_params(self.id, values)

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Buffer one metric value; ``step`` defaults to the number of values logged for ``key`` so far."""
        if not self._is_active:
            self._check_active("log metrics")
        if key not in self._valid_keys:
            self._valid_keys.add(validate_value_key(key, "metric"))
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            raise ValidationError(f"Metric '{key}' of run '{self.id}' is {number}: log finite numbers only.")
        if step is None:
            step = self._steps.get(key, 0)
        self._steps[key] = step + 1
        self._service.buffer.add(self.id, key, number, int(step), time.time_ns() // 1_000_000)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Buffer several metric values at the same step."""
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def set_tag(self, key: str, value: Any) -> None:
        """Set one tag (tags can change)."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set several tags in one write."""
        values = {validate_value_key(key, "tag"): str(value) for key, value in tags.items()}
        with self._service.catalog.transaction() as tx:
            tx.tracking.set_tags(self.id, values)

    def log_artifact(self, path: Path | str, artifact_path: str | None = None) -> list[str]:
        """Store a file or a folder's files with the run; returns their paths within the run.

        Args:
            path: a file, or a folder whose files are stored keeping their relative paths.
            artifact_path: the folder within the run to store them under (default: the top).
        """
        self._check_active("log artifacts")
        source = Path(path)
        if not source.exists():
            raise NotFoundError(f"Cannot log artifact {source} for run '{self.id}': no such file or folder.")
        base = _artifact_folder(artifact_path)
        files = [source] if source.is_file() else sorted(item for item in source.rglob("*") if item.is_file())
        root = source.parent if source.is_file() else source
        paths = {}
        for file in files:
            relative = f"{base}{file.relative_to(root).as_posix()}"
            key = self._key(relative)
            self._service.artifacts.put_file(key, file)
            paths[relative] = key
        self._record_artifacts(paths)
        return list(paths)

    def log_dict(self, value: Any, artifact_file: str) -> str:
        """Store ``value`` as a JSON file named ``artifact_file`` (for example 'config/params.json')."""
        self._check_active("log artifacts")
        return self._put(artifact_file, json.dumps(value, indent=2, sort_keys=True, default=str).encode())

    def log_text(self, text: str, artifact_file: str) -> str:
        """Store ``text`` as a UTF-8 file named ``artifact_file``."""
        self._check_active("log artifacts")
        return self._put(artifact_file, text.encode())

    def log_figure(self, figure: Any, artifact_file: str) -> str:
        """Store a matplotlib figure as a PNG image named ``artifact_file`` (for example 'roc.png')."""
        self._check_active("log artifacts")
        if not hasattr(figure, "savefig"):
            raise ValidationError(
                f"log_figure needs a matplotlib Figure, got {type(figure).__name__}: pass plt.gcf() or the "
                "figure returned by plt.subplots()."
            )
        data = io.BytesIO()
        figure.savefig(data, format="png")
        return self._put(artifact_file, data.getvalue())

    def log_model(
        self,
        model: Any,
        name: str,
        *,
        signature: Any = None,
        input_example: Any = None,
        description: str = "",
        tags: Mapping[str, Any] | None = None,
        code_paths: Sequence[str | Path] = (),
        pip_requirements: Sequence[str] = (),
    ) -> ModelVersion:
        """Register ``model`` as the next version of ``name``, with its run and training-data lineage.

        The flavor (scikit-learn, XGBoost, LightGBM, PyTorch or any object with ``predict``) is
        detected from the model. The signature is taken from ``signature``, else inferred from
        ``input_example``, else from the run's training data when it describes its feature schema.

        ``code_paths`` are files or folders of the model's own code (a custom class, a helper module):
        they are stored with the model and put on the import path wherever it is loaded. The framework's
        version and ``pip_requirements`` (``["rapidfuzz>=3"]``) are recorded and checked at load.

        Example:
            >>> run.log_model(model, "fraud", code_paths=["fraud_models/"])  # doctest: +SKIP
        """
        self._check_active("log models")
        origin = ModelOrigin(
            run_id=self.id, metrics=self.metrics, training_data=self.training_data, feature_schema=self.feature_schema
        )
        return self._service.registry.log_model(
            origin,
            model,
            name,
            signature=signature,
            input_example=input_example,
            description=description,
            tags=tags,
            code_paths=code_paths,
            pip_requirements=pip_requirements,
        )

    def _put(self, artifact_file: str, data: bytes) -> str:
        relative = validate_artifact_key(artifact_file)
        key = self._key(relative)
        self._service.artifacts.put_bytes(key, data)
        self._record_artifacts({relative: key})
        return relative

    def _key(self, relative: str) -> str:
        return validate_artifact_key(f"runs/{self.id}/artifacts/{relative}")

    def _record_artifacts(self, paths: dict[str, str]) -> None:
        with self._service.catalog.transaction() as tx:
            tx.tracking.set_artifacts(self.id, paths)

    # -- reading -----------------------------------------------------------------------------------

    @property
    def params(self) -> dict[str, str]:
        """Logged params (as text)."""
        return self._service.values(self.id, "params")

    @property
    def metrics(self) -> dict[str, float]:
        """The latest value of each metric (buffered values are written first)."""
        return self._service.values(self.id, "metrics")

    @property
    def tags(self) -> dict[str, str]:
        """The run's tags."""
        return self._service.values(self.id, "tags")

    @property
    def artifacts(self) -> dict[str, str]:
        """``path within the run -> artifact key`` of the stored artifacts."""
        with self._service.catalog.transaction() as tx:
            return tx.tracking.list_artifacts(self.id)

    @property
    def training_data(self) -> TrainingDataLineage | None:
        """The training dataset the run recorded, if any."""
        with self._service.catalog.transaction() as tx:
            return tx.tracking.find_training_data(self.id)

    def read_artifact(self, path: str) -> bytes:
        """The bytes of a stored artifact, verified against their checksum."""
        key = self.artifacts.get(path)
        if key is None:
            raise NotFoundError(f"Run '{self.id}' has no artifact '{path}': see run.artifacts for what it stored.")
        return self._service.artifacts.get_bytes(key)

    def metric_history(self, key: str) -> pd.DataFrame:
        """Every logged value of ``key``: columns step, value, timestamp (UTC)."""
        return self._service.metric_history(self.id, key)

    # -- lifecycle ---------------------------------------------------------------------------------

    def end(self, status: RunStatus | str = RunStatus.FINISHED, error: str | None = None) -> None:
        """Write buffered metrics and mark the run ended; a second call is a no-op.

        A joined handle (:attr:`is_joined`) writes its buffered metrics and stops logging; the run goes on
        until the process that started it ends it.
        """
        if not self._is_active:
            return
        self._is_active = False
        if self._is_joined:
            self._service.buffer.flush()
            return
        self._service.end_run(self, RunStatus(status), error)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.end(RunStatus.FINISHED)
        else:
            self.end(RunStatus.FAILED, f"{type(exc).__name__}: {exc}")

    def _check_active(self, action: str) -> None:
        if not self._is_active:
            raise ConflictError(
                f"Cannot {action}: run '{self.id}' has ended or was neither started nor joined in this process. "
                "Start a new run with project.start_run(...), or join a running one with project.join_run(id)."
            )

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, experiment={self.experiment!r}, name={self.name!r})"


def _param_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > 8000:
        raise ValidationError(f"Param value is {len(text)} characters long; at most 8000 fit. Log it with log_dict.")
    return text


def _artifact_folder(artifact_path: str | None) -> str:
    if not artifact_path:
        return ""
    return validate_artifact_key(artifact_path.strip("/")) + "/"
