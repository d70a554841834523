"""What one data file of the inference log says in brief: each deployment's span, and an hourly rollup of requests.

A request's rows are written together (the request log writes each model call's rows as one contiguous run, with
one request id, time and latency), so a file's requests are its runs of rows: a new run starts where the request
id, deployment, variant or shadow flag changes from the row before. Counting runs needs one comparison per row,
not a hash of every request id. A request split by the writer between two files of one commit (only a commit
bigger than a file is split) is one run at the end of one file and one at the start of the next: :func:`joined`
finds those and takes the extra count back.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.inference_log.files import DataFile, codes

__all__ = [
    "HOUR",
    "LATENCY_BINS",
    "LATENCY_FLOOR",
    "LATENCY_STEP",
    "ROLLUP_SCHEMA",
    "FileRollup",
    "bucket_figures",
    "file_rollup",
    "file_spans",
    "footer_spans",
    "joined",
]

HOUR = 3_600_000_000
#: latency histogram: bin b holds [floor * step**b, floor * step**(b + 1)) milliseconds
LATENCY_FLOOR = 0.01
LATENCY_STEP = 1.05
LATENCY_BINS = 500
ROLLUP_SCHEMA = pa.schema(
    [
        ("deployment", pa.string()),
        ("variant", pa.string()),
        ("is_shadow", pa.bool_()),
        ("hour", pa.int64()),
        ("bin", pa.int32()),
        ("requests", pa.int64()),
        ("rows", pa.int64()),
    ]
)
#: dense grouping (a count per possible key) while the keys span at most this many times the runs
_DENSE_FACTOR = 8


@dataclass(frozen=True, slots=True)
class FileRollup:
    """Requests and rows per deployment, variant, shadow flag, hour and latency bin of one file, and the identity
    (request id, deployment, variant, shadow) and group of the file's first and last request."""

    rollup: pa.Table
    edges: tuple[tuple[tuple[Any, ...], tuple[Any, ...]], ...]


def footer_spans(file: DataFile) -> dict[str, tuple[int, int, int]] | None:
    """:func:`file_spans` from the file's footer alone, or None when the footer does not say enough."""
    deployment, is_shadow = file.only("deployment"), file.only("is_shadow")
    if is_shadow is True or file.rows == 0:
        return {}
    if deployment is not None and is_shadow is False and file.first is not None and file.last is not None:
        return {str(deployment): (file.rows, file.first, file.last)}
    return None


def file_spans(file: DataFile) -> dict[str, tuple[int, int, int]]:
    """Per deployment: non-shadow rows, first and last time (microseconds); from the footer when it says enough."""
    found = footer_spans(file)
    if found is not None:
        return found
    table = file.table()
    served = table.filter(pc.invert(table.column("is_shadow")))
    if served.num_rows == 0:
        return {}
    found = (
        pa.table(
            {
                "deployment": served.column("deployment").cast(pa.string()),
                "ts": served.column("timestamp").cast(pa.int64()),
            }
        )
        .group_by("deployment")
        .aggregate([("ts", "count"), ("ts", "min"), ("ts", "max")])
    )
    return {
        name: (int(rows), int(first), int(last))
        for name, rows, first, last in zip(
            found.column("deployment").to_pylist(),
            found.column("ts_count").to_pylist(),
            found.column("ts_min").to_pylist(),
            found.column("ts_max").to_pylist(),
            strict=True,
        )
    }


def file_rollup(file: DataFile) -> FileRollup:
    """The hourly rollup of one file's requests (latency percentiles later come from its histogram, bins 5% wide)."""
    table = file.table()
    if table.num_rows == 0:
        return FileRollup(ROLLUP_SCHEMA.empty_table(), ())
    deployment, deployments = _codes_of(file, table, "deployment")
    variant, variants = codes(table.column("variant"))
    only_shadow = file.only("is_shadow")
    shadow = _flags(table.column("is_shadow")) if only_shadow is None else np.full(table.num_rows, only_shadow, np.int8)
    starts = _run_starts(table.column("request_id"), deployment, variant, shadow)
    stamps = np.asarray(table.column("timestamp").cast(pa.int64()).to_numpy(), dtype=np.int64)
    latency = np.asarray(table.column("latency_ms").to_numpy(zero_copy_only=False), dtype=np.float64)
    sizes = None
    if len(starts) < table.num_rows:  # requests of several rows: a request's time is its first row's, its latency
        stamps, latency = np.minimum.reduceat(stamps, starts), np.maximum.reduceat(latency, starts)  # the slowest's
        deployment, variant, shadow = deployment[starts], variant[starts], shadow[starts]
        sizes = np.diff(np.append(starts, table.num_rows))
    hour = np.floor_divide(stamps, HOUR)
    latency_bin = _latency_bins(latency)
    groups, requests, rows = _group((deployment, variant, shadow, hour, latency_bin), sizes)
    rollup = pa.table(
        {
            "deployment": deployments.cast(pa.string()).take(pa.array(groups[0])),
            "variant": variants.cast(pa.string()).take(pa.array(groups[1])),
            "is_shadow": pa.array(groups[2].astype(bool)),
            "hour": pa.array(groups[3], pa.int64()),
            "bin": pa.array(groups[4], pa.int32()),
            "requests": pa.array(requests, pa.int64()),
            "rows": pa.array(rows, pa.int64()),
        },
        schema=ROLLUP_SCHEMA,
    )
    ids = table.column("request_id")
    edges = []
    for run in sorted({0, len(starts) - 1}):
        names = (deployments[int(deployment[run])].as_py(), variants[int(variant[run])].as_py(), bool(shadow[run]))
        identity = (ids[int(starts[run])].as_py(), *names)
        edges.append((identity, (*names, int(hour[run]), int(latency_bin[run]))))
    return FileRollup(rollup, tuple(edges))


def _codes_of(file: DataFile, table: pa.Table, column: str) -> tuple[np.ndarray[Any, Any], pa.Array]:
    """A string column's codes, with no pass over the rows when the footer says it holds one value."""
    only = file.only(column)
    if only is None:
        return codes(table.column(column))
    return np.zeros(table.num_rows, dtype=np.int8), pa.array([only], pa.string())


def joined(rollups: Sequence[FileRollup]) -> pa.Table:
    """The rollups of several files as one table, less one request for each request split between two files."""
    seen: Counter[tuple[Any, ...]] = Counter()
    groups: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for item in rollups:
        for identity, group in item.edges:
            seen[identity] += 1
            groups[identity] = group
    extra = [(*groups[identity], 1 - count, 0) for identity, count in seen.items() if count > 1]
    tables = [item.rollup for item in rollups]
    if extra:
        columns = list(zip(*extra, strict=True))
        tables.append(pa.table(dict(zip(ROLLUP_SCHEMA.names, columns, strict=True)), schema=ROLLUP_SCHEMA))
    return pa.concat_tables(tables) if tables else ROLLUP_SCHEMA.empty_table()


def _run_starts(
    ids: pa.ChunkedArray, deployment: np.ndarray[Any, Any], variant: np.ndarray[Any, Any], shadow: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """The first row of each run of rows with one request id, deployment, variant and shadow flag."""
    size = len(deployment)
    change = np.ones(size, dtype=bool)
    if size > 1:
        column = ids.combine_chunks()
        same = pc.equal(column.slice(1), column.slice(0, size - 1)).fill_null(False)
        change[1:] = ~np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)
        change[1:] |= (deployment[1:] != deployment[:-1]) | (variant[1:] != variant[:-1]) | (shadow[1:] != shadow[:-1])
    return np.flatnonzero(change)


def _latency_bins(latency: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The histogram bin of each latency (NaN: the last bin), computed in place on one copy."""
    values = np.maximum(latency, LATENCY_FLOOR)  # NaN stays NaN
    values /= LATENCY_FLOOR
    np.log(values, out=values)
    values /= math.log(LATENCY_STEP)
    np.floor(values, out=values)
    np.nan_to_num(values, copy=False, nan=LATENCY_BINS - 1, posinf=LATENCY_BINS - 1)
    np.clip(values, 0, LATENCY_BINS - 1, out=values)
    bins: np.ndarray[Any, Any] = values.astype(np.int64)
    return bins


def _flags(column: pa.ChunkedArray) -> np.ndarray[Any, Any]:
    """A boolean column without nulls as 0/1 integers, unpacked straight from its bitmap."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.null_count or len(array) == 0:
        return np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.int8)
    bits = np.frombuffer(array.buffers()[1], np.uint8)
    unpacked: np.ndarray[Any, Any] = np.unpackbits(bits, count=len(array) + array.offset, bitorder="little")
    return unpacked[array.offset :].astype(np.int8)


def _group(
    keys: tuple[np.ndarray[Any, Any], ...], weights: np.ndarray[Any, Any] | None
) -> tuple[list[np.ndarray[Any, Any]], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The distinct combinations of the key columns (integers), the rows of each and the sum of their ``weights``
    (None: one each)."""
    low = [int(column.min()) for column in keys]
    sizes = [int(column.max()) - floor + 1 for column, floor in zip(keys, low, strict=True)]
    shifted = [column - floor for column, floor in zip(keys, low, strict=True)]
    if math.prod(sizes) <= max(_DENSE_FACTOR * len(keys[0]), 1 << 16):
        flat = np.ravel_multi_index(shifted, sizes)
        counts = np.bincount(flat, minlength=math.prod(sizes))
        present = np.flatnonzero(counts)
        distinct = np.unravel_index(present, sizes)
        totals = counts if weights is None else np.bincount(flat, weights=weights, minlength=len(counts))
        counts, totals = counts[present], totals[present]
    else:
        found, inverse, counts = np.unique(np.stack(shifted, axis=1), axis=0, return_inverse=True, return_counts=True)
        distinct = tuple(found[:, index] for index in range(len(keys)))
        totals = counts if weights is None else np.bincount(inverse.reshape(-1), weights=weights, minlength=len(found))
    columns = [np.asarray(column) + floor for column, floor in zip(distinct, low, strict=True)]
    return columns, np.asarray(counts, dtype=np.int64), np.asarray(np.rint(totals), dtype=np.int64)


def bucket_figures(rollup: pa.Table, deployment: str, low: int, high: int, width: int) -> list[tuple[Any, ...]]:
    """Requests, rows and p50/p99 latency of ``deployment`` from hourly rollups, per bucket of ``width`` microseconds
    (whole hours) and variant, per bucket, per variant and over everything, for the hours in ``[low, high)``.

    Rows: ``(bucket, variant, is_shadow, requests, rows, p50, p99, no_bucket, no_variant)``, ordered by bucket then
    variant (the totals first); a percentile is the middle of the first histogram bin that reaches it.
    """
    hour = rollup.column("hour").to_numpy()
    keep = (hour >= low // HOUR) & (hour < -(-high // HOUR)) & _matches(rollup.column("deployment"), deployment)
    if not keep.any():
        return []
    chosen = rollup.filter(pa.array(keep))
    bucket = chosen.column("hour").to_numpy() * HOUR // width
    variant, variants = codes(chosen.column("variant"))
    shadow = _flags(chosen.column("is_shadow"))
    latency_bin = chosen.column("bin").to_numpy().astype(np.int64)
    first = int(bucket.min())
    shape = (int(bucket.max()) - first + 1, len(variants), 2, LATENCY_BINS)
    flat = np.ravel_multi_index((bucket - first, variant, shadow, latency_bin), shape)
    size = math.prod(shape)
    requests = np.bincount(flat, weights=chosen.column("requests").to_numpy(), minlength=size).reshape(shape)
    rows = np.bincount(flat, weights=chosen.column("rows").to_numpy(), minlength=size).reshape(shape)
    present = np.bincount(flat, minlength=size).reshape(shape) > 0
    names = variants.cast(pa.string()).to_pylist()
    found = []
    for no_bucket, no_variant in ((True, True), (True, False), (False, True), (False, False)):
        axes = tuple(axis for axis, total in ((0, no_bucket), (1, no_variant)) if total)
        served, logged, seen = (array.sum(axis=axes, keepdims=True) for array in (requests, rows, present))
        found += _figures(served, logged, seen > 0, no_bucket, no_variant, first, names)
    return sorted(found, key=lambda row: (row[7] == 0, row[0] or 0, row[8] == 0, row[1] or "", row[2]))


def _figures(
    requests: np.ndarray[Any, Any],
    rows: np.ndarray[Any, Any],
    present: np.ndarray[Any, Any],
    no_bucket: bool,
    no_variant: bool,
    first: int,
    names: list[str],
) -> list[tuple[Any, ...]]:
    """One row per (bucket, variant, shadow) cell with logged traffic: totals and percentiles of its histogram."""
    totals, logged = requests.sum(axis=3), rows.sum(axis=3)
    cumulative = np.cumsum(requests, axis=3)
    percentiles = []
    for share in (0.5, 0.99):
        reached = present & (cumulative >= share * totals[..., None])
        found = reached.any(axis=3)
        value = LATENCY_FLOOR * np.power(LATENCY_STEP, reached.argmax(axis=3) + 0.5)
        percentiles.append(np.where(found, value, np.nan))
    result = []
    for index in zip(*np.nonzero(present.any(axis=3)), strict=True):
        bucket, variant, shadow = (int(value) for value in index)
        p50, p99 = (float(values[index]) for values in percentiles)
        result.append(
            (
                None if no_bucket else first + bucket,
                None if no_variant else names[variant],
                bool(shadow),
                int(np.rint(totals[index])),
                int(np.rint(logged[index])),
                None if math.isnan(p50) else p50,
                None if math.isnan(p99) else p99,
                int(no_bucket),
                int(no_variant),
            )
        )
    return result


def _matches(column: pa.ChunkedArray, value: str) -> np.ndarray[Any, Any]:
    indices, dictionary = codes(column)
    found = dictionary.cast(pa.string()).to_pylist()
    return indices == found.index(value) if value in found else np.zeros(len(indices), dtype=bool)
