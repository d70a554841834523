"""Project settings: ``fti.yaml`` validated by pydantic, overridden by ``FTI_*`` environment variables.

Order (STYLE.md C1): defaults < ``fti.yaml`` < environment < explicit overrides (CLI flags).
Every environment variable is ``FTI_<SECTION>_<KEY>`` in upper case, e.g. ``FTI_CATALOG_URL`` or
``FTI_ONLINE_STORE_TYPE``. Secrets (S3 keys, database passwords) come only from the environment. An
``FTI_*`` variable that is no setting (and none of :data:`OTHER_VARIABLES`) is refused with the closest
valid name, as an unknown key in ``fti.yaml`` is: a typo must not silently leave a setting at its default.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, field_validator

from fti.backends.kinds import backend_kind_for_uri, known_kinds
from fti.core.settings_errors import describe_settings_error
from fti.errors import ValidationError

__all__ = [
    "CONFIG_FILE",
    "DATA_DIR",
    "OTHER_VARIABLES",
    "ArtifactStoreConfig",
    "CatalogConfig",
    "ExecutorConfig",
    "FeaturesConfig",
    "FtiConfig",
    "LoadedConfig",
    "OfflineStoreConfig",
    "OnlineStoreConfig",
    "SchedulerConfig",
    "ServingConfig",
    "find_config_file",
    "load_config",
]

CONFIG_FILE = "fti.yaml"
DATA_DIR = ".fti"
#: ``FTI_*`` environment variables that are not settings: the CLI's traceback switch, the dashboard's token,
#: the project a model server's workers open, the package a Docker build installs, the test suite's switch
OTHER_VARIABLES = frozenset({"FTI_DEBUG", "FTI_UI_TOKEN", "FTI_SERVE_PROJECT", "FTI_PACKAGE", "FTI_REQUIRE_BROWSER"})
#: prefixes of variables read by the benchmarks, not by fti
_OTHER_PREFIXES = ("FTI_BENCH_",)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_kind(role: str, kind: str) -> str:
    if kind not in known_kinds(role):
        raise ValueError(f"unknown backend '{kind}'; expected one of {', '.join(known_kinds(role))}")
    return kind


class CatalogConfig(_Section):
    """Where metadata, lineage, runs and the registry live: a SQLAlchemy URL."""

    url: str = f"sqlite:///{DATA_DIR}/catalog.db"

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = value.partition(":")[0].split("+")[0]
        _check_kind("catalog", scheme)
        return value

    @property
    def kind(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.url.partition(":")[0].split("+")[0]


class _UriStoreConfig(_Section):
    _role: ClassVar[str]
    uri: str
    endpoint_url: str | None = None
    region: str | None = None

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        _check_kind(cls._role, backend_kind_for_uri(value))
        return value


class OfflineStoreConfig(_UriStoreConfig):
    """Where feature data, training data and inference logs live: a folder or ``s3://bucket/prefix``."""

    _role = "offline_store"
    uri: str = f"{DATA_DIR}/offline"


class ArtifactStoreConfig(_UriStoreConfig):
    """Where models, reports and plots live: a folder or ``s3://bucket/prefix``."""

    _role = "artifact_store"
    uri: str = f"{DATA_DIR}/artifacts"


class OnlineStoreConfig(_Section):
    """Latest feature values per key for serving."""

    type: str = "sqlite"
    path: str = f"{DATA_DIR}/online.db"
    url: str | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        return _check_kind("online_store", value)


class ExecutorConfig(_Section):
    """Where tuning trials, batch predictions and point-in-time joins run in parallel: local processes or Ray.

    ``address`` and ``resources`` belong to a cluster executor (``type: ray``): the cluster's address
    (``auto``, ``host:port`` or ``ray://host:port``) and what each task asks for (``{CPU: 1}``).
    """

    type: str = "local"
    max_workers: pydantic.PositiveInt | None = None
    address: str | None = None
    resources: dict[str, float] | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        return _check_kind("executor", value)

    @pydantic.model_validator(mode="after")
    def _cluster_settings(self) -> ExecutorConfig:
        if self.type == "local":
            given = [name for name in ("address", "resources") if getattr(self, name) is not None]
            if given:
                raise ValueError(
                    f"executor.{given[0]} is a setting of a cluster executor, and executor.type is 'local': "
                    f"set executor.type to 'ray' or remove executor.{given[0]}"
                )
        return self


class StreamBrokerConfig(_Section):
    """The broker stream jobs read events from (``fti stream run``) and ``fti stream produce`` writes to."""

    type: str = "redis"
    url: str = "redis://127.0.0.1:6379/0"

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        return _check_kind("stream_broker", value)


class ServingConfig(_Section):
    """The model server (``fti serve``): address, workers, request limits, batching, request log, tokens."""

    host: str = "127.0.0.1"
    port: int = pydantic.Field(default=8080, ge=0, le=65535)
    workers: pydantic.PositiveInt = 1
    max_body_bytes: pydantic.PositiveInt = 4 << 20
    max_concurrent_requests: pydantic.PositiveInt = pydantic.Field(
        default=1024, description="requests a worker handles at once; more get 429 with Retry-After"
    )
    require_tokens: bool = False
    batching: bool = True
    batch_max_rows: pydantic.PositiveInt = 256
    batch_max_wait_ms: float = pydantic.Field(default=0.0, ge=0)
    log_batch_rows: pydantic.PositiveInt = 1000
    log_flush_seconds: float = pydantic.Field(default=1.0, gt=0)
    log_max_queue_rows: pydantic.PositiveInt = 100_000
    log_spool: bool = pydantic.Field(
        default=True, description="sync the request log to a local spool so that a crash loses at most an interval"
    )
    log_spool_seconds: float = pydantic.Field(default=0.1, gt=0)
    refresh_seconds: float = pydantic.Field(default=5.0, gt=0)
    seed: int | None = None
    invocations_deployment: str | None = None
    trust_request_time: bool = pydantic.Field(
        default=False,
        description="log /v1 predictions at the time their X-Request-Time header gives (replayed or simulated traffic)",
    )
    deployments: list[str] | None = pydantic.Field(
        default=None, description="serve only these deployments (a list, or names separated by commas); all if unset"
    )

    @field_validator("deployments", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value


class FeaturesConfig(_Section):
    """The feature store: when an insert compacts a feature group's small files."""

    compact_after: pydantic.PositiveInt | None = 64


class SchedulerConfig(_Section):
    """``fti scheduler``: how often it looks for due slots and new events, its lease, and runs at once."""

    poll_interval: float = pydantic.Field(default=0.5, gt=0)
    lease_seconds: float = pydantic.Field(default=30.0, gt=0)
    max_runs: pydantic.PositiveInt = 4


class FtiConfig(_Section):
    """The whole project configuration, as written in ``fti.yaml``."""

    project: str = "default"
    catalog: CatalogConfig = CatalogConfig()
    offline_store: OfflineStoreConfig = OfflineStoreConfig()
    online_store: OnlineStoreConfig = OnlineStoreConfig()
    artifact_store: ArtifactStoreConfig = ArtifactStoreConfig()
    executor: ExecutorConfig = ExecutorConfig()
    stream_broker: StreamBrokerConfig = StreamBrokerConfig()
    serving: ServingConfig = ServingConfig()
    features: FeaturesConfig = FeaturesConfig()
    #: modules defining pipelines: dotted module names or .py files relative to the project folder
    pipelines: list[str] = []
    scheduler: SchedulerConfig = SchedulerConfig()


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """Settings with the folder they are relative to and where each value came from."""

    config: FtiConfig
    root: Path
    config_file: Path | None
    sources: dict[str, str]

    def resolve_path(self, value: str) -> Path:
        """A path from the config, made absolute against the project root."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.root / path

    def backend(self, role: str) -> tuple[str, dict[str, Any]]:
        """The kind and options of the backend for ``role``, with local paths made absolute."""
        section = getattr(self.config, role)
        options: dict[str, Any] = section.model_dump(exclude_none=True)
        if role == "catalog":
            url = str(options["url"])
            prefix = "sqlite:///"
            if url.startswith(prefix) and url[len(prefix) :] not in ("", ":memory:"):
                options["url"] = prefix + str(self.resolve_path(url[len(prefix) :]))
            return self.config.catalog.kind, options
        if role in ("offline_store", "artifact_store"):
            kind = backend_kind_for_uri(str(options["uri"]))
            if kind == "local":
                options["uri"] = str(self.resolve_path(str(options["uri"]).removeprefix("file://")))
            return kind, options
        kind = str(options.pop("type"))
        if "path" in options:
            options["path"] = str(self.resolve_path(str(options["path"])))
        return kind, options

    def flat_values(self) -> dict[str, Any]:
        """Every setting as ``section.key -> value``."""
        return _flatten(self.config.model_dump())


def find_config_file(start: Path) -> Path | None:
    """The nearest ``fti.yaml`` in ``start`` or one of its parents."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


def load_config(
    path: Path | str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> LoadedConfig:
    """Load the settings for the project at ``path`` (default: the working directory).

    Args:
        path: a folder (its ``fti.yaml`` or the nearest one above is used) or an ``fti.yaml`` file.
        env: environment variables to read ``FTI_*`` overrides from (default ``os.environ``).
        overrides: ``section.key -> value`` pairs applied last, e.g. from CLI flags.

    Raises:
        ValidationError: the file is not valid YAML, or a key, type or backend is wrong.
    """
    start = Path(path) if path is not None else Path.cwd()
    config_file = start if start.is_file() else find_config_file(start)
    root = config_file.parent if config_file else start.resolve()
    raw: dict[str, Any] = {}
    sources = {key: "default" for key in _flatten(FtiConfig().model_dump())}
    if config_file is not None:
        raw = _read_yaml(config_file)
        for key in _flatten(raw):
            sources[key] = str(CONFIG_FILE)
    for key, value in _env_values(os.environ if env is None else env).items():
        _set_path(raw, key, value)
        sources[key] = "env FTI_" + key.replace(".", "_").upper()
    for key, value in (overrides or {}).items():
        _set_path(raw, key, value)
        sources[key] = "override"
    try:
        config = FtiConfig.model_validate(raw)
    except pydantic.ValidationError as exc:
        origin = functools.partial(_origin, sources)
        elsewhere = any(origin(".".join(str(part) for part in err["loc"])) for err in exc.errors())
        where = str(config_file) if config_file is not None and not elsewhere else "configuration"
        raise ValidationError(describe_settings_error(exc, where, origin=origin)) from None
    return LoadedConfig(config=config, root=root, config_file=config_file, sources=sources)


def _read_yaml(config_file: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValidationError(f"Invalid {config_file}: not valid YAML ({exc}).") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ValidationError(
            f"Invalid {config_file}: expected a mapping of sections (catalog, offline_store, ...), "
            f"got {type(loaded).__name__}."
        )
    return loaded


def _origin(sources: Mapping[str, str], path: str) -> str | None:
    """The environment variable or command-line option that set ``path`` (or the key above it); None for
    values from the file."""
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        source = sources.get(".".join(parts[:end]), "default")
        if source.startswith("env "):
            return "environment variable " + source.removeprefix("env ")
        if source == "override":
            return "a command-line option"
    return None


def _variable_names() -> dict[str, str]:
    """``FTI_<SECTION>_<KEY>`` -> ``section.key`` for every setting."""
    names: dict[str, str] = {}
    for section, field in FtiConfig.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for key in annotation.model_fields:
                names[f"FTI_{section}_{key}".upper()] = f"{section}.{key}"
        else:
            names[f"FTI_{section}".upper()] = section
    return names


def _env_values(env: Mapping[str, str]) -> dict[str, str]:
    names = _variable_names()
    unknown = sorted(
        name
        for name in env
        if name.startswith("FTI_")
        and name not in names
        and name not in OTHER_VARIABLES
        and not name.startswith(_OTHER_PREFIXES)
    )
    if unknown:
        known = [*names, *OTHER_VARIABLES]
        problems = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            problems.append(f"{name} (did you mean {close[0]}?)" if close else name)
        raise ValidationError(
            f"Unknown environment variable{'s' if len(unknown) > 1 else ''} {', '.join(problems)}: no setting "
            "has that name, so it would change nothing. Rename or unset it (`fti config show` lists the settings)."
        )
    return {names[name]: value for name, value in env.items() if name in names}


def _set_path(raw: dict[str, Any], dotted: str, value: Any) -> None:
    section, _, key = dotted.partition(".")
    if not key:
        raw[section] = value
        return
    target = raw.setdefault(section, {})
    if not isinstance(target, dict):
        raise ValidationError(f"Invalid configuration: '{section}' must be a mapping, got {target!r}.")
    target[key] = value


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat
