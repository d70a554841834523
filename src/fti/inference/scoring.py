"""Scoring rows of a feature view with a model version: the plan, and the work on one slice of rows.

Shared by the two ways batch predictions run: in the caller's process (:mod:`fti.inference.batch`) and as
executor tasks that each score one part of the rows (:mod:`fti.inference.batch_parts`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from fti.core.deployments import OutputKind
from fti.errors import ValidationError
from fti.inference.outputs import labels_of

if TYPE_CHECKING:
    from fti.features.views import FeatureView
    from fti.registry.version import ModelVersion

__all__ = ["ScoringPlan", "coalesced", "plan_scoring", "scored", "spine_slices"]


@dataclass(frozen=True, slots=True)
class ScoringPlan:
    """A model version over a feature view: the spine's keys and event time, and the model's input columns."""

    version: ModelVersion
    view: FeatureView
    keys: list[str]
    event_time: str
    inputs: list[str]
    #: the prediction, the class scores (``proba_<class>`` columns) or both
    output_kind: OutputKind = "predict"


def plan_scoring(version: ModelVersion, view: FeatureView, output_kind: OutputKind = "predict") -> ScoringPlan:
    """The plan of scoring ``view``'s rows with ``version``: its signature's inputs, else the view's features."""
    spine_group = view.query.parts[0].group
    keys, event_time = list(spine_group.primary_key), spine_group.event_time
    signature = version.signature
    if signature is not None:
        inputs = [column.name for column in signature.inputs]
    else:
        skip = {*keys, event_time, *view.labels}
        inputs = [name for part in view.query.parts for name in part.features if name not in skip]
    return ScoringPlan(version, view, keys, event_time, inputs, output_kind)


def scored(plan: ScoringPlan, rows: pa.Table) -> pa.Table:
    """``rows``' keys and event time with the model's predictions (``prediction``, or ``prediction_0``, ...) and,
    when the plan asks for them, its class scores (one ``proba_<class>`` column per class)."""
    missing = [name for name in (*plan.keys, plan.event_time) if name not in rows.column_names]
    if missing:
        raise ValidationError(
            f"Batch prediction rows of feature view '{plan.view.name}' lack the key or event-time column(s) "
            f"{missing}: include them in the spine."
        )
    columns: dict[str, Any] = {name: rows.column(name) for name in (*plan.keys, plan.event_time)}
    return pa.table(columns | _outputs(plan, rows.select(plan.inputs)))


def _outputs(plan: ScoringPlan, inputs: pa.Table) -> dict[str, pa.Array]:
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


def spine_slices(view: FeatureView, spine: pa.Table, chunk_rows: int) -> Iterator[pa.Table]:
    """The view's rows for ``spine``, joined ``chunk_rows`` spine rows at a time."""
    for offset in range(0, spine.num_rows, chunk_rows):
        frame = view.get_training_data(spine.slice(offset, chunk_rows))
        yield pa.Table.from_pandas(frame, preserve_index=False)


def coalesced(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
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
