"""``fti predict``: batch predictions of a model version over its feature view, into a feature group."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

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
    group: Annotated[
        str | None,
        typer.Option(
            "--group",
            help="Score the rows of this feature group (NAME or NAME:VERSION), labelled or not, instead of the "
            "view's spine rows.",
        ),
    ] = None,
    spine: Annotated[
        Path | None,
        typer.Option("--spine", help="Score these rows: a CSV or Parquet file of the spine's keys and event time."),
    ] = None,
    output_kind: Annotated[
        str, typer.Option("--output-kind", help="predict, proba (a classifier's class scores) or both.")
    ] = "predict",
    project: ProjectOption = Path(),
) -> None:
    """Predict a model over its feature view and write the predictions as a new feature-group commit.

    By default the rows scored are the view's spine rows: with labels as the spine, only labelled rows. Pass
    --group (a feature group's rows, e.g. the latest card activity) or --spine (a file of keys and times) to
    score new, unlabelled rows.
    """
    begin, finish = _moment(start, "--start"), _moment(end, "--end")
    if group is not None and spine is not None:
        raise ValidationError("Pass --group or --spine, not both: each names the rows to score.")
    rows: Any = None if spine is None else _read_spine(spine)
    with connect(project) as opened:
        if group is not None:
            name, _, version = group.partition(":")
            rows = opened.get_feature_group(name, int(version) if version.isdigit() else None)
        result = opened.batch_predict(
            model,
            begin,
            finish,
            rows,
            output=output,
            feature_view=feature_view,
            output_kind=output_kind,  # type: ignore[arg-type]
        )
    out.print(
        f"Scored {result.rows} rows ({_which_rows(group, spine, result.feature_view, start, end)}) with "
        f"{result.model} v{result.model_version} (feature view {result.feature_view} v{result.feature_view_version}); "
        f"wrote the predictions to feature group '{result.output}', commit {result.commit}.",
        soft_wrap=True,
    )
    if group is None and spine is None:
        out.print("To score other rows (new, unlabelled ones too), pass --group NAME or --spine FILE.")


def _which_rows(group: str | None, spine: Path | None, view: str, start: str | None, end: str | None) -> str:
    span = "" if start is None and end is None else f" from {start or 'the first'} to {end or 'the last'}"
    if spine is not None:
        return f"every row of {spine}"
    if group is not None:
        return f"the rows of feature group {group}{span}"
    return f"the spine rows of feature view {view}{span}, which are the labelled rows when labels are its spine"


def _read_spine(path: Path) -> Any:
    import pyarrow.csv
    import pyarrow.parquet

    if not path.is_file():
        raise ValidationError(f"--spine {path}: no such file; give a CSV or Parquet file of keys and event times.")
    if path.suffix.lower() == ".parquet":
        return pyarrow.parquet.read_table(path)
    if path.suffix.lower() == ".csv":
        return pyarrow.csv.read_csv(path)
    raise ValidationError(f"--spine {path}: expected a .csv or .parquet file, got '{path.suffix or 'no suffix'}'.")
