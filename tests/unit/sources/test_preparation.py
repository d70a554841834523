"""Preparing batches: names, string timestamps and transformations, with errors that say how to fix them."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pytest

from fti.errors import ValidationError
from fti.features.preparation import Preparation, normalized_name

WHAT = "Insert into feature group 'cards' v1"


def _batch(**columns: list[object]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(columns)


def test_normalized_names() -> None:
    assert normalized_name("Monthly Spend (EUR)") == "monthly_spend_eur"
    assert normalized_name("2nd-choice") == "_2nd_choice"
    assert normalized_name("  ") == "column"


def test_names_that_are_not_identifiers_are_refused_with_both_fixes() -> None:
    batch = pa.RecordBatch.from_pydict({"id": [1], "monthly spend": [2.0], "2nd": [3]})
    message = (
        r"column name\(s\) 'monthly spend', '2nd' are not identifiers .* Rename them with "
        r"rename=\{'monthly spend': 'monthly_spend', '2nd': '_2nd'\}, or pass normalize_names=True\."
    )
    with pytest.raises(ValidationError, match=message):
        list(Preparation().batches(WHAT, iter([batch])))
    renamed = next(Preparation.of(rename={"monthly spend": "spend", "2nd": "second"}).batches(WHAT, iter([batch])))
    assert renamed.schema.names == ["id", "spend", "second"]
    normalized = next(Preparation.of(normalize_names=True).batches(WHAT, iter([batch])))
    assert normalized.schema.names == ["id", "monthly_spend", "_2nd"]
    with pytest.raises(ValidationError, match=r"rename names column\(s\) 'nope', which the data does not have"):
        next(Preparation.of(rename={"nope": "x"}).batches(WHAT, iter([batch])))


def test_parse_dates_iso_with_and_without_zone_and_by_format() -> None:
    batch = _batch(
        a=["2024-05-01T12:00:00Z", None], b=["2024-05-01 12:00:00", "2024-05-02 00:00:00"], c=["01/05/2024 12:00", None]
    )
    parsed = Preparation.of(parse_dates={"a": None, "b": None, "c": "%d/%m/%Y %H:%M"}).apply(WHAT, batch)
    assert parsed.column(0).type == pa.timestamp("us", tz="UTC")
    assert parsed.column(0)[0].as_py() == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert parsed.column(1).type == pa.timestamp("us")
    assert parsed.column(2)[0].as_py() == datetime(2024, 5, 1, 12)


def test_a_date_that_does_not_parse_is_shown() -> None:
    batch = _batch(ts=["2024-05-01", "2024-05-02", "yesterday", "2024-05-04"])
    with pytest.raises(
        ValidationError, match=r"column 'ts' has the value 'yesterday', which does not parse as ISO 8601"
    ):
        Preparation.of(parse_dates=["ts"]).apply(WHAT, batch)
    with pytest.raises(ValidationError, match=r"parse_dates names column 'when', which the data does not have"):
        Preparation.of(parse_dates=["when"]).apply(WHAT, batch)


def test_transforms_get_a_dataframe_an_arrow_table_or_run_sql() -> None:
    batch = _batch(id=[1, 2], amount=[10.0, 20.0])

    def double(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(amount=frame["amount"] * 2)

    def tax(table: pa.Table) -> pa.Table:
        return table.append_column("tax", pa.array([1.0, 2.0]))

    assert Preparation.of(transform=double).apply(WHAT, batch).column(1).to_pylist() == [20.0, 40.0]
    assert Preparation.of(transform=tax).apply(WHAT, batch).schema.names == ["id", "amount", "tax"]
    query = "SELECT id, amount / 10 AS tens FROM source WHERE id > 1"
    assert Preparation.of(transform=query).apply(WHAT, batch).to_pydict() == {"id": [2], "tens": [2.0]}


def test_a_failing_transform_names_the_insert() -> None:
    def broken(frame: pd.DataFrame) -> pd.DataFrame:
        raise KeyError("price")

    with pytest.raises(ValidationError, match=r"the transform failed on a batch of 1 rows: KeyError\('price'\)"):
        Preparation.of(transform=broken).apply(WHAT, _batch(id=[1]))
    with pytest.raises(ValidationError, match="the transform returned a int"):
        Preparation.of(transform=lambda frame: 3).apply(WHAT, _batch(id=[1]))
