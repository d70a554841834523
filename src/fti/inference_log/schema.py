"""The inference log's tables and columns: what the server logs per prediction, and the labels that come later."""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "INFERENCE_LOG_TABLE",
    "INPUTS_COLUMN",
    "LABELS_SCHEMA",
    "LABELS_TABLE",
    "LABEL_COLUMNS",
    "LOG_COLUMNS",
    "LOG_DICTIONARY",
    "OPTIONAL_LOG_FIELDS",
    "REQUEST_LOG_SCHEMA",
    "STORED_LOG_SCHEMA",
    "conform_log_batch",
]

INFERENCE_LOG_TABLE = "inference_log"
LABELS_TABLE = "inference_labels"

REQUEST_LOG_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("deployment", pa.string(), nullable=False),
        pa.field("variant", pa.string(), nullable=False),
        pa.field("model_name", pa.string(), nullable=False),
        pa.field("model_version", pa.int64(), nullable=False),
        pa.field("features", pa.string(), nullable=False),
        pa.field("prediction", pa.float64()),
        pa.field("latency_ms", pa.float64(), nullable=False),
        pa.field("is_shadow", pa.bool_(), nullable=False),
    ]
)
"""Columns of the inference log; ``features`` holds as a JSON object each row's model inputs (and entity keys)
that are not typed columns (``{}`` when all are; logs written before typed columns hold every input there);
``prediction`` is null for predictions that are not one number per row. Beside these, the log has the struct
column :data:`INPUTS_COLUMN` once a typed input is logged (see :mod:`fti.inference_log.inputs`)."""

#: the struct column of the typed model inputs: one field per feature, its type as logged (int64, float64, bool,
#: string); the table's struct is the union of every deployment's features
INPUTS_COLUMN = "inputs"

OPTIONAL_LOG_FIELDS = (pa.field("score", pa.float64()),)
"""Columns a batch may have, null where it has not: ``score`` is a binary classifier's score of its positive class
(the second of its two classes) when the request computed class scores (a deployment answering ``proba`` or
``both``): what ranking metrics (ROC-AUC, average precision) are computed from. Logs written before the column
existed read it as null."""

STORED_LOG_SCHEMA = pa.schema([*REQUEST_LOG_SCHEMA, *OPTIONAL_LOG_FIELDS])
"""The columns the inference log stores: :data:`REQUEST_LOG_SCHEMA` and :data:`OPTIONAL_LOG_FIELDS`."""

LABELS_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("deployment", pa.string(), nullable=False),
        pa.field("label", pa.float64()),
        pa.field("labelled_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
"""Columns of the labels: the ground truth of a logged request, by request id; the latest label wins."""

#: the inference log's scalar columns (never the logged features): what is kept in memory and summarized
LOG_COLUMNS = (
    "request_id",
    "timestamp",
    "deployment",
    "variant",
    "model_name",
    "model_version",
    "prediction",
    "latency_ms",
    "is_shadow",
    "score",  # read where the log has it
    "error",  # read where the log has it
)
#: the log columns whose few values repeat: read dictionary-encoded
LOG_DICTIONARY = ("deployment", "variant", "model_name")
#: the label columns kept in memory
LABEL_COLUMNS = ("request_id", "deployment", "label", "labelled_at")


def conform_log_batch(batch: pa.Table) -> pa.Table:
    """``batch`` (with every column of :data:`REQUEST_LOG_SCHEMA`) as :data:`STORED_LOG_SCHEMA`: the columns in
    order, an optional column it lacks as nulls."""
    for field in OPTIONAL_LOG_FIELDS:
        if field.name not in batch.column_names:
            batch = batch.append_column(field, pa.nulls(batch.num_rows, field.type))
    return batch.select(STORED_LOG_SCHEMA.names).cast(STORED_LOG_SCHEMA)
