"""``fti deployments export``: a deployment as a Docker build context, and as Kubernetes manifests.

The export is a folder: ``Dockerfile``, the project's ``fti.yaml`` for the container (the settings from
the project's file, never the ones from the environment, which hold the secrets; the server serves only
this deployment on 0.0.0.0:8080), ``requirements.txt`` (the pip requirements recorded with the served
model versions) and a ``README.md`` saying how to build and run it. With ``bake_models`` the served
versions' files are copied into ``models/`` and the image reads them from there (an artifact store in the
image) instead of pulling them from the project's artifact store at start; the catalog is still read for
the deployment and its aliases, so an alias moved to a version that is not baked fails to load (and the
pod is not ready). The Kubernetes target adds ``kubernetes/``: see :mod:`fti.deploy.kubernetes`.

Everything is checked (the deployment exists, the folder is free) and written to a temporary folder
beside ``out`` first, then renamed into place: an export that fails leaves nothing behind.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from fti import __version__
from fti.deploy.docker import dockerfile
from fti.deploy.kubernetes import KubernetesOptions, manifests
from fti.errors import ConflictError, ValidationError
from fti.registry.environment import REQUIREMENTS_FILE

if TYPE_CHECKING:
    from fti.core.deployments import Deployment
    from fti.project import Project
    from fti.registry.version import ModelVersion

__all__ = ["ExportOptions", "ExportResult", "Target", "export_deployment"]

Target = Literal["docker", "kubernetes"]
TARGETS: tuple[str, ...] = ("docker", "kubernetes")
PORT = 8080
MODELS_FOLDER = "models"
_SECTIONS_OF_STORES = ("catalog", "offline_store", "online_store", "artifact_store")


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """How to export a deployment.

    Attributes:
        bake_models: copy the served model versions' files into the image.
        fti_package: what the image installs for fti (a requirement, or a wheel's path or URL).
        kubernetes: replicas, resources, autoscaling and alert thresholds of the Kubernetes target.
    """

    bake_models: bool = False
    fti_package: str = f"fti[serve,postgres,redis,s3,ml]=={__version__}"
    kubernetes: KubernetesOptions = field(default_factory=KubernetesOptions)


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export wrote, and what to look out for."""

    folder: Path
    files: tuple[str, ...]
    #: environment variables the server needs from a secret (the settings the project takes from them)
    secret_keys: tuple[str, ...]
    warnings: tuple[str, ...]


def export_deployment(
    project: Project, name: str, target: str, out: Path | str, options: ExportOptions | None = None
) -> ExportResult:
    """Write the Docker build context (and, for ``kubernetes``, the manifests) serving deployment ``name``.

    Args:
        project: the open project holding the deployment.
        name: the deployment.
        target: ``"docker"`` or ``"kubernetes"``.
        out: the folder to create (it must not exist, or be empty).
        options: baking, the fti package, Kubernetes sizes and thresholds.

    Raises:
        NotFoundError: no such deployment, or a model reference it names is missing.
        ValidationError: an unknown target, or a name Kubernetes cannot take.
        ConflictError: ``out`` exists and is not empty.

    Example:
        >>> export_deployment(project, "fraud", "kubernetes", "deploy/")  # doctest: +SKIP
    """
    options = options or ExportOptions()
    if target not in TARGETS:
        raise ValidationError(f"Unknown export target '{target}': use one of {', '.join(TARGETS)}.")
    folder = Path(out)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConflictError(f"Cannot export into {folder}: it exists and is not empty. Choose another --out.")
    deployment = project.get_deployment(name)
    versions = [project.get_model(reference) for reference in deployment.loaded_references]
    config, secrets, warnings = _container_config(project, deployment, options)
    files = {
        "Dockerfile": dockerfile(deployment.name, project.name, _python(), options.fti_package, options.bake_models),
        "fti.yaml": config,
        REQUIREMENTS_FILE: _requirements(project, versions),
        "README.md": _readme(deployment, target, secrets, warnings, options),
    }
    if target == "kubernetes":
        for file_name, text in manifests(deployment.name, project.name, config, options.kubernetes).items():
            files[f"kubernetes/{file_name}"] = text
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        for relative, text in files.items():
            (scratch / relative).parent.mkdir(parents=True, exist_ok=True)
            (scratch / relative).write_text(text, encoding="utf-8")
        baked = _bake(project, versions, scratch / MODELS_FOLDER) if options.bake_models else []
        if folder.exists():
            folder.rmdir()
        scratch.replace(folder)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return ExportResult(folder, (*sorted(files), *baked), secrets, warnings)


def _python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _container_config(
    project: Project, deployment: Deployment, options: ExportOptions
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The container's fti.yaml, the variables its secret must hold, and warnings about embedded stores."""
    loaded = project.settings
    values = loaded.config.model_dump()
    written: dict[str, Any] = {}
    secrets: list[str] = []
    for key, source in sorted(loaded.sources.items()):
        section, _, setting = key.partition(".")
        if source.startswith("env "):
            secrets.append(source.removeprefix("env "))
        elif source == "fti.yaml" and section != "serving":
            target = written.setdefault(section, {}) if setting else written
            target[setting or section] = values[section][setting] if setting else values[section]
    serving = {key: values["serving"][key] for key in _serving_from_file(loaded.sources)}
    # every interface of the container, its one port, and only this deployment
    serving |= {"host": "0.0.0.0", "port": PORT, "deployments": [deployment.name]}
    written["serving"] = serving
    if options.bake_models:
        written["artifact_store"] = {"uri": MODELS_FOLDER}
    embedded = [
        section
        for section in _SECTIONS_OF_STORES
        if not (section == "artifact_store" and options.bake_models) and _is_embedded(loaded.sources, section)
    ]
    warnings = [
        f"{section} is the embedded default ({_location(values[section])}): the container gets its own empty copy "
        "unless you mount it; configure a shared one in fti.yaml (PostgreSQL, S3, Redis) for more than one container."
        for section in embedded
    ]
    text = f"# fti.yaml of the model server for deployment '{deployment.name}' (secrets come from the environment)\n"
    return text + yaml.safe_dump(written, sort_keys=False), tuple(secrets), tuple(warnings)


def _serving_from_file(sources: dict[str, str]) -> list[str]:
    """The serving settings the project's file sets, but the address and deployments (the container's own)."""
    return [
        key.removeprefix("serving.")
        for key, source in sources.items()
        if key.startswith("serving.")
        and source == "fti.yaml"
        and key.removeprefix("serving.") not in ("host", "port", "deployments")
    ]


def _location(section: dict[str, Any]) -> str:
    return str(section.get("url") or section.get("uri") or section.get("path"))


def _is_embedded(sources: dict[str, str], section: str) -> bool:
    return all(source == "default" for key, source in sources.items() if key.startswith(f"{section}."))


def _requirements(project: Project, versions: list[ModelVersion]) -> str:
    lines: list[str] = []
    for version in versions:
        key = f"{version.record.artifact_prefix}/{REQUIREMENTS_FILE}"
        if project.artifacts.exists(key):
            for line in project.artifacts.get_bytes(key).decode().splitlines():
                if line.strip() and line.strip() not in lines:
                    lines.append(line.strip())
    header = "# pip requirements recorded with the served model versions\n"
    return header + "".join(f"{line}\n" for line in lines)


def _bake(project: Project, versions: list[ModelVersion], folder: Path) -> list[str]:
    written: list[str] = []
    for version in versions:
        for item in project.artifacts.list(version.record.artifact_prefix + "/"):
            project.artifacts.get_file(item.key, folder / item.key)  # checked against its sha256
            written.append(f"{MODELS_FOLDER}/{item.key}")
    return sorted(written)


def _readme(
    deployment: Deployment, target: str, secrets: tuple[str, ...], warnings: tuple[str, ...], options: ExportOptions
) -> str:
    image = f"fti-{re.sub(r'[^a-z0-9-]', '-', deployment.name.lower())}"
    env = (
        "".join(f"    {key}=...\n" for key in secrets)
        or "    (none: the project reads no setting from the environment)\n"
    )
    lines = [
        f"# Model server for deployment '{deployment.name}'",
        "",
        f"Written by `fti deployments export {deployment.name} --target {target}`. Build and run it:",
        "",
        f"    docker build -t {image} .",
        f"    docker run --rm -p {PORT}:{PORT} --env-file secrets.env {image}",
        "",
        "`secrets.env` (or the Kubernetes secret) holds the settings the project reads from the environment:",
        "",
        env.rstrip("\n"),
        "",
        "Models are baked into the image (models/)."
        if options.bake_models
        else "Models are pulled from the project's artifact store when the server starts.",
    ]
    if target == "kubernetes":
        lines += ["", f"Then `kubectl apply -f kubernetes/` (create the secret `{image}-secrets` first)."]
    lines += [f"\nWarning: {warning}" for warning in warnings]
    return "\n".join(lines) + "\n"
