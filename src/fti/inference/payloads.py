"""Request bodies of ``/v1`` and ``/invocations`` turned into data frames, with 422s naming the field.

Bodies are parsed by hand rather than by a pydantic model: a row-per-object JSON body becomes a frame
in one pandas call, and errors name the exact field (``instances[3]``, ``dataframe_split.columns``).
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

from fti.errors import ValidationError

__all__ = ["FeatureRequest", "column_index", "parse_invocations", "parse_json", "parse_v1"]

_INVOCATION_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


@dataclass(frozen=True, slots=True)
class FeatureRequest:
    """A ``/v1`` request: either model inputs (``instances``) or entity keys to look features up for."""

    instances: pd.DataFrame | None = None
    entities: pd.DataFrame | None = None
    passed_features: pd.DataFrame | None = None


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``; 422 naming the position of the syntax error."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(f"The request body is not valid JSON ({exc}): send a JSON object.") from exc


def parse_v1(payload: Any) -> FeatureRequest:
    """Parse ``{"instances": [...]}`` or ``{"entities": [...], "passed_features": [...]}``."""
    if not isinstance(payload, dict):
        raise ValidationError(
            'The request body must be a JSON object such as {"instances": [{"amount": 12.5}]}, '
            f"not {_json_type(payload)}."
        )
    unknown = sorted(set(payload) - {"instances", "entities", "passed_features"})
    if unknown:
        raise ValidationError(
            f"Unknown field '{unknown[0]}' in the request body: send 'instances', or 'entities' "
            "with optional 'passed_features'."
        )
    if ("instances" in payload) == ("entities" in payload):
        raise ValidationError(
            "The request body needs exactly one of 'instances' (model inputs) or 'entities' (keys to look "
            "features up for)."
        )
    if "instances" in payload:
        if "passed_features" in payload:
            raise ValidationError("Field 'passed_features' goes with 'entities', not with 'instances'.")
        return FeatureRequest(instances=records_frame(payload["instances"], "instances"))
    entities = records_frame(payload["entities"], "entities")
    passed = payload.get("passed_features")
    passed_frame = None
    if passed is not None:
        passed_frame = records_frame(passed, "passed_features")
        if len(passed_frame) != len(entities):
            raise ValidationError(
                f"Field 'passed_features' has {len(passed_frame)} rows but 'entities' has {len(entities)}: "
                "send one object per entity."
            )
    return FeatureRequest(entities=entities, passed_features=passed_frame)


def parse_invocations(payload: Any) -> pd.DataFrame:
    """Parse an MLflow scoring request: ``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs``."""
    if not isinstance(payload, dict):
        raise ValidationError(
            f"The request body must be a JSON object with one of {list(_INVOCATION_FORMATS)}, "
            f"not {_json_type(payload)}."
        )
    given = [key for key in _INVOCATION_FORMATS if key in payload]
    if len(given) != 1:
        raise ValidationError(
            f"The request body needs exactly one of {list(_INVOCATION_FORMATS)}; got {sorted(payload) or 'none'}."
        )
    kind = given[0]
    value = payload[kind]
    if kind == "dataframe_split":
        return _split_frame(value)
    if kind in ("instances", "inputs") and isinstance(value, dict):
        return _columns_frame(value, kind)
    return records_frame(value, kind)


def parse_csv(body: bytes) -> pd.DataFrame:
    """Parse a ``text/csv`` scoring request (MLflow's CSV input): a header row of column names, then the rows."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    if not body.strip():
        raise ValidationError("The text/csv request body is empty: send a header row of column names, then the rows.")
    try:
        table = pa_csv.read_csv(pa.BufferReader(body))
    except pa.ArrowInvalid as exc:
        raise ValidationError(f"The text/csv request body is not valid CSV: {exc}") from None
    if table.num_rows == 0:
        raise ValidationError(
            f"The text/csv request body has a header ({', '.join(table.column_names)}) but no rows to score."
        )
    frame: pd.DataFrame = table.to_pandas()
    return frame


def records_frame(rows: Any, field: str) -> pd.DataFrame:
    """A frame from a non-empty list of JSON objects that all have the same keys."""
    if not isinstance(rows, list) or not rows:
        raise ValidationError(
            f"Field '{field}' must be a non-empty list of objects such as [{{\"amount\": 12.5}}], "
            f"not {_json_type(rows)}."
        )
    first = rows[0].keys() if isinstance(rows[0], dict) else None
    bad = next((index for index, row in enumerate(rows) if type(row) is not dict or row.keys() != first), None)
    if bad is not None:
        row = rows[bad]
        if not isinstance(row, dict):
            raise ValidationError(f"Field '{field}[{bad}]' must be an object, not {_json_type(row)}.")
        expected = set(first or ())
        missing, extra = sorted(expected - set(row)), sorted(set(row) - expected)
        detail = f"lacks {missing}" if missing else f"has {extra} that '{field}[0]' does not"
        raise ValidationError(f"Field '{field}[{bad}]' {detail}: every object needs the same keys.")
    if not first:
        raise ValidationError(f"Field '{field}' holds empty objects: send the feature values.")
    return _frame_of_records(rows, list(first))


def _frame_of_records(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """A frame of same-keyed objects; all-numeric rows become one float/int block (fast to select)."""
    pick = operator.itemgetter(*columns)
    values = [pick(row) for row in rows] if len(columns) > 1 else [(pick(row),) for row in rows]
    return _frame_of_rows(values, columns)


def _frame_of_rows(values: list[Any], columns: list[str]) -> pd.DataFrame:
    """A frame of row tuples/lists, with the column types pandas infers from the JSON values.

    When the first row holds only floats, every column is float64 whatever the other rows hold, so the
    rows go into one float block at once (much cheaper than column by column, and fast to select).
    """
    names = column_index(tuple(columns))
    if all(type(value) is float for value in values[0]):
        try:
            matrix = np.array(values)
        except ValueError:  # a later row holds a list: not one block (the column checks name it)
            matrix = np.empty(0)
        if matrix.dtype.kind == "f" and matrix.ndim == 2:
            return pd.DataFrame(matrix, columns=names, copy=False)
    return pd.DataFrame.from_records(values, columns=names)


@functools.lru_cache(maxsize=256)
def column_index(columns: tuple[str, ...]) -> pd.Index:
    """A shared, immutable column index (building one from strings costs more than a small request)."""
    return pd.Index(columns, dtype=object)


def _split_frame(value: Any) -> pd.DataFrame:
    if not isinstance(value, dict) or not isinstance(value.get("columns"), list):
        raise ValidationError(
            "Field 'dataframe_split' must be an object with 'columns' (a list of names) and 'data' (a list of rows)."
        )
    columns, data = value["columns"], value.get("data")
    if not isinstance(data, list) or not data:
        raise ValidationError("Field 'dataframe_split.data' must be a non-empty list of rows.")
    bad = next((index for index, row in enumerate(data) if type(row) is not list or len(row) != len(columns)), None)
    if bad is not None:
        raise ValidationError(
            f"Field 'dataframe_split.data[{bad}]' must be a list of {len(columns)} values, one per column."
        )
    return _frame_of_rows(data, columns)


def _columns_frame(value: dict[str, Any], field: str) -> pd.DataFrame:
    lengths = {name: len(column) if isinstance(column, list) else -1 for name, column in value.items()}
    if not lengths:
        raise ValidationError(f"Field '{field}' holds no columns: send {{\"amount\": [12.5, 3.0]}}.")
    bad = next((name for name, length in lengths.items() if length < 1), None)
    if bad is not None:
        raise ValidationError(f"Field '{field}.{bad}' must be a non-empty list of values.")
    if len(set(lengths.values())) > 1:
        raise ValidationError(f"The columns of field '{field}' differ in length ({lengths}): send equal lengths.")
    return pd.DataFrame(value)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
