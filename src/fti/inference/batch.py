"""Batch inference: a model version's predictions over its feature view, written as a feature-group commit.

The feature view (from the model's lineage, or the one given) is read point-in-time correctly, either
for the spine group's rows in ``[start, end)`` or for a given spine; rows are predicted in slices of
``chunk_rows`` and streamed into the output feature group as one commit, so each call is a new,
time-travelable version of the predictions. The output has the spine's keys and event time, the
prediction, and the model's name and version; with ``output_kind="proba"`` or ``"both"`` a classifier's
class scores as one ``proba_<class>`` column per class (instead of, or beside, the prediction).

Parallel scoring: with at least ``PARALLEL_MIN_ROWS`` rows and a local executor of at least
``PARALLEL_MIN_WORKERS`` workers (a cluster executor of at least 2), the rows are scored in ``workers`` parts,
one executor task each, each joining its key-hash partition of the view
(:mod:`fti.inference.batch_parts`); the output is still one commit, written here. Otherwise they are scored
in this process, which already keeps about 1.5 cores busy (Arrow's and DuckDB's threads read while the model
predicts): parts cost about a third more CPU in all (each task opens the project, loads the model and
sends its predictions back, which this process writes), so they only pay off where the
executor adds cores. Measured on 2 cores (benchmarks/batch_predict.py, 10M rows), two parts with the workers
started took 8.8 s against 4.3 s in this process (when the commit was written only after the last part; their
predictions travel back to it), hence no parts below 4 workers; below 4M rows (about 2.5 s in this process
at 1.6M rows/s) the parts' fixed cost (half a second per task once the workers run, about 5 s more to start
them) outweighs what even 4 workers save.

Memory: a given spine is joined slice by slice; a time range is joined by DuckDB and streamed in batches
of ``chunk_rows`` (DuckDB spills what does not fit its memory limit), so neither path holds the input
whole. The output is written as the batches are predicted (in parallel, as the parts come back).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from fti.errors import NotFoundError, ValidationError
from fti.features.groups import FeatureGroup
from fti.features.views import FeatureView
from fti.inference.batch_parts import ProjectOpener, score_in_parts
from fti.inference.outputs import check_output_kind
from fti.inference.scoring import ScoringPlan, coalesced, plan_scoring, scored, spine_slices

if TYPE_CHECKING:
    from fti.backends.ports import Executor
    from fti.features.service import FeatureStore
    from fti.features.time_travel import Snapshot
    from fti.registry.service import ModelRegistry
    from fti.registry.version import ModelVersion

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "PARALLEL_MIN_ROWS",
    "PARALLEL_MIN_WORKERS",
    "BatchPredictions",
    "Parallelism",
    "batch_predict",
    "group_spine",
]

DEFAULT_CHUNK_ROWS = 250_000
#: Fewer rows are scored in this process: the tasks' fixed cost outweighs the saving (see the module docstring).
PARALLEL_MIN_ROWS = 4_000_000
#: A local executor with fewer workers scores in this process: two parts lose to one process on two cores (a
#: cluster executor's workers have cores of their own: two of them suffice).
PARALLEL_MIN_WORKERS = 4


@dataclass(frozen=True, slots=True)
class BatchPredictions:
    """What one batch-prediction call wrote."""

    output: str
    commit: int
    rows: int
    model: str
    model_version: int
    feature_view: str
    feature_view_version: int


@dataclass(frozen=True, slots=True)
class Parallelism:
    """Where the parts of a large batch prediction run: the project's executor, and how a task opens the project."""

    executor: Callable[[], Executor]
    opener: ProjectOpener
    #: fewer rows are scored in this process
    min_rows: int = PARALLEL_MIN_ROWS
    #: a local executor with fewer workers is not used (a cluster executor is, from 2 workers)
    min_workers: int = PARALLEL_MIN_WORKERS


def batch_predict(
    features: FeatureStore,
    registry: ModelRegistry,
    model: str | ModelVersion,
    *,
    output: str,
    start: datetime | None = None,
    end: datetime | None = None,
    spine: Any = None,
    feature_view: str | FeatureView | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    show_progress: bool = True,
    parallelism: Parallelism | None = None,
    output_kind: str = "predict",
) -> BatchPredictions:
    """Predict ``model`` over its feature view and write the predictions into the feature group ``output``."""
    if chunk_rows < 1:
        raise ValidationError(f"chunk_rows must be a positive number of rows, got {chunk_rows}.")
    is_group_spine = isinstance(spine, FeatureGroup)
    if spine is not None and not is_group_spine and (start is not None or end is not None):
        raise ValidationError(
            "Pass either a spine table or a time range (start/end) to batch_predict, not both: filter the table, "
            "or pass a feature group as the spine with start/end."
        )
    kind = check_output_kind(output_kind, "output_kind")
    version = registry.get_model(model) if isinstance(model, str) else model
    if kind != "predict" and version.classes is None:
        raise ValidationError(
            f"Model '{version.name}' v{version.version} records no classes, so it has no class scores "
            f"for output_kind='{kind}': use output_kind='predict', or a classifier logged with its classes."
        )
    plan = plan_scoring(version, _view(features, version, feature_view), kind)
    if is_group_spine:
        spine_table: pa.Table | None = group_spine(spine, plan.view, start, end)
        start = end = None
    else:
        spine_table = None if spine is None else _as_arrow(spine)
    if spine_table is None:
        _check_inputs(plan)
    snapshots = plan.view.latest_snapshots()
    executor = _parallel_executor(plan, snapshots, spine_table, parallelism)
    slices: Iterator[pa.Table]
    if executor is not None and parallelism is not None:
        parts = score_in_parts(
            plan,
            executor,
            parallelism.opener,
            snapshots=snapshots,
            spine=spine_table,
            start=start,
            end=end,
            chunk_rows=chunk_rows,
        )
        # the parts come as they are scored: the output group is made once one has rows
        first = next((part for part in parts if part.num_rows), None)
        total = 0 if first is None else _parallel_rows(plan, snapshots, spine_table)
        slices = iter(()) if first is None else itertools.chain([first], parts)
    elif spine_table is not None:
        total = spine_table.num_rows
        slices = _scored_slices(plan, spine_slices(plan.view, spine_table, chunk_rows))
    else:
        total, batches = plan.view.batch_stream(snapshots, start, end, chunk_rows, plan.inputs)
        # The next batch is read in a thread (releasing the GIL) while this one is predicted and written.
        slices = _scored_slices(plan, coalesced(_read_ahead(batches), chunk_rows))
    if total == 0:
        raise ValidationError(
            f"Feature view '{plan.view.name}' v{plan.view.version} has no rows to predict"
            f"{'' if spine is not None else ' in the given time range'}: insert data or widen start/end."
        )
    group = _output_group(features, output, plan)
    written = 0
    with _progress(show_progress, total, f"{plan.version.name} v{plan.version.version} -> {output}") as advance:

        def count(rows: int) -> None:
            nonlocal written
            written += rows
            advance(rows)

        # A time range's rows come from the spine group's visible rows: one per (key, event time).
        result = group.insert_rows(_labelled(plan, slices, count), unique_keys=spine is None)
    return BatchPredictions(
        output, result.commit, written, plan.version.name, plan.version.version, plan.view.name, plan.view.version
    )


def _check_inputs(plan: ScoringPlan) -> None:
    missing = [name for name in plan.inputs if name not in plan.view.query.columns()]
    if missing:
        raise ValidationError(
            f"Model '{plan.version.name}' v{plan.version.version} takes input column(s) {missing} that feature "
            f"view '{plan.view.name}' v{plan.view.version} does not have: pass a spine with them, or "
            "feature_view= a view that has them."
        )


def _parallel_executor(
    plan: ScoringPlan, snapshots: dict[int, Snapshot], spine: pa.Table | None, parallelism: Parallelism | None
) -> Executor | None:
    """The executor to score in parts on, or None to score here: too few rows, or one worker to run them."""
    if parallelism is None:
        return None
    if _parallel_rows(plan, snapshots, spine) < parallelism.min_rows:
        return None
    executor = parallelism.executor()
    # a cluster's workers bring cores of their own, so two parts already halve the time
    needed = 2 if executor.is_cluster else max(2, parallelism.min_workers)
    return executor if executor.workers >= needed else None


def _parallel_rows(plan: ScoringPlan, snapshots: dict[int, Snapshot], spine: pa.Table | None) -> int:
    """The rows to score: the spine's, or an upper bound from the catalog (the spine group's rows as of the
    commit read)."""
    if spine is not None:
        return int(spine.num_rows)
    return sum(item.rows_inserted for item in snapshots[plan.view.query.parts[0].group.record.id].commits)


def _view(features: FeatureStore, version: ModelVersion, given: str | FeatureView | None) -> FeatureView:
    if isinstance(given, FeatureView):
        return given
    if isinstance(given, str):
        name, _, number = given.partition(":")
        return features.get_feature_view(name, int(number) if number.isdigit() else None)
    traced = version.lineage().feature_view
    if traced is None:
        raise NotFoundError(
            f"Model '{version.name}' v{version.version} has no feature view in its lineage (it was not trained on "
            "a training dataset): pass feature_view='name' or feature_view='name:2'."
        )
    return features.get_feature_view(*traced)


def group_spine(group: FeatureGroup, view: FeatureView, start: datetime | None, end: datetime | None) -> pa.Table:
    """The keys and event times of ``group``'s rows in ``[start, end)``, named as ``view``'s spine names them.

    Scoring a feature group's rows scores what the view's own spine (often the labels) may not have: new,
    unlabelled rows, which is what batch inference is for.

    Raises:
        ValidationError: the group lacks a key column of the view's spine.
    """
    target = view.query.spine
    missing = [column for column in target.primary_key if column not in (*group.primary_key, *group.features)]
    if missing:
        raise ValidationError(
            f"Feature group '{group.name}' v{group.version} has no column {', '.join(map(repr, missing))}, a key of "
            f"feature view '{view.name}' v{view.version} (its rows are keyed by {', '.join(target.primary_key)}): "
            "choose a group with those keys as the spine."
        )
    rows = pa.Table.from_pandas(group.read()[[*target.primary_key, group.event_time]], preserve_index=False)
    times = rows.column(group.event_time)
    if start is not None:
        rows = rows.filter(pc.greater_equal(times, pa.scalar(start, times.type)))
        times = rows.column(group.event_time)
    if end is not None:
        rows = rows.filter(pc.less(times, pa.scalar(end, times.type)))
    return rows.rename_columns([*target.primary_key, target.event_time])


def _as_arrow(spine: Any) -> pa.Table:
    if isinstance(spine, pa.Table):
        return spine
    try:
        return pa.Table.from_pandas(spine, preserve_index=False)
    except (TypeError, AttributeError) as exc:
        raise ValidationError(
            f"The spine must be a pandas DataFrame, a pyarrow Table or a feature group, got {type(spine).__name__}."
        ) from exc


def _output_group(features: FeatureStore, output: str, plan: ScoringPlan) -> FeatureGroup:
    try:
        return features.get_feature_group(output)
    except NotFoundError:
        return features.create_feature_group(
            output,
            primary_key=plan.keys,
            event_time=plan.event_time,
            description=f"Batch predictions of model '{plan.version.name}' over feature view '{plan.view.name}'.",
        )


def _read_ahead(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Yield ``batches``, fetching the next one in a worker thread while the caller uses the current one."""
    done = object()
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fti-read-ahead") as worker:
            pending = worker.submit(next, batches, done)
            while (batch := pending.result()) is not done:
                pending = worker.submit(next, batches, done)
                yield batch
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()  # the worker is idle here: the pool waited for it


def _scored_slices(plan: ScoringPlan, slices: Iterator[pa.Table]) -> Iterator[pa.Table]:
    for part in slices:
        yield scored(plan, part)


def _labelled(
    plan: ScoringPlan, slices: Iterator[pa.Table], advance: Callable[[int], None]
) -> Iterator[pa.RecordBatch]:
    """Scored slices with the model's name and version, as the output group's batches."""
    for part in slices:
        rows = part.num_rows
        name = pa.repeat(pa.scalar(plan.version.name, pa.string()), rows)
        version = pa.repeat(pa.scalar(plan.version.version, pa.int64()), rows)
        yield from part.append_column("model_name", name).append_column("model_version", version).to_batches()
        advance(rows)


@contextlib.contextmanager
def _progress(enabled: bool, total: int, description: str) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda _rows: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda rows: progress.advance(task, rows)
