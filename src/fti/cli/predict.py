"""``fti predict``: batch predictions of a model version over its feature view, into a feature group."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from fti.cli.console import out
from fti.cli.options import ProjectOption
from fti.errors import ValidationError
from fti.project import connect

__all__ = ["predict"]


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"{option} {value!r} is not an ISO date or time: use e.g. 2024-01-31 or 2024-01-31T12:00."
        ) from None


def predict(
    model: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Feature group to write the predictions to.")],
    start: Annotated[str | None, typer.Option(help="Only rows with event time >= this (ISO).")] = None,
    end: Annotated[str | None, typer.Option(help="Only rows with event time < this (ISO).")] = None,
    feature_view: Annotated[
        str | None, typer.Option("--feature-view", help="NAME or NAME:VERSION (default: the model's lineage).")
    ] = None,
    output_kind: Annotated[
        str, typer.Option("--output-kind", help="predict, proba (a classifier's class scores) or both.")
    ] = "predict",
    project: ProjectOption = Path(),
) -> None:
    """Predict a model over its feature view and write the predictions as a new feature-group commit."""
    begin, finish = _moment(start, "--start"), _moment(end, "--end")
    with connect(project) as opened:
        result = opened.batch_predict(
            model,
            begin,
            finish,
            output=output,
            feature_view=feature_view,
            output_kind=output_kind,  # type: ignore[arg-type]
        )
    out.print(
        f"Wrote {result.rows} predictions of {result.model} v{result.model_version} "
        f"(feature view {result.feature_view} v{result.feature_view_version}) to feature group "
        f"'{result.output}', commit {result.commit}."
    )
