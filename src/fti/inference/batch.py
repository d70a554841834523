"""Batch inference: a model version's predictions over its feature view, written as a feature-group commit.

The feature view (from the model's lineage, or the one given) is read point-in-time correctly, either
for the spine group's rows in ``[start, end)`` or for a given spine; rows are predicted in slices of
``chunk_rows`` and streamed into the output feature group as one commit, so each call is a new,
time-travelable version of the predictions. The output has the spine's keys and event time, the
prediction, and the model's name and version; with ``output_kind="proba"`` or ``"both"`` a classifier's
class scores as one ``proba_<class>`` column per class (instead of, or beside, the prediction).

Memory: a given spine is joined slice by slice; a time range is joined by DuckDB and streamed in batches
of ``chunk_rows`` (DuckDB spills what does not fit its memory limit), so neither path holds the input
whole. The output is written as the batches are predicted.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from fti.core.deployments import OutputKind
from fti.errors import NotFoundError, ValidationError
from fti.features.views import FeatureView
from fti.inference.outputs import check_output_kind, labels_of

if TYPE_CHECKING:
    from fti.features.service import FeatureStore
    from fti.registry.service import ModelRegistry
    from fti.registry.version import ModelVersion

__all__ = ["BatchPredictions", "batch_predict"]

DEFAULT_CHUNK_ROWS = 250_000


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
class _Plan:
    version: ModelVersion
    view: FeatureView
    keys: list[str]
    event_time: str
    inputs: list[str]
    output_kind: OutputKind = "predict"


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
    output_kind: str = "predict",
) -> BatchPredictions:
    """Predict ``model`` over its feature view and write the predictions into the feature group ``output``."""
    if chunk_rows < 1:
        raise ValidationError(f"chunk_rows must be a positive number of rows, got {chunk_rows}.")
    if spine is not None and (start is not None or end is not None):
        raise ValidationError("Pass either a spine or a time range (start/end) to batch_predict, not both.")
    kind = check_output_kind(output_kind, "output_kind")
    plan = dataclasses.replace(_plan(features, registry, model, feature_view), output_kind=kind)
    if kind != "predict" and plan.version.classes is None:
        raise ValidationError(
            f"Model '{plan.version.name}' v{plan.version.version} records no classes, so it has no class scores "
            f"for output_kind='{kind}': use output_kind='predict', or a classifier logged with its classes."
        )
    if spine is not None:
        spine_table = _as_arrow(spine)
        total = spine_table.num_rows
        slices: Iterator[pa.Table] = _spine_slices(plan.view, spine_table, chunk_rows)
    else:
        missing = [name for name in plan.inputs if name not in plan.view.query.columns()]
        if missing:
            raise ValidationError(
                f"Model '{plan.version.name}' v{plan.version.version} takes input column(s) {missing} that feature "
                f"view '{plan.view.name}' v{plan.view.version} does not have: pass a spine with them, or "
                "feature_view= a view that has them."
            )
        total, batches = plan.view.batch_stream(plan.view.latest_snapshots(), start, end, chunk_rows, plan.inputs)
        # The next batch is read in a thread (releasing the GIL) while this one is predicted and written.
        slices = _coalesced(_read_ahead(batches), chunk_rows)
    if total == 0:
        raise ValidationError(
            f"Feature view '{plan.view.name}' v{plan.view.version} has no rows to predict"
            f"{'' if spine is not None else ' in the given time range'}: insert data or widen start/end."
        )
    group = _output_group(features, output, plan)
    with _progress(show_progress, total, f"{plan.version.name} v{plan.version.version} -> {output}") as advance:
        # A time range's rows come from the spine group's visible rows: one per (key, event time).
        result = group.insert_rows(_predicted(plan, slices, advance), unique_keys=spine is None)
    return BatchPredictions(
        output, result.commit, total, plan.version.name, plan.version.version, plan.view.name, plan.view.version
    )


def _plan(
    features: FeatureStore, registry: ModelRegistry, model: str | ModelVersion, feature_view: str | FeatureView | None
) -> _Plan:
    version = registry.get_model(model) if isinstance(model, str) else model
    view = _view(features, version, feature_view)
    spine_group = view.query.parts[0].group
    keys, event_time = list(spine_group.primary_key), spine_group.event_time
    signature = version.signature
    if signature is not None:
        inputs = [column.name for column in signature.inputs]
    else:
        skip = {*keys, event_time, *view.labels}
        inputs = [name for part in view.query.parts for name in part.features if name not in skip]
    return _Plan(version, view, keys, event_time, inputs)


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


def _as_arrow(spine: Any) -> pa.Table:
    if isinstance(spine, pa.Table):
        return spine
    try:
        return pa.Table.from_pandas(spine, preserve_index=False)
    except (TypeError, AttributeError) as exc:
        raise ValidationError(
            f"The spine must be a pandas DataFrame or a pyarrow Table, got {type(spine).__name__}."
        ) from exc


def _spine_slices(view: FeatureView, spine: pa.Table, chunk_rows: int) -> Iterator[pa.Table]:
    for offset in range(0, spine.num_rows, chunk_rows):
        frame = view.get_training_data(spine.slice(offset, chunk_rows))
        yield pa.Table.from_pandas(frame, preserve_index=False)


def _output_group(features: FeatureStore, output: str, plan: _Plan) -> Any:
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


def _coalesced(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """``batches`` gathered into tables of about ``rows`` rows (a scan yields a batch per row group, and each
    model call and output batch has a fixed cost)."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        if held >= rows:
            yield pa.Table.from_batches(pending)
            pending, held = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def _predicted(plan: _Plan, slices: Iterator[pa.Table], advance: Any) -> Iterator[pa.RecordBatch]:
    for part in slices:
        missing = [name for name in (*plan.keys, plan.event_time) if name not in part.column_names]
        if missing:
            raise ValidationError(
                f"Batch prediction rows of feature view '{plan.view.name}' lack the key or event-time column(s) "
                f"{missing}: include them in the spine."
            )
        columns: dict[str, Any] = {name: part.column(name) for name in (*plan.keys, plan.event_time)}
        columns |= _outputs(plan, part.select(plan.inputs))
        rows = part.num_rows
        columns["model_name"] = pa.repeat(pa.scalar(plan.version.name, pa.string()), rows)
        columns["model_version"] = pa.repeat(pa.scalar(plan.version.version, pa.int64()), rows)
        yield from pa.table(columns).to_batches()
        advance(rows)


def _outputs(plan: _Plan, inputs: pa.Table) -> dict[str, pa.Array]:
    """The prediction column(s) and, when asked for, one ``proba_<class>`` column per class."""
    columns: dict[str, pa.Array] = {}
    if plan.output_kind == "predict":
        predictions = np.asarray(plan.version.predict(inputs))
        if predictions.ndim == 1:
            return {"prediction": pa.array(predictions)}
        return {f"prediction_{index}": pa.array(predictions[:, index]) for index in range(predictions.shape[1])}
    scores = plan.version.predict_proba(inputs)
    classes = plan.version.classes or ()
    if plan.output_kind == "both":
        columns["prediction"] = pa.array(labels_of(scores, classes))
    for index, label in enumerate(classes):
        columns[f"proba_{label}"] = pa.array(scores[:, index])
    return columns


@contextlib.contextmanager
def _progress(enabled: bool, total: int, description: str) -> Iterator[Any]:
    if not enabled:
        yield lambda _rows: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda rows: progress.advance(task, rows)
