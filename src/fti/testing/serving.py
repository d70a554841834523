"""In-process implementations of the model server's ports, for tests, benchmarks and local trials.

They are real implementations (a registry of scikit-learn models with versions and aliases, a
deployment list, a feature table, a sink keeping Arrow tables), not mocks: the server cannot tell them
from the production ones.
"""

from __future__ import annotations

import contextlib
import hmac
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from fti.core.deployments import Deployment
from fti.errors import NotFoundError, ValidationError
from fti.testing.services import free_port

__all__ = [
    "InMemoryDeploymentSource",
    "InMemoryFeatureLookup",
    "InMemoryModelRegistry",
    "MemoryLogSink",
    "SklearnModel",
    "StaticTokenStore",
    "running_app",
]

_REFERENCE = re.compile(r"^(?P<name>[^:@]+)(?::(?P<version>\d+)|@(?P<alias>[^:@]+))?$")


class SklearnModel:
    """A scikit-learn estimator as a served model version, checking its input columns and types.

    Predicts the positive-class probability when the estimator has ``predict_proba`` (binary
    classifiers), else ``predict``. A classifier is also a ``ServedClassifier``: ``classes`` and
    ``predict_proba`` are the estimator's.
    """

    def __init__(
        self, name: str, version: int, estimator: Any, input_schema: Sequence[tuple[str, str]], output_name: str
    ) -> None:
        self.name = name
        self.version = version
        self.estimator = estimator
        self.input_schema = list(input_schema)
        self.output_name = output_name
        self._columns = [column for column, _ in self.input_schema]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predict every row; ValidationError names a missing, extra or mistyped column."""
        self._check(frame)
        ordered = frame if list(frame.columns) == self._columns else frame[self._columns]
        matrix = ordered.to_numpy(dtype=np.float64)
        if hasattr(self.estimator, "predict_proba"):
            return np.asarray(self.estimator.predict_proba(matrix)[:, 1], dtype=np.float64)
        return np.asarray(self.estimator.predict(matrix))

    @property
    def classes(self) -> list[Any]:
        """The estimator's classes (AttributeError for a regressor, which is no ``ServedClassifier``)."""
        if not hasattr(self.estimator, "predict_proba"):
            raise AttributeError(f"Model '{self.name}' v{self.version} is not a classifier: it has no classes.")
        return list(self.estimator.classes_)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class scores of every row, in ``classes`` order."""
        self._check(frame)
        ordered = frame if list(frame.columns) == self._columns else frame[self._columns]
        return np.asarray(self.estimator.predict_proba(ordered.to_numpy(dtype=np.float64)), dtype=np.float64)

    def _check(self, frame: pd.DataFrame) -> None:
        where = f"Model '{self.name}' v{self.version}"
        present = set(frame.columns)
        missing = [column for column in self._columns if column not in present]
        if missing:
            dtype = dict(self.input_schema)[missing[0]]
            raise ValidationError(f"{where} needs column '{missing[0]}' ({dtype}) but the input lacks it: add it.")
        extra = sorted(present - set(self._columns))
        if extra:
            raise ValidationError(f"{where} has no input column '{extra[0]}': remove it from the request.")
        dtypes = dict(zip(frame.columns, frame.dtypes.to_numpy(), strict=True))
        for column, dtype in self.input_schema:
            actual = dtypes[column]
            if not (isinstance(actual, np.dtype) and np.can_cast(actual, np.dtype(dtype), casting="safe")):
                raise ValidationError(
                    f"{where} expects column '{column}' as {dtype}, got {actual}: send {dtype} values."
                )


class InMemoryModelRegistry:
    """Model versions with aliases, kept in memory; resolves ``name``, ``name:3`` and ``name@alias``.

    ``name`` alone means the latest version.
    """

    def __init__(self) -> None:
        self._versions: dict[str, dict[int, SklearnModel]] = {}
        self._aliases: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def register(
        self, name: str, estimator: Any, input_schema: Sequence[tuple[str, str]], *, output_name: str = "prediction"
    ) -> SklearnModel:
        """Add a new version of ``name`` and return it."""
        with self._lock:
            versions = self._versions.setdefault(name, {})
            model = SklearnModel(name, max(versions, default=0) + 1, estimator, input_schema, output_name)
            versions[model.version] = model
            return model

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``name@alias`` at ``version``."""
        with self._lock:
            if version not in self._versions.get(name, {}):
                raise NotFoundError(f"Model '{name}' has no version {version}: register it first.")
            self._aliases[(name, alias)] = version

    def resolve(self, reference: str) -> SklearnModel:
        """The model version ``reference`` names."""
        name, version = self._locate(reference)
        return self._versions[name][version]

    def current_version(self, reference: str) -> int:
        """The version ``reference`` names right now."""
        return self._locate(reference)[1]

    def _locate(self, reference: str) -> tuple[str, int]:
        match = _REFERENCE.match(reference)
        if match is None:
            raise ValidationError(f"Model reference '{reference}' is not 'name', 'name:3' or 'name@alias'.")
        name = match["name"]
        with self._lock:
            versions = self._versions.get(name)
            if not versions:
                raise NotFoundError(f"Model '{name}' is not registered: register a version first.")
            if match["alias"] is not None:
                version = self._aliases.get((name, match["alias"]))
                if version is None:
                    raise NotFoundError(f"Model '{name}' has no alias '{match['alias']}': set it first.")
                return name, version
            if match["version"] is not None:
                version = int(match["version"])
                if version not in versions:
                    raise NotFoundError(f"Model '{name}' has no version {version} (it has {sorted(versions)}).")
                return name, version
            return name, max(versions)


class InMemoryDeploymentSource:
    """A fixed, editable set of deployments."""

    def __init__(self, deployments: Iterable[Deployment] = ()) -> None:
        self._deployments = {deployment.name: deployment for deployment in deployments}
        self._lock = threading.Lock()

    def put(self, deployment: Deployment) -> None:
        """Create or replace a deployment."""
        with self._lock:
            self._deployments = {**self._deployments, deployment.name: deployment}

    def remove(self, name: str) -> None:
        """Delete a deployment."""
        with self._lock:
            self._deployments = {key: value for key, value in self._deployments.items() if key != name}

    def list_deployments(self) -> list[Deployment]:
        """Every deployment."""
        return list(self._deployments.values())

    def get_deployment(self, name: str) -> Deployment:
        """The deployment ``name``."""
        deployment = self._deployments.get(name)
        if deployment is None:
            raise NotFoundError(
                f"Deployment '{name}' does not exist: deploy it first (known: {sorted(self._deployments)})."
            )
        return deployment


class InMemoryFeatureLookup:
    """Latest feature values per entity, one table per feature view, looked up with a join."""

    def __init__(self) -> None:
        self._tables: dict[str, tuple[list[str], pd.DataFrame]] = {}

    def put(self, view: str, keys: Sequence[str], table: pd.DataFrame) -> None:
        """Store ``table`` (key columns plus features) as the values of ``view``."""
        self._tables[view] = (list(keys), table.drop_duplicates(list(keys), keep="last"))

    def get_feature_vectors(
        self, deployment_or_view: str, entities: pd.DataFrame, passed_features: pd.DataFrame | None
    ) -> pd.DataFrame:
        """One row of features per entity; ``passed_features`` override stored values."""
        if deployment_or_view not in self._tables:
            raise NotFoundError(f"Feature view '{deployment_or_view}' has no online values: materialize it first.")
        keys, table = self._tables[deployment_or_view]
        missing = [key for key in keys if key not in entities.columns]
        if missing:
            raise ValidationError(f"Entities lack the key column(s) {missing} of feature view '{deployment_or_view}'.")
        joined = entities[keys].merge(table, on=keys, how="left")
        features = joined.drop(columns=keys)
        if passed_features is not None:
            for column in passed_features.columns:
                features[column] = passed_features[column].to_numpy()
        return features


class MemoryLogSink:
    """Keeps every request-log batch in memory."""

    def __init__(self) -> None:
        self.batches: list[pa.Table] = []
        self._lock = threading.Lock()

    def write(self, batch: pa.Table) -> None:
        """Append a batch."""
        with self._lock:
            self.batches.append(batch)

    def table(self) -> pa.Table:
        """Every logged row so far, in one table."""
        with self._lock:
            batches = list(self.batches)
        if not batches:
            raise NotFoundError("The request log is empty: no batch was written yet.")
        return pa.concat_tables(batches)


class StaticTokenStore:
    """A fixed set of API tokens."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self._tokens = [token.encode() for token in tokens]

    def verify(self, token: str) -> bool:
        """Whether ``token`` is one of the tokens (constant-time comparison)."""
        candidate = token.encode()
        return any(hmac.compare_digest(candidate, known) for known in self._tokens)


@contextlib.contextmanager
def running_app(app: Any, *, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI ``app`` with uvicorn on 127.0.0.1 in a background thread; yields its base URL.

    Leaving the block shuts the server down gracefully (in-flight requests finish, the app's shutdown
    runs) before returning.
    """
    import uvicorn

    chosen = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=chosen, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{chosen}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"The server on 127.0.0.1:{chosen} did not start.")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{chosen}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
