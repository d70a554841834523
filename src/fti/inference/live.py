"""The models the server answers with right now, and hot swap.

``ModelTable`` holds one immutable ``LoadedDeployment`` per deployment. ``refresh`` (run off the event
loop) notices changed deployment etags and moved aliases, loads the new model versions completely, and
only then replaces the table's mapping in one assignment. A request reads the mapping once when it starts,
so requests in flight finish on the models they started with and later ones get the new ones; nothing
waits for a load.

A deployment whose models (or functions) fail to load is recorded with the reason in ``failures`` (and
the log) until a later refresh loads it: the server is not ready meanwhile. If it was loaded before, it
keeps answering with the models it had.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from fti.core.deployments import Deployment
from fti.errors import BackendError, NotFoundError
from fti.inference.ensembles import EnsembleModel, build_ensemble
from fti.inference.hooks import Postprocess, Preprocess, import_hook
from fti.inference.ports import DeploymentSource, ModelResolver, ServedModel
from fti.inference.routing import Router

__all__ = ["LoadedDeployment", "ModelTable"]

_logger = logging.getLogger(__name__)
_REFERENCE_NAME = re.compile(r"^([^:@]+)")


@dataclass(frozen=True, slots=True)
class LoadedDeployment:
    """A deployment with its variants' models (in variant order; one ensemble when it combines them), its
    shadow model, its router, its pre- and postprocessing functions.

    Attributes:
        variant_names: the request log's variant of each model (its reference; an ensemble's combination).
        versions: the version each of ``deployment.loaded_references`` named when it was loaded.
    """

    deployment: Deployment
    models: tuple[ServedModel, ...]
    shadow: ServedModel | None
    router: Router
    variant_names: tuple[str, ...] = ()
    versions: tuple[int, ...] = ()
    preprocess: Preprocess | None = None
    postprocess: Postprocess | None = None


class ModelTable:
    """Loaded deployments and directly addressed models, replaced atomically on change.

    Args:
        resolver: loads model versions from references.
        source: lists the deployments.
        seed: seed of the routers' random assignment (rows without entity keys).
        on_swap: called with a deployment's name after it switched to new models.
    """

    def __init__(
        self,
        resolver: ModelResolver,
        source: DeploymentSource,
        *,
        seed: int | None = None,
        on_swap: Callable[[str], None] | None = None,
    ) -> None:
        self._resolver = resolver
        self._source = source
        self._seed = seed
        self._on_swap = on_swap
        self._deployments: dict[str, LoadedDeployment] = {}
        self._models: dict[str, ServedModel] = {}
        self._loaded: dict[tuple[str, int], ServedModel] = {}
        self._failures: dict[str, str] = {}
        self._refresh_lock = threading.Lock()

    def find_deployment(self, name: str) -> LoadedDeployment | None:
        """The loaded deployment ``name``, or None when it is not loaded."""
        return self._deployments.get(name)

    def find_model(self, reference: str) -> ServedModel | None:
        """The directly addressed model ``reference`` if it was loaded before, else None."""
        return self._models.get(reference)

    @property
    def deployment_names(self) -> tuple[str, ...]:
        """Names of the loaded deployments."""
        return tuple(self._deployments)

    @property
    def failures(self) -> dict[str, str]:
        """Deployment name -> why it failed to load, for every deployment not serving its current models."""
        return dict(self._failures)

    def load_deployment(self, name: str) -> LoadedDeployment:
        """Load the deployment ``name`` now (a deployment created since the last refresh).

        Raises:
            NotFoundError: when the source has no such deployment.
            BackendError: when it failed to load (now, or in the last refresh: the next refresh retries).
        """
        failure = self._failures.get(name)
        if failure is not None:
            raise BackendError(_unavailable(name, failure))
        with self._refresh_lock:
            deployment = self._source.get_deployment(name)
            try:
                loaded = self._load(deployment)
            except Exception as exc:
                self._failures[name] = _reason(exc)
                _logger.exception("Loading deployment '%s' failed.", name)
                raise BackendError(_unavailable(name, self._failures[name])) from exc
            self._deployments = {**self._deployments, name: loaded}
            return loaded

    def load_model(self, reference: str) -> ServedModel:
        """Load ``reference`` for direct calls (``/v2/models/{model}``) and keep it up to date."""
        with self._refresh_lock:
            model = self._model(reference)
            self._models = {**self._models, reference: model}
            return model

    def refresh(self) -> list[str]:
        """Reload what changed: deployments (etag, moved aliases, added, removed) and direct models.

        Returns:
            the names of the deployments that switched to new models.
        """
        with self._refresh_lock:
            swapped: list[str] = []
            current: dict[str, LoadedDeployment] = {}
            failures: dict[str, str] = {}
            for deployment in self._source.list_deployments():
                loaded = self._deployments.get(deployment.name)
                try:
                    if loaded is not None and not self._is_stale(loaded, deployment):
                        current[deployment.name] = loaded
                        continue
                    current[deployment.name] = self._load(deployment)
                except Exception as exc:  # one broken deployment must not stop the others from updating
                    _logger.exception("Loading deployment '%s' failed; it keeps the models it had.", deployment.name)
                    failures[deployment.name] = _reason(exc)
                    if loaded is not None:
                        current[deployment.name] = loaded
                    continue
                if loaded is not None:
                    swapped.append(deployment.name)
            models = {reference: self._current_model(reference, model) for reference, model in self._models.items()}
            self._deployments, self._models, self._failures = current, models, failures
            self._forget_unused()
        for name in swapped:
            _logger.info("Deployment '%s' switched to model versions %s.", name, current[name].versions)
            if self._on_swap is not None:
                self._on_swap(name)
        return swapped

    def served_models(self) -> list[ServedModel]:
        """Every model a request can call: deployments' models (ensembles whole), shadows, direct models."""
        models = [*self._models.values()]
        for loaded in self._deployments.values():
            models.extend(loaded.models)
            if loaded.shadow is not None:
                models.append(loaded.shadow)
        return models

    def in_use(self) -> set[tuple[str, int]]:
        """``(model name, version)`` of every model the table serves, ensemble members included."""
        models: list[ServedModel] = []
        for model in self.served_models():
            models.extend(model.components if isinstance(model, EnsembleModel) else (model,))
        return {(model.name, model.version) for model in models}

    def _is_stale(self, loaded: LoadedDeployment, deployment: Deployment) -> bool:
        if loaded.deployment.etag != deployment.etag:
            return True
        versions = tuple(self._resolver.current_version(reference) for reference in deployment.loaded_references)
        return versions != loaded.versions

    def _load(self, deployment: Deployment) -> LoadedDeployment:
        loaded = {reference: self._model(reference) for reference in deployment.loaded_references}
        members = tuple(loaded[reference] for reference in deployment.references)
        models: tuple[ServedModel, ...] = members
        names = deployment.references
        if deployment.combine is not None:
            stacker = loaded[deployment.stacker] if deployment.stacker is not None else None
            shares = [variant.share for variant in deployment.variants]
            models = (build_ensemble(deployment.name, deployment.combine, members, shares, stacker),)
            names = (f"{deployment.combine}({', '.join(deployment.references)})",)
        hooks = [
            None if path is None else import_hook(path, deployment=deployment.name, role=role)
            for role, path in (("preprocess", deployment.preprocess), ("postprocess", deployment.postprocess))
        ]
        return LoadedDeployment(
            deployment,
            models,
            loaded[deployment.shadow] if deployment.shadow is not None else None,
            Router(deployment, seed=self._seed),
            names,
            tuple(loaded[reference].version for reference in deployment.loaded_references),
            hooks[0],
            hooks[1],
        )

    def _current_model(self, reference: str, model: ServedModel) -> ServedModel:
        try:
            if self._resolver.current_version(reference) == model.version:
                return model
            return self._model(reference)
        except Exception:  # keep answering with the loaded version; the next refresh tries again
            _logger.exception("Reloading model '%s' failed; it keeps version %d.", reference, model.version)
            return model

    def _model(self, reference: str) -> ServedModel:
        # Reuse a loaded version (an alias moving back and forth loads each version once).
        match = _REFERENCE_NAME.match(reference)
        if match is None:
            raise NotFoundError(f"Model reference '{reference}' is empty: use 'name', 'name:3' or 'name@alias'.")
        key = (match.group(1), self._resolver.current_version(reference))
        model = self._loaded.get(key)
        if model is None:
            model = self._resolver.resolve(reference)
            self._loaded[(model.name, model.version)] = model
        return model

    def _forget_unused(self) -> None:
        used = self.in_use()
        self._loaded = {key: model for key, model in self._loaded.items() if key in used}


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _unavailable(name: str, reason: str) -> str:
    return (
        f"Deployment '{name}' failed to load ({reason}); the server retries every refresh. GET /v1/status "
        "shows each deployment's state."
    )
