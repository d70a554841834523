"""Numeric codes: the reference bin of each value, found by a grid guess and corrections, is exactly the binary
search's for every value (on an edge, just beside one, outside the range, infinite), whatever the edges."""

from __future__ import annotations

import numpy as np
import pytest

from fti.monitoring.stats.codes import edge_counts

_RNG = np.random.default_rng(7)
_REFERENCE = _RNG.normal(0.0, 1.0, 20_000)


@pytest.mark.parametrize(
    "edges",
    [
        np.quantile(_REFERENCE, np.linspace(0.0, 1.0, 101)),  # dense in the middle: cells of several edges
        np.array([0.0, 1.0]),
        np.array([0.0, 0.0, 0.0, 1.0, 1.0, 2.0]),  # repeated edges
        np.linspace(-3.0, 3.0, 101),
        np.unique(np.round(_REFERENCE, 1)),
        np.array([5.0]),
        np.array([1e-300, 1e300]),
    ],
)
def test_edge_counts_are_the_binary_searchs(edges: np.ndarray) -> None:
    values = np.concatenate(
        [
            _RNG.normal(0.3, 1.5, 50_000),
            edges,
            np.nextafter(edges, np.inf),
            np.nextafter(edges, -np.inf),
            [np.inf, -np.inf, 1e308, -1e308, 0.0],
        ]
    )
    assert np.array_equal(edge_counts(edges, values), np.searchsorted(edges, values, side="right"))
