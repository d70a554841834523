"""In-process implementations of the model server's ports, for tests, benchmarks and local trials.

They are real implementations (a registry of scikit-learn models with versions and aliases, a
deployment list, a feature table, a sink keeping Arrow tables), not mocks: the server cannot tell them
from the production ones.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from fti.core.access import DEFAULT_ROLE, Identity, Role
from fti.core.deployments import Deployment
from fti.core.registry import ColumnSpec, Signature
from fti.errors import NotFoundError, ValidationError
from fti.inference.adapters import InputCheck, first_output
from fti.inference_log.inputs import concat_logged
from fti.inference_log.schema import INPUTS_COLUMN, STORED_LOG_SCHEMA, conform_log_batch
from fti.registry.service import parse_model_ref
from fti.testing.services import free_port

__all__ = [
    "InMemoryDeploymentSource",
    "InMemoryFeatureLookup",
    "InMemoryModelRegistry",
    "InMemoryServingWorld",
    "MemoryLogSink",
    "SklearnModel",
    "StaticTokenStore",
    "running_app",
]


class SklearnModel:
    """A scikit-learn estimator as a served model version, predicting as a registered one does.

    Inputs are checked against the signature ``input_schema`` describes, by the server's own check
    (:class:`fti.inference.adapters.InputCheck`), and ``estimator.predict`` answers, as the registry's
    scikit-learn flavor does: the serving-ports suite holds this fake and the registry's models to the same
    answers and errors.
    A classifier is also a ``ServedClassifier``: ``classes`` and ``predict_proba`` are the estimator's.
    """

    def __init__(
        self, name: str, version: int, estimator: Any, input_schema: Sequence[tuple[str, str]], output_name: str
    ) -> None:
        self.name = name
        self.version = version
        self.estimator = estimator
        self.input_schema = list(input_schema)
        self.output_name = output_name
        inputs = tuple(ColumnSpec(column, _arrow_name(dtype)) for column, dtype in self.input_schema)
        self._check = InputCheck(Signature(inputs), f"Model '{name}' v{version}")

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predict every row; ValidationError names a missing, extra or mistyped column."""
        return first_output(self.estimator.predict(self._check.checked(frame)), len(frame))

    @property
    def classes(self) -> list[Any]:
        """The estimator's classes (AttributeError for a regressor, which is no ``ServedClassifier``)."""
        if not hasattr(self.estimator, "predict_proba"):
            raise AttributeError(f"Model '{self.name}' v{self.version} is not a classifier: it has no classes.")
        return list(self.estimator.classes_)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class scores of every row, in ``classes`` order."""
        scores = self.estimator.predict_proba(self._check.checked(frame))
        return np.asarray(scores, dtype=np.float64).reshape(len(frame), -1)


def _arrow_name(dtype: str) -> str:
    return "string" if dtype == "string" else str(pa.from_numpy_dtype(np.dtype(dtype)))


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
        """The version ``reference`` names right now (a pinned ``name:3`` is 3, without a lookup)."""
        _name, number, _alias = parse_model_ref(reference)
        return number if number is not None else self._locate(reference)[1]

    def _locate(self, reference: str) -> tuple[str, int]:
        name, number, alias = parse_model_ref(reference)
        with self._lock:
            versions = self._versions.get(name)
            if not versions:
                raise NotFoundError(f"No model '{name}' is registered: log one with run.log_model(model, '{name}').")
            if alias is not None:
                version = self._aliases.get((name, alias))
                if version is None:
                    known = ", ".join(sorted(key for model, key in self._aliases if model == name)) or "none"
                    raise NotFoundError(
                        f"Model '{name}' has no alias '{alias}' (its aliases: {known}). "
                        f"Set it with project.get_model('{name}:<version>').set_alias('{alias}')."
                    )
                return name, version
            if number is not None:
                if number not in versions:
                    raise NotFoundError(
                        f"Model '{name}' has no version {number}: its versions are 1 to {max(versions)}."
                    )
                return name, number
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

    def delete(self, name: str) -> None:
        """Delete a deployment."""
        with self._lock:
            self._deployments = {key: value for key, value in self._deployments.items() if key != name}

    def list_deployments(self) -> list[Deployment]:
        """Every deployment, by name."""
        current = self._deployments
        return [current[name] for name in sorted(current)]

    def get_deployment(self, name: str) -> Deployment:
        """The deployment ``name``."""
        current = self._deployments
        deployment = current.get(name)
        if deployment is None:
            raise NotFoundError(
                f"Deployment '{name}' does not exist (deployments: {', '.join(sorted(current)) or 'none'}); "
                f"create it with project.deploy('{name}', variants={{'model@champion': 1.0}})."
            )
        return deployment


class InMemoryFeatureLookup:
    """Latest feature values per entity, one table per feature view (``"name:version"``), looked up with a join."""

    def __init__(self) -> None:
        self._tables: dict[str, tuple[list[str], pd.DataFrame]] = {}

    def put(self, view: str, keys: Sequence[str], table: pd.DataFrame) -> None:
        """Store ``table`` (key columns plus features) as the values of ``view``."""
        self._tables[view] = (list(keys), table.drop_duplicates(list(keys), keep="last"))

    def get_feature_vectors(
        self, deployment_or_view: str, entities: pd.DataFrame, passed_features: pd.DataFrame | None
    ) -> pd.DataFrame:
        """One row of features per entity (nulls for one the table lacks); ``passed_features`` take precedence."""
        name, _, version = deployment_or_view.partition(":")
        where = f"feature view '{name}' v{version or 1}"
        if deployment_or_view not in self._tables:
            known = ", ".join(sorted({reference.partition(":")[0] for reference in self._tables})) or "none"
            raise NotFoundError(f"Feature view '{name}' v{version or 1} does not exist; known: {known}.")
        keys, table = self._tables[deployment_or_view]
        for key in keys:
            if key not in entities.columns:
                raise ValidationError(
                    f"Entity 0 for {where} lacks key column '{key}': pass {key}, e.g. {{'{key}': ...}}."
                )
            expected, given = table[key].dtype, entities[key].dtype
            if expected.kind != given.kind and len(entities):
                raise ValidationError(
                    f"Key column '{key}' of {where} must be {expected}, got {type(entities[key].iloc[0]).__name__} "
                    "values: convert the keys."
                )
        joined = entities[keys].merge(table, on=keys, how="left")
        features = joined.drop(columns=keys)
        if passed_features is not None:
            for column in passed_features.columns:
                features[column] = passed_features[column].to_numpy()
        return features


class MemoryLogSink:
    """Keeps every request-log batch in memory, in the log's schema (as the inference log stores it)."""

    def __init__(self) -> None:
        self.batches: list[pa.Table] = []
        self._lock = threading.Lock()

    def write(self, batch: pa.Table) -> None:
        """Append a batch (an empty one writes nothing)."""
        if batch.num_rows:
            conformed = conform_log_batch(batch)
            if INPUTS_COLUMN in batch.column_names:  # the typed features, as the inference log keeps them
                conformed = conformed.append_column(INPUTS_COLUMN, batch.column(INPUTS_COLUMN))
            with self._lock:
                self.batches.append(conformed)

    def table(self) -> pa.Table:
        """Every logged row so far, in one table (empty before the first write)."""
        with self._lock:
            batches = list(self.batches)
        return concat_logged(batches) if batches else STORED_LOG_SCHEMA.empty_table()


class StaticTokenStore:
    """A fixed set of API tokens: secrets (each an ``admin`` named ``token-<i>``), or secrets with the
    identity each stands for."""

    def __init__(self, tokens: Iterable[str] | Mapping[str, Identity]) -> None:
        known = (
            dict(tokens)
            if isinstance(tokens, Mapping)
            else {secret: Identity(f"token-{index}", "admin") for index, secret in enumerate(tokens)}
        )
        self._tokens = [(secret.encode(), identity) for secret, identity in known.items()]

    def identify(self, token: str) -> Identity | None:
        """The identity ``token`` stands for, or None (constant-time comparison)."""
        candidate = token.encode(errors="surrogateescape")
        found = None
        for secret, identity in self._tokens:
            if hmac.compare_digest(candidate, secret):
                found = identity
        return found

    def verify(self, token: str) -> bool:
        """Whether ``token`` is one of the tokens (constant-time comparison)."""
        return self.identify(token) is not None


class InMemoryServingWorld:
    """The in-memory fakes of every serving port, arranged the way a project arranges the real ones.

    The serving-ports suite (:mod:`fti.testing.serving_ports`) runs on this world and on one over a real
    project, so the fakes the server tests use answer as production does.
    """

    def __init__(self) -> None:
        self.registry = InMemoryModelRegistry()
        self.deployments = InMemoryDeploymentSource()
        self.features = InMemoryFeatureLookup()
        self.sink = MemoryLogSink()
        self._tokens: dict[str, tuple[str, Role]] = {}
        self._revoked: set[str] = set()

    @property
    def resolver(self) -> InMemoryModelRegistry:
        """The model resolver."""
        return self.registry

    @property
    def tokens(self) -> StaticTokenStore:
        """The token store, as of now."""
        return StaticTokenStore(
            {secret: Identity(name, role) for name, (secret, role) in self._tokens.items() if name not in self._revoked}
        )

    def register(self, name: str, estimator: Any, example: pd.DataFrame) -> int:
        """Register a new version of ``name`` taking ``example``'s columns; its number."""
        schema = [(str(column), str(dtype)) for column, dtype in example.dtypes.items()]
        return self.registry.register(name, estimator, schema).version

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``name@alias`` at ``version``."""
        self.registry.set_alias(name, alias, version)

    def deploy(self, name: str, variants: dict[str, float]) -> None:
        """Create or replace the deployment ``name``; every reference must resolve."""
        for reference in variants:
            self.registry.current_version(reference)
        self.deployments.put(Deployment.create(name, variants))

    def undeploy(self, name: str) -> None:
        """Delete the deployment ``name``."""
        self.deployments.delete(name)

    def put_features(self, view: str, keys: Sequence[str], frame: pd.DataFrame) -> str:
        """Serve ``frame``'s latest rows per key as feature view ``view``; the reference to look it up by."""
        reference = f"{view}:1"
        self.features.put(reference, keys, frame)
        return reference

    def create_token(self, name: str, role: Role = DEFAULT_ROLE) -> str:
        """A new API token's secret."""
        secret = f"fti_{secrets.token_urlsafe(32)}"
        self._tokens[name] = (secret, role)
        return secret

    def revoke_token(self, name: str) -> None:
        """Revoke the token ``name``."""
        self._revoked.add(name)

    def logged(self) -> pa.Table:
        """Every row the sink was given, as the log keeps it."""
        return self.sink.table()


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
