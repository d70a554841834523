"""The backend kind table: which class implements each backend role, by kind; classes are imported only when used.

Backend names live here and in the backend packages, nowhere else (STYLE.md L2). Every class in the table is
a :class:`~fti.backends.ports.BackendFactory` of its role's port; the typed names under ``TYPE_CHECKING`` at
the end make mypy check that, so a kind added to the table gets a line there too.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, overload

from fti.errors import BackendError, MissingExtraError, ValidationError

if TYPE_CHECKING:
    from fti.backends.ports import (
        ArtifactStore,
        BackendFactory,
        CatalogStore,
        Connectable,
        Executor,
        OfflineStore,
        OnlineStore,
        StreamBroker,
    )

__all__ = ["BACKENDS", "ROLES", "Role", "backend_kind_for_uri", "create_backend", "known_kinds"]

Role = Literal["catalog", "offline_store", "online_store", "artifact_store", "executor", "stream_broker"]
ROLES: tuple[Role, ...] = ("catalog", "offline_store", "online_store", "artifact_store", "executor")

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
        "ray": "fti.backends.executors.ray_tasks:RayExecutor",
    },
    "stream_broker": {
        "redis": "fti.backends.streams.redis:RedisStreamBroker",
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


@overload
def create_backend(role: Literal["catalog"], kind: str, options: Mapping[str, Any]) -> CatalogStore: ...
@overload
def create_backend(role: Literal["offline_store"], kind: str, options: Mapping[str, Any]) -> OfflineStore: ...
@overload
def create_backend(role: Literal["online_store"], kind: str, options: Mapping[str, Any]) -> OnlineStore: ...
@overload
def create_backend(role: Literal["artifact_store"], kind: str, options: Mapping[str, Any]) -> ArtifactStore: ...
@overload
def create_backend(role: Literal["executor"], kind: str, options: Mapping[str, Any]) -> Executor: ...
@overload
def create_backend(role: Literal["stream_broker"], kind: str, options: Mapping[str, Any]) -> StreamBroker: ...
@overload
def create_backend(role: Role, kind: str, options: Mapping[str, Any]) -> Connectable: ...
def create_backend(role: Role, kind: str, options: Mapping[str, Any]) -> Connectable:
    """Import the class for ``role``/``kind`` and build it from ``options`` (nothing connects yet).

    Raises:
        ValidationError: the kind is unknown or the options do not fit the backend.
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
    factory: BackendFactory[Any, Connectable] = getattr(module, class_name)
    return factory(factory.config_from(options))


if TYPE_CHECKING:  # mypy checks that every class of the table builds its role's port from its own config
    from fti.backends.artifacts.local import LocalArtifactConfig, LocalArtifactStore
    from fti.backends.artifacts.s3 import S3ArtifactConfig, S3ArtifactStore
    from fti.backends.catalog.store import SqlCatalogConfig, SqlCatalogStore
    from fti.backends.executors.local import LocalExecutor, LocalExecutorConfig
    from fti.backends.executors.ray_tasks import RayExecutor, RayExecutorConfig
    from fti.backends.offline.delta import DeltaOfflineConfig, DeltaOfflineStore
    from fti.backends.online.redis import RedisOnlineConfig, RedisOnlineStore
    from fti.backends.online.sqlite import SqliteOnlineConfig, SqliteOnlineStore
    from fti.backends.streams.redis import RedisStreamBroker, RedisStreamConfig

    _catalog: BackendFactory[SqlCatalogConfig, CatalogStore] = SqlCatalogStore
    _local_artifacts: BackendFactory[LocalArtifactConfig, ArtifactStore] = LocalArtifactStore
    _s3_artifacts: BackendFactory[S3ArtifactConfig, ArtifactStore] = S3ArtifactStore
    _delta: BackendFactory[DeltaOfflineConfig, OfflineStore] = DeltaOfflineStore
    _sqlite_online: BackendFactory[SqliteOnlineConfig, OnlineStore] = SqliteOnlineStore
    _redis_online: BackendFactory[RedisOnlineConfig, OnlineStore] = RedisOnlineStore
    _local_executor: BackendFactory[LocalExecutorConfig, Executor] = LocalExecutor
    _redis_streams: BackendFactory[RedisStreamConfig, StreamBroker] = RedisStreamBroker
    _ray_executor: BackendFactory[RayExecutorConfig, Executor] = RayExecutor
