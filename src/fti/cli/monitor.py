"""``fti monitor`` and ``fti ab``: check a deployment's logged traffic, write its report, analyse its A/B split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from fti.cli.console import out
from fti.cli.options import ProjectOption
from fti.project import connect

if TYPE_CHECKING:
    from fti.monitoring import ABReport, MonitorResult
    from fti.monitoring.alerts import Alert

__all__ = ["ab_app", "monitor_app"]

monitor_app = typer.Typer(
    help="Check deployments for drift and data quality; write monitoring reports.", no_args_is_help=True
)
ab_app = typer.Typer(help="Analyse a deployment's A/B split from logged predictions and labels.", no_args_is_help=True)

#: ``fti monitor check --fail-on-drift`` found drift (1 and 2 are errors)
DRIFT_EXIT_CODE = 3

DeploymentArgument = Annotated[str, typer.Argument(help="The deployment's name in the inference log.")]
WindowOption = Annotated[
    str | None,
    typer.Option("--window", "-w", help="A duration ending now ('1h', '1d') or the last N rows ('5000'); default all."),
]


def _window(text: str | None) -> str | int | None:
    return int(text) if text is not None and text.strip().isdigit() else text


@monitor_app.command("check")
def check(
    deployment: DeploymentArgument,
    window: WindowOption = None,
    rules: Annotated[
        Path | None, typer.Option("--rules", help="A YAML file of alert rules and actions to evaluate.")
    ] = None,
    fail_on_drift: Annotated[
        bool,
        typer.Option("--fail-on-drift", help=f"Exit with {DRIFT_EXIT_CODE} when a feature or the prediction drifted."),
    ] = False,
    project: ProjectOption = Path(),
) -> None:
    """Check DEPLOYMENT's logged traffic: drifted features, data-quality findings and fired alerts.

    Drift is reported, not an error: the exit code is 0 unless the check itself fails, or drift was found
    and --fail-on-drift is given (a scheduled check that alerts when it fails).
    """
    with connect(project) as opened:
        result = opened.monitor(deployment, window=_window(window))
        alerts = opened.check_alerts(deployment, rules, result=result) if rules is not None else []
    _print_check(result, alerts)
    if fail_on_drift and (result.drift.drifted_features or result.is_prediction_drifted):
        raise typer.Exit(DRIFT_EXIT_CODE)


def _print_check(result: MonitorResult, alerts: list[Alert]) -> None:
    drift = result.drift
    out.print(
        f"Deployment '{result.deployment}': {result.window['rows']:,} rows from {result.window['start']} to "
        f"{result.window['end']}, against the {result.reference}."
    )
    table = Table("feature", "method", "score", "threshold", "drifted", title="Drift", title_justify="left")
    checked = [*drift.features.values(), *([drift.prediction] if drift.prediction else [])]
    for item in checked:
        name = f"{item.column} (prediction)" if item is drift.prediction else item.column
        table.add_row(name, item.method, f"{item.score:.4g}", f"{item.threshold:g}", "yes" if item.drifted else "no")
    out.print(table)
    if drift.drifted_features:
        verdict = "Dataset drift" if drift.dataset_drift else "Drift"
        out.print(
            f"{verdict}: {len(drift.drifted_features)} of {len(drift.features)} features drifted "
            f"({', '.join(drift.drifted_features)})."
        )
    else:
        out.print(f"No drift: none of {len(drift.features)} features drifted.")
    if result.is_prediction_drifted:
        out.print("The prediction drifted.")
    if result.quality.findings:
        quality = Table("column", "kind", "rows", "message", title="Data quality", title_justify="left")
        for finding in result.quality.findings:
            quality.add_row(finding.column, finding.kind, str(finding.count), finding.message)
        out.print(quality)
    else:
        out.print("No data-quality findings.")
    for alert in alerts:
        out.print(f"Alert ({alert.severity}) {alert.rule}: {alert.message}")


@monitor_app.command("report")
def report(
    deployment: DeploymentArgument,
    html: Annotated[Path, typer.Option("--html", help="Write the self-contained HTML report here.")],
    window: WindowOption = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON here.")] = None,
    save: Annotated[bool, typer.Option("--save", help="Also store both reports as project artifacts.")] = False,
    project: ProjectOption = Path(),
) -> None:
    """Write DEPLOYMENT's monitoring report: drift per feature, distributions, drift over time, data quality."""
    with connect(project) as opened:
        result = opened.monitor(deployment, window=_window(window))
        keys = result.save() if save else {}
    html.write_text(result.to_html(), encoding="utf-8")
    out.print(f"Wrote {html} ({len(result.drifted_features)} of {len(result.drift.features)} features drifted).")
    if json_path is not None:
        json_path.write_text(json.dumps(result.to_dict(), indent=2, default=str), encoding="utf-8")
        out.print(f"Wrote {json_path}.")
    for kind, key in keys.items():
        out.print(f"Stored the {kind} report as artifact {key}.")


@ab_app.command("report")
def ab_report(
    deployment: DeploymentArgument,
    metric: Annotated[
        str,
        typer.Option(
            "--metric",
            help="accuracy, error_rate, squared_error, absolute_error, or roc_auc or average_precision (binary "
            "classifiers deployed with output_kind both or proba).",
        ),
    ] = "accuracy",
    control: Annotated[str, typer.Option("--control", help="The control: an alias or NAME:VERSION.")] = "champion",
    alpha: Annotated[float, typer.Option("--alpha", help="The significance level.")] = 0.05,
    mde: Annotated[
        float | None, typer.Option("--mde", help="Minimum detectable effect, for the sample size needed.")
    ] = None,
    promote: Annotated[
        bool, typer.Option("--promote", help="Move 'champion' to a version that wins significantly.")
    ] = False,
    project: ProjectOption = Path(),
) -> None:
    """Compare DEPLOYMENT's model versions on labelled traffic; optionally promote the winner."""
    with connect(project) as opened:
        result = opened.ab_report(deployment, metric, control=control, alpha=alpha, mde=mde, promote=promote)
    _print_ab(result)


def _print_ab(result: ABReport) -> None:
    variants = Table("model version", "labelled rows", result.metric, title="Variants", title_justify="left")
    for variant in result.variants:
        role = " (control)" if variant.model == result.control else ""
        variants.add_row(variant.model + role, str(variant.rows), f"{variant.value:.4g}")
    out.print(variants)
    tests = Table(
        "treatment",
        "test",
        "effect",
        "interval",
        "p-value",
        "samples",
        "needed",
        "verdict",
        title="Against the control",
        title_justify="left",
    )
    for decision in result.decisions:
        verdict = f"{decision.winner} wins" if decision.winner else "no winner yet"
        low, high = decision.interval
        tests.add_row(
            decision.treatment,
            decision.test,
            f"{decision.effect:+.4g}",
            f"[{low:+.3g}, {high:+.3g}]",
            f"{decision.p_value:.3g}",
            f"{decision.samples[0]} / {decision.samples[1]}",
            "-" if decision.samples_needed is None else str(decision.samples_needed),
            verdict,
        )
    out.print(tests)
    if result.promoted:
        out.print(f"Promoted {result.promoted} to champion.")
    elif result.winner:
        out.print(f"{result.winner} wins: run again with --promote to make it champion.")
