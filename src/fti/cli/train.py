"""``fti train`` and ``fti tune``: train or tune a model from a YAML spec, log it, register it, summarize it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from fti.cli.console import out
from fti.cli.options import ProjectOption
from fti.project import connect

if TYPE_CHECKING:
    from fti.features.training import TrainingDataset
    from fti.project import Project
    from fti.training.spec import TrainingSpec

__all__ = ["train", "tune"]

SpecArgument = Annotated[Path, typer.Argument(help="The training spec (YAML): feature_view, split, model, ...")]


def train(config: SpecArgument, project: ProjectOption = Path()) -> None:
    """Train the spec's model on a training dataset of its feature view, log the run, register the model.

    The spec names the feature view (and version), the split, preprocessing, the model and its params, and
    the metrics to report. A new training dataset is created unless the spec names one
    (``training_dataset: 2``).
    """
    from fti.training.spec import load_spec, run_spec
    from fti.training.tracked import in_memory

    spec = load_spec(config)
    with connect(project) as opened:
        data = _training_data(opened, spec)
        experiment = spec.run_settings().experiment_for(data, "training")
        with opened.start_run(experiment, f"train-{spec.model.type}", training_data=data) as run:
            result = run_spec(spec, in_memory(data), run)
            version = run.log_model(result.model, spec.registered_name)
        _summarize("Trained", run.id, result.metrics, spec, f"{version.name} v{version.version}", data)


def tune(config: SpecArgument, project: ProjectOption = Path()) -> None:
    """Tune the spec's model over its ``tuning`` section, each trial a nested run; register the best model.

    The ``tuning`` section holds the search space (``max_depth: {int: [2, 8]}``), the sampler, the number
    of trials, the metric, the direction, pruning, the number of parallel workers and the seed.
    """
    from fti.errors import ValidationError
    from fti.training.spec import load_spec

    spec = load_spec(config)
    if spec.tuning is None:
        raise ValidationError(f"Training spec '{config}' has no 'tuning' section: add one with a 'space' to tune over.")
    with connect(project) as opened:
        data = _training_data(opened, spec)
        tuned = opened.training.tune(data, spec.model_recipe(), spec.tuning, spec.run_settings())
        version = tuned.version
        registered = "-" if version is None else f"{version.name} v{version.version}"
        metrics = dict(tuned.metrics or {})
        result = tuned.result
        title = f"Tuned: {result.n_complete} trials complete, {result.n_pruned} pruned; best {result.best_params}"
        _summarize(title, tuned.run_id, metrics, spec, registered, data)


def _training_data(project: Project, spec: TrainingSpec) -> TrainingDataset:
    view = project.get_feature_view(spec.feature_view.name, spec.feature_view.version)
    if spec.training_dataset is not None:
        return view.get_training_dataset(spec.training_dataset)
    return view.create_training_data(split=spec.split_fractions(), split_by=spec.split.by, seed=spec.split.seed)


def _summarize(
    title: str, run_id: str, metrics: Mapping[str, float], spec: TrainingSpec, registered: str, data: TrainingDataset
) -> None:
    shown = spec.metrics or [name for name in metrics if name.startswith("test_")][:6]
    table = Table(title=title)
    table.add_column("run_id", no_wrap=True)
    table.add_column("training dataset")
    for name in shown:
        table.add_column(name)
    table.add_column("model version")
    values = [f"{metrics[name]:.4f}" if name in metrics else "-" for name in shown]
    table.add_row(run_id, f"{data.feature_view_name} v{data.feature_view_version} #{data.version}", *values, registered)
    out.print(table)
    out.print(f"Run {run_id} registered model version {registered}.", soft_wrap=True)
