"""Statistics of a commit gathered while its batches stream to storage, so the rows are not read back.

Numbers get exact count, nulls, min, max, mean and standard deviation (merged batch by batch), and
quartiles and a 10-bin histogram from a uniform sample of up to 65,536 rows: exact for smaller commits;
for larger ones the histogram's counts are the sample's scaled to the exact total. Times get count,
nulls, min and max. Strings and booleans (distinct count, top values) are left to a SQL pass over the
written rows (:func:`fti.features.statistics.compute_statistics`), as the result says.

The keys' order is watched too: rows whose (key, event time) strictly increase, in either column order,
cannot repeat a pair, which spares counting distinct pairs after the write.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.features.statistics import equal_edges, kind_of, tail_edges

__all__ = ["StreamStatistics"]

_SAMPLE_ROWS = 65_536


class _Moments:
    """Count, min, max, mean and the sum of squared deviations of one numeric column, merged batch by batch."""

    __slots__ = ("count", "high", "low", "m2", "mean")

    def __init__(self) -> None:
        self.count, self.mean, self.m2 = 0, 0.0, 0.0
        self.low: float | None = None
        self.high: float | None = None

    def add(self, values: pa.Array) -> None:
        count = len(values) - values.null_count
        if count == 0:
            return
        floats = pc.cast(values, pa.float64())
        bounds = pc.min_max(floats).as_py()
        mean = pc.mean(floats).as_py()
        m2 = pc.variance(floats, ddof=0).as_py() * count
        self.low = bounds["min"] if self.low is None else min(self.low, bounds["min"])
        self.high = bounds["max"] if self.high is None else max(self.high, bounds["max"])
        total = self.count + count
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * self.count * count / total
        self.mean += delta * count / total
        self.count = total


def _bin_counts(edges: list[float], values: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, Any]:
    # a value falls in the first bin whose upper edge is at or above it, as SQL's histogram() counts
    counts = np.bincount(np.searchsorted(np.asarray(edges), values, side="left"), minlength=len(edges) + 1)
    return counts[: len(edges)]


class StreamStatistics:
    """Statistics of the batches passed to :meth:`add` (see the module docstring)."""

    def __init__(self, schema: pa.Schema, keys: tuple[str, ...], seed: int = 0) -> None:
        self._schema = schema
        self._kinds = {field.name: kind_of(field.type) for field in schema}
        self._numbers = [name for name, kind in self._kinds.items() if kind == "number"]
        self._moments = {name: _Moments() for name in self._numbers}
        self._counts = dict.fromkeys(self._kinds, 0)
        self._times: dict[str, list[Any]] = {name: [] for name, kind in self._kinds.items() if kind == "time"}
        self._rng = np.random.default_rng(seed)
        self._sample_keys: list[np.ndarray[Any, np.dtype[np.float64]]] = []
        self._sample: dict[str, list[np.ndarray[Any, np.dtype[np.float64]]]] = {name: [] for name in self._numbers}
        self._sample_size = 0
        self._threshold = 1.0
        self._orders = [keys, (keys[-1], *keys[:-1])]
        self._increasing = [True, True]
        self._last: pa.RecordBatch | None = None
        self.rows = 0

    @property
    def schema(self) -> pa.Schema:
        """The columns described."""
        return self._schema

    @property
    def categories(self) -> list[str]:
        """The columns whose statistics need the SQL pass (strings, booleans)."""
        return [name for name, kind in self._kinds.items() if kind == "category"]

    @property
    def keys_are_unique(self) -> bool:
        """Whether every (key, event time) pair is known to occur once (the pairs strictly increased)."""
        return any(self._increasing)

    def add(self, batch: pa.RecordBatch) -> None:
        """Take one batch of rows of the schema into account."""
        size = len(batch)
        if size == 0:
            return
        for index, name in enumerate(self._schema.names):
            values = batch.column(index)
            self._counts[name] += size - values.null_count
            if name in self._moments:
                self._moments[name].add(values)
            elif name in self._times and size - values.null_count:
                bounds = pc.min_max(values)
                self._times[name] += [bounds["min"], bounds["max"]]
        self._add_sample(batch)
        self._watch_order(batch)
        self.rows += size

    def result(self) -> dict[str, Any]:
        """``{"rows": n, "columns": {...}}`` in the layout of ``compute_statistics`` (categories get only counts)."""
        columns: dict[str, dict[str, Any]] = {}
        for name, kind in self._kinds.items():
            stats: dict[str, Any] = {"type": kind, "count": self._counts[name]}
            if kind == "number":
                stats |= self._number(name)
            elif kind == "time":
                stats |= self._time(name)
            stats["nulls"] = self.rows - self._counts[name]
            columns[name] = stats
        return {"rows": self.rows, "columns": columns}

    # -- numbers -----------------------------------------------------------------------------------

    def _number(self, name: str) -> dict[str, Any]:
        moments = self._moments[name]
        if moments.count == 0:
            return {"min": None, "max": None, "mean": None, "std": None, "quantiles": None}
        std = math.sqrt(moments.m2 / (moments.count - 1)) if moments.count > 1 else None
        self._trim_sample()
        values = self._sample[name][0] if self._sample[name] else np.empty(0)
        values = values[~np.isnan(values)]
        quantiles = (
            [float(q) for q in np.quantile(values, [0.25, 0.5, 0.75], method="nearest")] if len(values) else None
        )
        stats: dict[str, Any] = {
            "min": _finite(moments.low),
            "max": _finite(moments.high),
            "mean": _finite(moments.mean),
            "std": _finite(std),
            "quantiles": quantiles,
        }
        histogram = self._histogram(moments, values)
        if histogram is not None:
            stats["histogram"] = histogram
        return stats

    def _histogram(self, moments: _Moments, values: np.ndarray[Any, np.dtype[np.float64]]) -> dict[str, Any] | None:
        low, high = moments.low, moments.high
        if low is None or high is None or not math.isfinite(low - high) or not len(values):
            return None
        edges, scale = equal_edges(low, high), "linear"
        counts = _bin_counts(edges, values)
        if len(counts) > 1 and counts.max() > len(values) / 2:
            quartiles = [float(q) for q in np.quantile(values, [0.25, 0.5, 0.75], method="nearest")]
            tail = tail_edges(low, high, quartiles)
            if tail is not None:
                edges, scale = tail
                counts = _bin_counts(edges, values)
        if len(values) < moments.count:
            counts = _scaled(counts, moments.count)
        return {"edges": [low, *edges], "counts": [int(count) for count in counts], "scale": scale}

    def _add_sample(self, batch: pa.RecordBatch) -> None:
        """Keep the rows with the smallest random keys: a uniform sample of every row so far.

        Rows whose key is below the largest key kept at the last trim are candidates; the candidates are
        trimmed to the sample's size only when they reach a few samples' worth (and before the result), which
        keeps the same rows as trimming after every batch without copying the sample each time.
        """
        if not self._numbers:
            return
        keys = self._rng.random(len(batch))
        chosen = np.flatnonzero(keys < self._threshold) if self._threshold < 1.0 else np.arange(len(keys))
        if not len(chosen):
            return
        rows = batch.select(self._numbers) if len(chosen) == len(keys) else batch.select(self._numbers).take(chosen)
        self._sample_keys.append(keys[chosen])
        for index, name in enumerate(self._numbers):
            values = pc.cast(rows.column(index), pa.float64())
            if values.null_count:  # filling copies the column: only columns with nulls pay for it
                values = pc.fill_null(values, math.nan)
            self._sample[name].append(values.to_numpy(zero_copy_only=False))
        self._sample_size += len(chosen)
        if self._sample_size > 4 * _SAMPLE_ROWS:
            self._trim_sample()

    def _trim_sample(self) -> None:
        """The candidates as one array per column, cut to the sample's size (see :meth:`_add_sample`)."""
        if not self._sample_keys or (len(self._sample_keys) == 1 and self._sample_size <= _SAMPLE_ROWS):
            return
        keys = np.concatenate(self._sample_keys)
        keep = np.argpartition(keys, _SAMPLE_ROWS - 1)[:_SAMPLE_ROWS] if len(keys) > _SAMPLE_ROWS else None
        if keep is not None:
            keys = keys[keep]
            self._threshold = float(keys.max())
        self._sample_keys = [keys]
        for name, parts in self._sample.items():
            values = np.concatenate(parts)
            self._sample[name] = [values[keep] if keep is not None else values]
        self._sample_size = len(keys)

    # -- times and order ---------------------------------------------------------------------------

    def _time(self, name: str) -> dict[str, Any]:
        found = [item for item in self._times[name] if item.is_valid]
        if not found:
            return {"min": None, "max": None}
        values = pa.array([item.as_py() for item in found], found[0].type)
        bounds = pc.min_max(values)
        return {"min": _time_text(bounds["min"].as_py()), "max": _time_text(bounds["max"].as_py())}

    def _watch_order(self, batch: pa.RecordBatch) -> None:
        if not any(self._increasing):
            return
        for which, order in enumerate(self._orders):
            if not self._increasing[which]:
                continue
            columns = [batch.column(batch.schema.get_field_index(name)) for name in order]
            if self._last is not None:
                previous = [self._last.column(self._last.schema.get_field_index(name)) for name in order]
                columns = [pa.concat_arrays([before, now]) for before, now in zip(previous, columns, strict=True)]
            self._increasing[which] = _strictly_increasing(columns)
        self._last = batch.slice(len(batch) - 1, 1)


def _strictly_increasing(columns: list[pa.Array]) -> bool:
    """Whether the rows of ``columns`` strictly increase in lexicographic order."""
    if len(columns[0]) < 2:
        return True
    ahead = [column.slice(0, len(column) - 1) for column in columns]
    behind = [column.slice(1) for column in columns]
    less = pc.less(ahead[0], behind[0])
    equal = pc.equal(ahead[0], behind[0])
    for before, after in zip(ahead[1:], behind[1:], strict=True):
        less = pc.or_(less, pc.and_(equal, pc.less(before, after)))
        equal = pc.and_(equal, pc.equal(before, after))
    return bool(pc.all(less).as_py())


def _scaled(counts: np.ndarray[Any, np.dtype[np.int64]], total: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Sample counts scaled to ``total``, rounded so that they add up to it exactly (largest remainders)."""
    shares = counts / max(int(counts.sum()), 1) * total
    rounded = np.floor(shares).astype(np.int64)
    missing = total - int(rounded.sum())
    if missing > 0:
        rounded[np.argsort(-(shares - rounded))[:missing]] += 1
    return rounded


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _time_text(value: Any) -> str:
    """A time as SQL prints it: ``2024-01-01 00:00:00+00:00`` (ISO 8601 with a space)."""
    return str(value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat())
