"""``fti deployments create`` and ``fti deployments export``: deploy from the command line, and write a
Docker build context or Kubernetes manifests for a deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fti.cli.console import err, out
from fti.cli.options import ProjectOption
from fti.errors import ValidationError
from fti.project import connect

__all__ = ["create", "export", "parse_variants"]


def parse_variants(values: list[str]) -> dict[str, float] | list[str]:
    """``["fraud@champion=0.9", "fraud@challenger=0.1"]`` as shares, or references alone (equal shares).

    Raises:
        ValidationError: a share that is not a number, or shares given for some variants only.
    """
    shares: dict[str, float] = {}
    references: list[str] = []
    for value in values:
        reference, separator, share = value.rpartition("=")
        if not separator:
            references.append(value)
            continue
        try:
            shares[reference] = float(share)
        except ValueError:
            raise ValidationError(
                f"--variant '{value}' has the share '{share}', which is not a number: write it as 'model@alias=0.9'."
            ) from None
    if shares and references:
        raise ValidationError(
            f"--variant gives shares for {sorted(shares)} but not for {references}: give every variant a share, "
            "or none (equal shares)."
        )
    return shares or references


def create(
    name: Annotated[str, typer.Argument(help="The deployment's name.")],
    variant: Annotated[
        list[str],
        typer.Option(
            "--variant", "-v", help="MODEL_REF[=SHARE], once per variant (fraud@champion=0.9); equal shares if none."
        ),
    ],
    shadow: Annotated[
        str | None, typer.Option(help="A model reference that gets a logged copy of all traffic.")
    ] = None,
    feature_view: Annotated[
        str | None, typer.Option("--feature-view", help="NAME or NAME:VERSION that 'entities' requests read.")
    ] = None,
    entity_key: Annotated[
        list[str] | None,
        typer.Option(
            "--entity-key",
            help="A column pinning callers to a variant: NAME, or NAME:int64 / NAME:string (repeatable).",
        ),
    ] = None,
    output_kind: Annotated[
        str, typer.Option("--output-kind", help="What a classifier answers: predict, proba or both.")
    ] = "predict",
    preprocess: Annotated[str | None, typer.Option(help="package.module:function run on each request.")] = None,
    postprocess: Annotated[str | None, typer.Option(help="package.module:function run on the predictions.")] = None,
    combine: Annotated[
        str | None, typer.Option(help="Serve the variants as one ensemble: mean, weighted_mean, vote or stacking.")
    ] = None,
    stacker: Annotated[
        str | None, typer.Option(help="The model combining the members (with --combine stacking).")
    ] = None,
    project: ProjectOption = Path(),
) -> None:
    """Create or replace a deployment (the command-line form of project.deploy)."""
    with connect(project) as opened:
        deployment = opened.deploy(
            name,
            parse_variants(variant),
            shadow=shadow,
            feature_view=feature_view,
            entity_key=entity_key or None,
            output_kind=output_kind,  # type: ignore[arg-type]
            preprocess=preprocess,
            postprocess=postprocess,
            combine=combine,  # type: ignore[arg-type]
            stacker=stacker,
        )
    variants = ", ".join(f"{item.reference} {item.share:.0%}" for item in deployment.variants)
    how = f"an ensemble ({deployment.combine}) of" if deployment.combine else "traffic split between"
    out.print(
        f"Deployment '{deployment.name}' serves {how} {variants}; it answers {deployment.output_kind}.", soft_wrap=True
    )


def export(
    name: Annotated[str, typer.Argument(help="The deployment to export.")],
    target: Annotated[str, typer.Option("--target", "-t", help="docker, or kubernetes (the Dockerfile too).")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="The folder to write (new or empty; default deploy-NAME).")
    ] = None,
    bake_models: Annotated[
        bool, typer.Option("--bake-models", help="Copy the served model versions' files into the image.")
    ] = False,
    image: Annotated[str | None, typer.Option(help="The image the pods run (default fti-NAME:latest).")] = None,
    namespace: Annotated[str | None, typer.Option(help="The Kubernetes namespace of every object.")] = None,
    min_replicas: Annotated[int, typer.Option("--min-replicas", min=1, help="Pods at least.")] = 2,
    max_replicas: Annotated[int, typer.Option("--max-replicas", min=1, help="Pods at most (autoscaling).")] = 10,
    cpu: Annotated[str, typer.Option(help="CPU each pod requests.")] = "500m",
    memory: Annotated[str, typer.Option(help="Memory each pod requests.")] = "1Gi",
    fti_package: Annotated[
        str | None, typer.Option("--fti-package", help="What the image installs for fti (a requirement or a wheel).")
    ] = None,
    project: ProjectOption = Path(),
) -> None:
    """Write a Docker build context (and Kubernetes manifests) serving one deployment."""
    from fti.deploy.export import ExportOptions, export_deployment
    from fti.deploy.kubernetes import KubernetesOptions

    kubernetes = KubernetesOptions(
        image=image or "",
        namespace=namespace,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        cpu_request=cpu,
        memory_request=memory,
    )
    options = ExportOptions(bake_models=bake_models, kubernetes=kubernetes)
    if fti_package is not None:
        options = ExportOptions(bake_models=bake_models, fti_package=fti_package, kubernetes=kubernetes)
    with connect(project) as opened:
        result = export_deployment(opened, name, target, out_dir or Path(f"deploy-{name}"), options)
    out.print(f"Wrote {len(result.files)} files for deployment '{name}' to {result.folder}:", soft_wrap=True)
    for file_name in result.files:
        if not file_name.startswith("models/"):
            out.print(f"  {file_name}", soft_wrap=True)
    if result.secret_keys:
        keys = ", ".join(result.secret_keys)
        out.print(f"The server needs these from a secret or its environment: {keys}.", soft_wrap=True)
    for warning in result.warnings:
        err.print(f"Warning: {warning}", soft_wrap=True)
