"""Which class implements each backend role, by kind; classes are imported only when used.

Backend names live here and in the backend packages, nowhere else (STYLE.md L2).
"""

from __future__ import annotations

import importlib
from typing import Any

from fti.errors import BackendError, MissingExtraError, ValidationError

__all__ = ["BACKENDS", "ROLES", "backend_kind_for_uri", "create_backend", "known_kinds"]

ROLES = ("catalog", "offline_store", "online_store", "artifact_store", "executor")

#: role -> kind -> "module:Class". A backend class takes one argument: its own validated config.
BACKENDS: dict[str, dict[str, str]] = {
    "catalog": {
        "sqlite": "fti.backends.catalog.store:SqlCatalogStore",
        "postgresql": "fti.backends.catalog.store:SqlCatalogStore",
    },
    "artifact_store": {
        "local": "fti.backends.artifacts.local:LocalArtifactStore",
        "s3": "fti.backends.artifacts.s3:S3ArtifactStore",
    },
    "offline_store": {
        "local": "fti.backends.offline.delta:DeltaOfflineStore",
        "s3": "fti.backends.offline.delta:DeltaOfflineStore",
    },
    "online_store": {
        "sqlite": "fti.backends.online.sqlite:SqliteOnlineStore",
        "redis": "fti.backends.online.redis:RedisOnlineStore",
    },
    "executor": {
        "local": "fti.backends.executors.local:LocalExecutor",
        "ray": "fti.backends.executors.ray:RayExecutor",
    },
}

#: driver module -> the extra that installs it
_DRIVERS = {"psycopg": "postgres", "boto3": "s3", "botocore": "s3", "redis": "redis", "ray": "ray"}


def known_kinds(role: str) -> list[str]:
    """The kinds that can be configured for ``role``."""
    return sorted(BACKENDS[role])


def backend_kind_for_uri(uri: str) -> str:
    """The storage kind a URI names: ``s3://...`` is 's3'; a path or ``file://`` is 'local'."""
    scheme, sep, _ = uri.partition("://")
    if not sep or scheme == "file":
        return "local"
    return scheme.lower()


def create_backend(role: str, kind: str, config: dict[str, Any]) -> Any:
    """Import the class for ``role``/``kind`` and build it from ``config`` (nothing connects yet).

    Raises:
        ValidationError: the kind is unknown or the config does not fit the backend.
        MissingExtraError: the backend's driver is not installed.
    """
    try:
        target = BACKENDS[role][kind]
    except KeyError:
        raise ValidationError(
            f"Unknown {role} backend '{kind}': expected one of {', '.join(known_kinds(role))}."
        ) from None
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing in _DRIVERS:
            raise MissingExtraError.for_backend(kind, _DRIVERS[missing]) from exc
        if exc.name and exc.name.startswith("fti."):
            raise BackendError(f"The {role} backend '{kind}' is not available in this version of fti.") from exc
        raise
    cls = getattr(module, class_name)
    return cls(cls.config_from(config))
