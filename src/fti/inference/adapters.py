"""The model server's ports over a project's real services: registry, catalog, feature views, tokens.

``ModelResolver`` loads model versions from the registry and answers ``current_version`` from a cache
kept for the poll interval (one catalog query per reference and interval, whatever the load).
``TokenStore`` compares the sha256 of a presented token with the unrevoked ones, re-read after a short
time so a revoked token stops working within it. ``FeatureLookup`` reads the online store through the
deployment's feature view.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from fti.errors import NotFoundError, ValidationError
from fti.inference.deployments import DeploymentService, TokenService, hash_token
from fti.registry.flavors import ScoringFlavor, get_flavor
from fti.registry.service import parse_model_ref
from fti.registry.signatures import enforce_signature

if TYPE_CHECKING:
    from fti.core.access import Identity
    from fti.core.deployments import ApiToken, Deployment
    from fti.core.registry import Signature
    from fti.features.service import FeatureStore
    from fti.features.views import FeatureView
    from fti.registry.service import ModelRegistry
    from fti.registry.version import ModelVersion

__all__ = [
    "CatalogDeploymentSource",
    "CatalogTokenStore",
    "FeatureViewLookup",
    "InputCheck",
    "RegistryClassifier",
    "RegistryModel",
    "RegistryResolver",
    "first_output",
    "served_model",
]


def _numpy_name(arrow_type: str) -> str:
    try:
        kind = pa.type_for_alias(arrow_type)
    except ValueError:
        return "string"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "string"
    try:
        return str(np.dtype(kind.to_pandas_dtype()))
    except (NotImplementedError, TypeError):
        return "string"


class InputCheck:
    """A model's input checked against its signature before it predicts.

    A frame with exactly the signature's columns, in order and of its types, passes as it is (the request
    path's common case, without a copy); anything else goes through ``enforce_signature``, which names a
    missing, extra or mistyped column and converts integers where floats are expected.
    """

    def __init__(self, signature: Signature | None, model: str) -> None:
        self._signature = signature
        self._model = model
        inputs = () if signature is None else signature.inputs
        #: ``(column, dtype name)`` pairs, as ``ServedModel.input_schema`` gives them
        self.schema = [(column.name, _numpy_name(column.type)) for column in inputs]
        self._columns = [column for column, _ in self.schema]
        self._dtypes = [np.dtype(dtype) if dtype != "string" else None for _, dtype in self.schema]

    def checked(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` as the model takes it; ValidationError names what does not fit the signature."""
        if self._signature is None or self._is_conforming(frame):
            return frame
        return enforce_signature(self._signature, frame, model=self._model)

    def _is_conforming(self, frame: pd.DataFrame) -> bool:
        if not self._columns or list(frame.columns) != self._columns:
            return False
        dtypes = frame.dtypes.to_numpy()
        return all(
            expected is not None and actual == expected for actual, expected in zip(dtypes, self._dtypes, strict=True)
        )


def first_output(answer: object, rows: int) -> np.ndarray:
    """The first output column of a model's answer for ``rows`` rows, as one value per row."""
    return np.asarray(answer).reshape(rows, -1)[:, 0]


class RegistryModel:
    """A registered model version as the server's ``ServedModel`` (its signature checks every input)."""

    def __init__(self, version: ModelVersion) -> None:
        self._version = version
        signature = version.signature
        self._check = InputCheck(signature, f"Model '{version.name}' v{version.version}")
        outputs = () if signature is None else signature.outputs
        self._output = outputs[0].name if len(outputs) == 1 else "prediction"
        self._model = version.load()  # load the artifact now, off the request path
        self._flavor = get_flavor(version.flavor)
        self._options = version.record.flavor_options

    @property
    def name(self) -> str:
        """The registered model's name."""
        return self._version.name

    @property
    def version(self) -> int:
        """The model version number."""
        return self._version.version

    @property
    def input_schema(self) -> Sequence[tuple[str, str]]:
        """``(column, dtype name)`` pairs from the version's signature."""
        return self._check.schema

    @property
    def output_name(self) -> str:
        """The signature's single output name, else ``prediction``."""
        return self._output

    @property
    def loaded(self) -> Any:
        """The framework's model object (a ``fti.llm.TextGenerator`` for text generation models)."""
        return self._model

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """One prediction per row (ValidationError names a missing, extra or mistyped column)."""
        answer = self._flavor.predict(self._model, self._check.checked(frame), self._options)
        return first_output(answer, len(frame))

    def _scores(self, frame: pd.DataFrame) -> np.ndarray:
        flavor = self._flavor
        assert isinstance(flavor, ScoringFlavor)
        answer = flavor.predict_proba(self._model, self._check.checked(frame), self._options)
        return np.asarray(answer, dtype=np.float64).reshape(len(frame), -1)


class RegistryClassifier(RegistryModel):
    """A registered classifier as the server's ``ServedClassifier``: predictions and class scores."""

    def __init__(self, version: ModelVersion) -> None:
        super().__init__(version)
        self._classes = tuple(version.classes or ())

    @property
    def classes(self) -> Sequence[Any]:
        """The classes, the column order of :meth:`predict_proba`."""
        return self._classes

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class scores per row (ValidationError names a missing, extra or mistyped column)."""
        return self._scores(frame)


def served_model(version: ModelVersion) -> RegistryModel:
    """``version`` loaded for serving: a classifier when it records classes and its flavor gives scores."""
    if version.classes is not None and isinstance(get_flavor(version.flavor), ScoringFlavor):
        return RegistryClassifier(version)
    return RegistryModel(version)


class RegistryResolver:
    """Loads model versions from the registry; ``current_version`` is cached for ``ttl_seconds``."""

    def __init__(
        self, registry: ModelRegistry, *, ttl_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._registry = registry
        self._ttl = ttl_seconds
        self._clock = clock
        self._versions: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def resolve(self, reference: str) -> RegistryModel:
        """Load the version ``reference`` names (NotFoundError when there is none)."""
        version = self._registry.get_model(reference)
        with self._lock:
            self._versions[reference] = (self._clock(), version.version)
        return served_model(version)

    def current_version(self, reference: str) -> int:
        """The version ``reference`` names, at most ``ttl_seconds`` old."""
        _name, number, _alias = parse_model_ref(reference)
        if number is not None:
            return number
        now = self._clock()
        with self._lock:
            cached = self._versions.get(reference)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        current = self._registry.get_model(reference).version
        with self._lock:
            self._versions[reference] = (now, current)
        return current


class CatalogDeploymentSource:
    """Deployments as stored in the catalog by ``project.deploy``; only those named in ``only`` when given."""

    def __init__(self, service: DeploymentService, *, only: Sequence[str] | None = None) -> None:
        self._service = service
        self._only = None if only is None else frozenset(only)

    def list_deployments(self) -> list[Deployment]:
        """Every deployment (served here) with its etag."""
        return [item for item in self._service.list_deployments() if self._only is None or item.name in self._only]

    def get_deployment(self, name: str) -> Deployment:
        """The deployment ``name`` (NotFoundError when there is none, or it is not served here)."""
        if self._only is not None and name not in self._only:
            raise NotFoundError(
                f"Deployment '{name}' is not served here: this server serves {', '.join(sorted(self._only))} "
                "(serving.deployments)."
            )
        return self._service.get_deployment(name)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CatalogTokenStore:
    """API tokens from the catalog, re-read after ``ttl_seconds``: a token is looked up by its sha256 and the
    digests compared in constant time; expiry is checked against ``now`` on every use."""

    def __init__(
        self,
        service: TokenService,
        *,
        ttl_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._service = service
        self._ttl = ttl_seconds
        self._clock = clock
        self._now = now
        self._tokens: dict[str, ApiToken] = {}
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def identify(self, token: str) -> Identity | None:
        """The token's name and role when it is valid now, else None."""
        digest = hash_token(token)
        found = self._current().get(digest)
        if found is None or not hmac.compare_digest(digest, found.token_sha256) or not found.is_active(self._now()):
            return None
        return found.identity

    def verify(self, token: str) -> bool:
        """Whether ``token`` is a valid, unrevoked, unexpired API token."""
        return self.identify(token) is not None

    def _current(self) -> dict[str, ApiToken]:
        now = self._clock()
        with self._lock:
            if self._read_at is None or now - self._read_at >= self._ttl:
                self._tokens = {token.token_sha256: token for token in self._service.active_tokens()}
                self._read_at = now
            return self._tokens


class FeatureViewLookup:
    """Feature vectors from the online store through a feature view (``"name:version"``)."""

    def __init__(self, features: FeatureStore) -> None:
        self._features = features
        self._views: dict[str, FeatureView] = {}

    def get_feature_vectors(
        self, deployment_or_view: str, entities: pd.DataFrame, passed_features: pd.DataFrame | None
    ) -> pd.DataFrame:
        """One row of model inputs per entity; ``passed_features`` take precedence over stored values."""
        view = self._view(deployment_or_view)
        passed = None if passed_features is None else passed_features.to_dict("records")
        vectors: pd.DataFrame = view.get_feature_vectors(
            entities.to_dict("records"), passed_features=passed, return_type="pandas"
        )
        labels = [column for column in view.labels if column in vectors.columns]
        return vectors.drop(columns=labels) if labels else vectors

    def _view(self, reference: str) -> FeatureView:
        view = self._views.get(reference)
        if view is None:
            name, _, version = reference.partition(":")
            if version and not version.isdigit():
                raise ValidationError(f"Feature view reference '{reference}' must be 'name' or 'name:2'.")
            view = self._features.get_feature_view(name, int(version) if version else None)
            self._views[reference] = view
        return view
