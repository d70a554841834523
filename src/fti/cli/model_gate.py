"""``fti models validate`` and ``fti models promote``: the model validation gate for CI/CD pipelines.

Both print a table of every check. ``validate`` exits with 2 when a check fails (naming each); ``promote``
moves the alias only when every check passes, and exits with 2 otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from fti.cli.console import out
from fti.cli.options import ProjectOption
from fti.project import connect

if TYPE_CHECKING:
    from fti.deploy.gate import GateReport, GateSpec

__all__ = ["promote", "validate"]

ModelArgument = Annotated[str, typer.Argument(help="NAME:VERSION (or NAME, its latest version).")]
MetricOption = Annotated[
    list[str] | None,
    typer.Option("--metric", "-m", help="A recorded metric to gate on, e.g. test_roc_auc (repeatable)."),
]
MinOption = Annotated[float | None, typer.Option("--min", help="Each metric at least this (higher is better).")]
MaxOption = Annotated[float | None, typer.Option("--max", help="Each metric at most this (a loss).")]
DeltaOption = Annotated[
    float | None,
    typer.Option("--min-delta", help="Each metric at least this much better than the champion's on the same test set."),
]
ChampionOption = Annotated[str, typer.Option("--champion", help="The alias to compare with.")]
DeploymentOption = Annotated[
    str | None, typer.Option("--deployment", help="The deployment whose feature view the signature must fit.")
]
LatencyOption = Annotated[
    float | None, typer.Option("--max-latency-ms", help="p95 of single-row predictions on test rows, at most.")
]
RowsOption = Annotated[int, typer.Option("--latency-rows", min=1, help="Test rows to time.")]
SizeOption = Annotated[float | None, typer.Option("--max-size-mb", help="The model version's files, at most.")]
LineageOption = Annotated[
    bool, typer.Option("--require-lineage", help="Require a run, a training dataset and feature-group commits.")
]


def validate(
    model: ModelArgument,
    metric: MetricOption = None,
    minimum: MinOption = None,
    maximum: MaxOption = None,
    min_delta: DeltaOption = None,
    champion: ChampionOption = "champion",
    deployment: DeploymentOption = None,
    max_latency_ms: LatencyOption = None,
    latency_rows: RowsOption = 50,
    max_size_mb: SizeOption = None,
    require_lineage: LineageOption = False,
    project: ProjectOption = Path(),
) -> None:
    """Check a model version before it is promoted: metrics (absolute and against the champion), signature,
    latency, size and lineage. Exits with 2 when a check fails."""
    from fti.deploy.gate import validate_model

    spec = _spec(
        metric,
        minimum=minimum,
        maximum=maximum,
        min_delta=min_delta,
        champion=champion,
        deployment=deployment,
        max_latency_ms=max_latency_ms,
        latency_rows=latency_rows,
        max_size_mb=max_size_mb,
        require_lineage=require_lineage,
    )
    with connect(project) as opened:
        report = validate_model(opened, model, spec)
    _print(report)
    report.raise_if_failed()


def promote(
    model: ModelArgument,
    alias: Annotated[str, typer.Option("--alias", help="The alias to move when the gate passes.")] = "champion",
    metric: MetricOption = None,
    minimum: MinOption = None,
    maximum: MaxOption = None,
    min_delta: DeltaOption = None,
    champion: ChampionOption = "champion",
    deployment: DeploymentOption = None,
    max_latency_ms: LatencyOption = None,
    latency_rows: RowsOption = 50,
    max_size_mb: SizeOption = None,
    require_lineage: LineageOption = False,
    project: ProjectOption = Path(),
) -> None:
    """Move ALIAS to a model version only if it passes the same checks as `fti models validate`."""
    from fti.deploy.gate import promote_model

    spec = _spec(
        metric,
        minimum=minimum,
        maximum=maximum,
        min_delta=min_delta,
        champion=champion,
        deployment=deployment,
        max_latency_ms=max_latency_ms,
        latency_rows=latency_rows,
        max_size_mb=max_size_mb,
        require_lineage=require_lineage,
    )
    with connect(project) as opened:
        report = promote_model(opened, model, spec, alias)
    _print(report)
    report.raise_if_failed()
    out.print(f"Alias '{alias}' of model {report.model} now points at v{report.version}.", soft_wrap=True)


def _spec(
    metrics: list[str] | None,
    *,
    minimum: float | None,
    maximum: float | None,
    min_delta: float | None,
    champion: str,
    deployment: str | None,
    max_latency_ms: float | None,
    latency_rows: int,
    max_size_mb: float | None,
    require_lineage: bool,
) -> GateSpec:
    from fti.deploy.gate import GateSpec, MetricThreshold

    thresholds = tuple(MetricThreshold(name, minimum, maximum, min_delta) for name in metrics or ())
    return GateSpec(
        metrics=thresholds,
        champion=champion,
        deployment=deployment,
        max_latency_ms=max_latency_ms,
        latency_rows=latency_rows,
        max_size_mb=max_size_mb,
        require_lineage=require_lineage,
    )


def _print(report: GateReport) -> None:
    table = Table("check", "value", "threshold", "result", title=f"Gate of model {report.model} v{report.version}")
    for check in report.checks:
        table.add_row(check.name, check.value, check.threshold, "pass" if check.passed else "FAIL")
    out.print(table)
    verdict = "passed" if report.passed else f"failed {len(report.failed)} of {len(report.checks)} checks"
    out.print(f"Model {report.model} v{report.version} {verdict}.", soft_wrap=True)
