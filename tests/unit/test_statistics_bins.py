"""Histogram bins of feature statistics: a heavy-tailed column gets log or fenced bins, in the SQL pass and in
the streaming pass alike."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from fti.features.sql import query_engine
from fti.features.statistics import compute_statistics, has_current_bins, tail_edges
from fti.features.stream_statistics import _SAMPLE_ROWS, StreamStatistics


def _amounts() -> pa.Table:
    rng = np.random.default_rng(0)
    amounts = np.concatenate([rng.lognormal(3, 1, 2000), [20_000.0]])
    shifted = amounts - 100  # the same tail, with negative values: no log scale
    return pa.table(
        {"id": np.arange(len(amounts)), "amount": amounts, "shifted": shifted, "ts": np.arange(len(amounts))}
    )


def test_tail_edges_are_log_spaced_for_positive_values_and_fenced_otherwise() -> None:
    edges, scale = tail_edges(1.0, 10_000.0, [2.0, 3.0, 5.0])  # type: ignore[misc]
    assert scale == "log" and len(edges) == 10 and edges[0] == 10_000.0**0.1 and edges[-1] == 10_000.0
    edges, scale = tail_edges(-5.0, 1_000.0, [0.0, 1.0, 2.0])  # type: ignore[misc]
    assert scale == "fenced" and edges[-2] == 8.0 and edges[-1] == 1_000.0  # Q3 + 3 IQR = 8
    assert tail_edges(0.0, 10.0, [2.0, 5.0, 8.0]) is None  # no tail: nothing beyond the fence


def test_a_heavy_tail_spreads_over_the_bins_in_both_passes() -> None:
    table = _amounts()
    connection = query_engine()
    try:
        connection.register("rows", table)
        measured = compute_statistics(connection, "rows", table.schema)["columns"]
    finally:
        connection.close()
    streamed = StreamStatistics(table.schema, ("id", "ts"))
    for batch in table.to_batches():
        streamed.add(batch)
    for columns in (measured, streamed.result()["columns"]):
        amount, shifted = columns["amount"]["histogram"], columns["shifted"]["histogram"]
        assert amount["scale"] == "log" and shifted["scale"] == "fenced"
        for histogram in (amount, shifted):
            assert sum(histogram["counts"]) == table.num_rows
            assert max(histogram["counts"]) < table.num_rows / 2, histogram
        assert columns["id"]["histogram"]["scale"] == "linear"


def test_statistics_kept_from_before_the_scale_are_not_current() -> None:
    old = {"columns": {"amount": {"type": "number", "histogram": {"edges": [0.0, 1.0], "counts": [3]}}}}
    new = {
        "columns": {"amount": {"type": "number", "histogram": {"edges": [0.0, 1.0], "counts": [3], "scale": "linear"}}}
    }
    assert not has_current_bins(old) and has_current_bins(new)
    assert has_current_bins({"columns": {"name": {"type": "category"}}})


def test_the_streamed_sample_is_the_rows_with_the_smallest_random_keys() -> None:
    # candidates are trimmed only now and then: the sample is still exactly the rows a trim after every batch keeps
    rng = np.random.default_rng(7)
    batches = [pa.record_batch({"x": rng.normal(size=size)}) for size in [1000, 70_000, 131_072, 5, 200_000, 90_000]]
    statistics = StreamStatistics(pa.schema([pa.field("x", pa.float64())]), ("x",), seed=3)
    for batch in batches:
        statistics.add(batch)
    generator = np.random.default_rng(3)  # the statistics' own generator, drawn batch by batch
    keys = np.concatenate([generator.random(len(batch)) for batch in batches])
    values = np.concatenate([batch.column(0).to_numpy() for batch in batches])
    expected = np.sort(values[np.argsort(keys)[:_SAMPLE_ROWS]])
    quartiles = statistics.result()["columns"]["x"]["quantiles"]
    assert quartiles == [float(q) for q in np.quantile(expected, [0.25, 0.5, 0.75], method="nearest")]
