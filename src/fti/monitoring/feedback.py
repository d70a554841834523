"""Feedback on logged requests: ratings and preferred responses, kept in the ``feedback`` feature group.

Each feedback row names a logged request by its ``request_id`` and gives a ``rating`` (a number from 0, bad,
to 1, good: thumbs up is 1, down 0, five stars ``(stars - 1) / 4``), or a ``preferred`` response with the
``rejected`` one (the logged response when left out), or both, and an optional free-text ``comment``. The
rows are checked against the request log before anything is written, then land as one commit of the
``feedback`` feature group with the request's model name and version, prompt and response copied from the
log: feature views, training datasets (and so the lineage of a preference-tuned model) and the dashboard
read them like any other feature data.

Example:
    >>> project.log_feedback("writer", {"request_id": rid, "rating": 1.0})  # doctest: +SKIP
    >>> project.feedback("writer")[["model_version", "rating", "prompt"]]  # doctest: +SKIP
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fti.errors import NotFoundError, ValidationError
from fti.inference_log.features import FEATURE_COLUMNS, feature_columns
from fti.monitoring.stats.columns import TableLike, as_table

if TYPE_CHECKING:
    from fti.features import FeatureGroup, FeatureStore
    from fti.features.training import TrainingDataset
    from fti.inference_log import InferenceLog

__all__ = ["FEEDBACK_GROUP", "FEEDBACK_SCHEMA", "RATING_RANGE", "FeedbackData", "FeedbackLog", "FeedbackWritten"]

FeedbackData = Union[TableLike, Mapping[str, Any], Sequence[Mapping[str, Any]]]  # noqa: UP007 (TableLike holds strings)
"""Feedback as columns (a DataFrame, an Arrow table, a dict of lists), one row (a dict of values) or row dicts."""

FEEDBACK_GROUP = "feedback"
RATING_RANGE = (0.0, 1.0)
FEEDBACK_SCHEMA = pa.schema(
    [
        pa.field("feedback_id", pa.string()),
        pa.field("request_id", pa.string()),
        pa.field("deployment", pa.string()),
        pa.field("model_name", pa.string()),
        pa.field("model_version", pa.int64()),
        pa.field("prompt", pa.string()),
        pa.field("response", pa.string()),
        pa.field("rating", pa.float64()),
        pa.field("preferred", pa.string()),
        pa.field("rejected", pa.string()),
        pa.field("comment", pa.string()),
        pa.field("timestamp", pa.timestamp("us", tz="UTC")),
    ]
)
"""Columns of the ``feedback`` feature group (primary key ``feedback_id``, event time ``timestamp``)."""

_GIVEN = ("request_id", "rating", "preferred", "rejected", "comment", "timestamp")
_TEXT = ("request_id", "preferred", "rejected", "comment")


def _arrow_type(name: str) -> pa.DataType:
    return FEEDBACK_SCHEMA.field(name).type


@dataclass(frozen=True, slots=True)
class FeedbackWritten:
    """What one :meth:`FeedbackLog.write` committed."""

    #: the commit of the ``feedback`` feature group holding the rows
    commit: int
    #: the new rows' ids, in the order given
    feedback_ids: tuple[str, ...]


class FeedbackLog:
    """Writes feedback on logged requests into the ``feedback`` feature group and reads it back.

    Args:
        features: the feature store holding the group.
        log: the request log the feedback refers to.
    """

    def __init__(self, features: FeatureStore, log: InferenceLog) -> None:
        self._features = features
        self._log = log

    def group(self) -> FeatureGroup:
        """The ``feedback`` feature group (created on first use)."""
        return self._features.get_or_create_feature_group(
            FEEDBACK_GROUP,
            1,
            primary_key=["feedback_id"],
            event_time="timestamp",
            description="Feedback on logged requests: ratings and preferred responses, by request id.",
            schema=FEEDBACK_SCHEMA,
        )

    def write(self, deployment: str, data: FeedbackData) -> FeedbackWritten:
        """Check ``data`` against the request log of ``deployment`` and commit it (all rows or none).

        Raises:
            ValidationError: an unknown column, a null or unknown ``request_id``, a ``rating`` outside
                [0, 1], a row with neither rating nor preferred response, a ``rejected`` response without
                a ``preferred`` one, or identical preferred and rejected responses. The message names the
                field and the row; nothing is written.
        """
        given = _given(deployment, data)
        ids = given.column("request_id")
        logged = self._logged(deployment, ids)
        rows = _joined(deployment, given, logged)
        rows = _with_rejected(deployment, rows)
        table = pa.Table.from_pandas(rows, schema=FEEDBACK_SCHEMA, preserve_index=False)
        result = self.group().insert_rows(table, unique_keys=True)
        return FeedbackWritten(result.commit, tuple(rows["feedback_id"]))

    def training_data(self) -> TrainingDataset:
        """A new training dataset of every feedback row (feature view ``feedback`` v1): what a model trained on
        feedback records as its lineage, down to the feedback group's commits.

        Raises:
            NotFoundError: no feedback was ever written.
        """
        group = self._features.get_feature_group(FEEDBACK_GROUP, 1)
        view = self._features.get_or_create_feature_view(
            FEEDBACK_GROUP, 1, query=group.select_all(), description="Every feedback row, for preference tuning."
        )
        return view.create_training_data()

    def read(self, deployment: str | None = None) -> pd.DataFrame:
        """The feedback rows of ``deployment`` (None: every deployment), oldest first."""
        try:
            group = self._features.get_feature_group(FEEDBACK_GROUP, 1)
        except NotFoundError:  # no feedback was ever written
            empty: pd.DataFrame = FEEDBACK_SCHEMA.empty_table().to_pandas()
            return empty
        rows = group.read()
        if deployment is not None:
            rows = rows[rows["deployment"] == deployment]
        return rows.sort_values("timestamp", kind="stable").reset_index(drop=True)

    def _logged(self, deployment: str, ids: pa.ChunkedArray) -> pd.DataFrame:
        """The first logged row of each request in ``ids``: model name and version, prompt and response."""
        log = self._log.read(
            deployment, columns=["request_id", "model_name", "model_version", *FEATURE_COLUMNS], include_shadow=False
        )
        log = log.filter(pc.is_in(log.column("request_id"), value_set=ids.combine_chunks()))
        unknown = pc.filter(ids, pc.invert(pc.is_in(ids, value_set=log.column("request_id").combine_chunks())))
        if len(unknown):
            row = int(pc.index(ids, unknown[0]).as_py())
            raise ValidationError(
                f"Feedback row {row}: 'request_id' {unknown[0].as_py()!r} is not in the request log of deployment "
                f"'{deployment}' ({len(unknown)} unknown in all). Send the request id the server answered with."
            )
        parsed = feature_columns(log)
        frame: pd.DataFrame = log.select(["request_id", "model_name", "model_version"]).to_pandas()
        for name in ("prompt", "response"):
            frame[name] = parsed.column(name).to_pandas() if name in parsed.column_names else None
        return frame.drop_duplicates("request_id")


def _given(deployment: str, data: FeedbackData) -> pa.Table:
    """``data`` as a table of the feedback columns, each of its type; every single-field check done."""
    table = _as_table(data)
    unknown = [name for name in table.column_names if name not in _GIVEN]
    if unknown:
        raise ValidationError(
            f"Feedback for deployment '{deployment}' has unknown column(s) {', '.join(map(repr, unknown))}: the "
            f"columns are {', '.join(_GIVEN)}."
        )
    if "request_id" not in table.column_names:
        raise ValidationError(f"Feedback for deployment '{deployment}' needs 'request_id': the request it is about.")
    if table.num_rows == 0:
        raise ValidationError(f"Feedback for deployment '{deployment}' has no rows.")
    columns: dict[str, pa.ChunkedArray] = {}
    for name in _GIVEN:
        if name not in table.column_names:
            columns[name] = pa.chunked_array([pa.nulls(table.num_rows, _arrow_type(name))])
            continue
        columns[name] = _typed(name, table.column(name))
    _first_bad(columns["request_id"].is_null(), "request_id", "is null: every feedback names its request")
    rating = columns["rating"]
    low, high = RATING_RANGE
    outside = pc.fill_null(pc.or_(pc.less(rating, low), pc.greater(rating, high)), False)
    _first_bad(outside, "rating", f"is outside [{low:g}, {high:g}] (1 good, 0 bad; stars as (stars - 1) / 4)")
    _first_bad(
        pc.and_(rating.is_null(), columns["preferred"].is_null()),
        "rating",
        "and 'preferred' are both missing: give a rating, a preferred response, or both",
    )
    _first_bad(
        pc.and_(columns["preferred"].is_null(), columns["rejected"].is_valid()),
        "preferred",
        "is missing while 'rejected' is given: a rejected response needs the preferred one",
    )
    return pa.table(columns)


def _typed(name: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    wanted = _arrow_type(name)
    if pa.types.is_null(column.type):
        return pc.cast(column, wanted)
    fits = (
        (name == "rating" and (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)))
        or (name == "timestamp" and pa.types.is_timestamp(column.type))
        or (name in _TEXT and (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)))
    )
    if not fits:
        expected = "a number" if name == "rating" else "a timestamp" if name == "timestamp" else "text"
        raise ValidationError(f"Feedback field '{name}' must be {expected}, got {column.type}.")
    return pc.cast(column, wanted)


def _first_bad(mask: pa.ChunkedArray | pa.Array, field: str, problem: str) -> None:
    flags = np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)
    rows = np.flatnonzero(flags)
    if len(rows):
        more = f" ({len(rows)} rows in all)" if len(rows) > 1 else ""
        raise ValidationError(f"Feedback row {int(rows[0])}: '{field}' {problem}{more}. Nothing was written.")


def _joined(deployment: str, given: pa.Table, logged: pd.DataFrame) -> pd.DataFrame:
    rows: pd.DataFrame = given.to_pandas().merge(logged, on="request_id", how="left", validate="many_to_one")
    now = pd.Timestamp(datetime.now(UTC))
    rows["timestamp"] = rows["timestamp"].fillna(now)
    rows["deployment"] = deployment
    rows["feedback_id"] = [uuid.uuid4().hex for _ in range(len(rows))]
    ordered: pd.DataFrame = rows.loc[:, FEEDBACK_SCHEMA.names]
    return ordered


def _with_rejected(deployment: str, rows: pd.DataFrame) -> pd.DataFrame:
    """A preferred response without a rejected one rejects the logged response; identical pairs are refused."""
    missing = rows["preferred"].notna() & rows["rejected"].isna()
    rows.loc[missing, "rejected"] = rows.loc[missing, "response"]
    unanswered = np.flatnonzero((rows["preferred"].notna() & rows["rejected"].isna()).to_numpy())
    if len(unanswered):
        raise ValidationError(
            f"Feedback row {int(unanswered[0])}: 'rejected' is missing and request "
            f"{rows['request_id'].iloc[unanswered[0]]!r} of deployment '{deployment}' logged no response to reject."
        )
    same = np.flatnonzero((rows["preferred"].notna() & (rows["preferred"] == rows["rejected"])).to_numpy())
    if len(same):
        source = "the logged response" if bool(missing.iloc[same[0]]) else "'rejected'"
        raise ValidationError(
            f"Feedback row {int(same[0])}: 'preferred' is the same text as {source}: a preference needs two "
            "different responses. Nothing was written."
        )
    return rows


def _as_table(data: FeedbackData) -> pa.Table:
    if isinstance(data, Mapping):
        values = dict(data)
        if not any(isinstance(value, list | tuple | np.ndarray | pd.Series) for value in values.values()):
            values = {name: [value] for name, value in values.items()}
        try:
            return pa.table({str(name): list(column) for name, column in values.items()})
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise ValidationError(f"Cannot read the feedback as columns: {exc}. Give lists of one type each.") from exc
    if isinstance(data, Sequence) and not isinstance(data, str) and all(isinstance(row, Mapping) for row in data):
        try:
            return pa.Table.from_pylist([dict(row) for row in data])
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ValidationError(f"Cannot read the feedback rows: {exc}. Give each field one type.") from exc
    return as_table(data, what="feedback")
