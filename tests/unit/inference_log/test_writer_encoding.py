"""The request log keeps each row's features exactly as the model got them: full float precision, integer keys
as integers (beside float features), nulls as null, typed columns in request order."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from fti.inference_log.features import feature_columns
from fti.inference_log.writer import LogRecord, to_table


def _record(request_id: str, features: pd.DataFrame) -> LogRecord:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    return LogRecord(request_id, now, "fraud", "m@1", "m", 1, features, np.zeros(len(features)), 1.0, False)


def test_features_are_logged_exactly_whatever_the_batch() -> None:
    keyed = [
        _record(f"r{index}", pd.DataFrame({"cc_num": [2**60 + index, 7], "amount": [0.1257302210933933, np.nan]}))
        for index in range(3)
    ]
    other = _record("x", pd.DataFrame({"country": ["DE"], "is_new": [True]}))
    floats = [_record(f"f{index}", pd.DataFrame({"a": [1 / 3, 2.5e-12], "b": [-0.0, 1e300]})) for index in range(2)]
    for records in (keyed, [*keyed, other], floats):
        table = to_table(records)
        assert set(table.column("features").to_pylist()) == {"{}"}  # every feature typed, none left as JSON
        columns = feature_columns(table)
        logged = [
            {name: value for name, value in row.items() if name in record.features.columns}
            for record, row in zip(
                [r for r in records for _ in range(len(r.features))], columns.to_pylist(), strict=True
            )
        ]
        expected = [
            {name: (None if isinstance(value, float) and np.isnan(value) else value) for name, value in row.items()}
            for record in records
            for row in record.features.astype(object).to_dict("records")
        ]
        assert logged == expected
        assert table.column("request_id").to_pylist() == [r.request_id for r in records for _ in range(len(r.features))]
