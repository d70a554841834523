"""Ground truth for logged predictions: the labels a caller gives, checked and shaped for the inference log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Union

import pyarrow as pa
import pyarrow.compute as pc

from fti.errors import ValidationError
from fti.monitoring.stats.columns import TableLike, as_table

__all__ = ["LabelData", "labels_table"]

LabelData = Union[TableLike, Mapping[str, Sequence[object]]]  # noqa: UP007 (TableLike holds strings)
"""Labels as columns: a DataFrame, an Arrow table or a dict of columns."""


def labels_table(deployment: str, data: LabelData, *, label: str, logged: pa.Array) -> pa.Table:
    """The labels of ``deployment`` as the inference log stores them (``request_id``, ``deployment``, ``label`` and
    ``labelled_at`` when given), every request id among ``logged``.

    Raises:
        ValidationError: a column is missing, a label is not a number, or a request id is null or was never logged.
    """
    table = _as_table(data)
    missing = [name for name in ("request_id", label) if name not in table.column_names]
    if missing:
        raise ValidationError(
            f"Labels for deployment '{deployment}' need the columns request_id and {label}; missing: "
            f"{', '.join(missing)} (columns: {', '.join(table.column_names)})."
        )
    values = table.column(label)
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type) or pa.types.is_boolean(values.type)):
        raise ValidationError(
            f"Label column '{label}' is {values.type}: labels are numbers (classes as integers, booleans or "
            "floats). Encode the classes as numbers like the model's predictions."
        )
    ids = pc.cast(table.column("request_id"), pa.string())
    if ids.null_count:
        raise ValidationError(f"Labels for deployment '{deployment}' have a null request_id: drop those rows.")
    unknown = pc.filter(ids, pc.invert(pc.is_in(ids, value_set=logged)))
    if len(unknown):
        shown = ", ".join(repr(item) for item in unknown.to_pylist()[:5])
        raise ValidationError(
            f"{len(unknown)} label(s) name request ids deployment '{deployment}' never logged (e.g. {shown}). "
            "Check the deployment name and the request ids."
        )
    columns = {
        "request_id": ids,
        "deployment": pa.array([deployment] * table.num_rows, pa.string()),
        "label": pc.cast(values, pa.float64()),
    }
    if "labelled_at" in table.column_names:
        columns["labelled_at"] = table.column("labelled_at")
    return pa.table(columns)


def _as_table(data: LabelData) -> pa.Table:
    if isinstance(data, Mapping):
        try:
            return pa.table({str(name): list(values) for name, values in data.items()})
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise ValidationError(f"Cannot read the labels as columns: {exc}. Give lists of one type each.") from exc
    return as_table(data, what="labels")
