"""The window state of a stream: every accepted event still inside some window, as numpy columns.

Keys and text values are stored as integer codes into dictionaries (Arrow arrays, looked up with
``pyarrow.compute.index_in``), numbers as numpy arrays with a validity mask. Events are appended in arrival
order; a micro-batch gathers only the events of the keys it touches that are within the longest window of its
earliest new event, sorts those by key and time, drops repeats of events already held, and evaluates the
aggregates (:func:`fti.streams.windows.evaluate`) at every gathered event at or after each key's earliest new
one. The state's size thus costs a mask per batch, not a query over it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.features.aggregations import output_schema
from fti.streams.windows import Column, WindowValues, evaluate

if TYPE_CHECKING:
    from fti.features.aggregations import AggregationSpec

__all__ = ["WindowState"]

_LATEST = np.iinfo(np.int64).max


class _Dictionary:
    """Distinct values (an Arrow array) and the code of each: its position.

    Lookups go through a Python dictionary of the values (floats by their bits, NaN and -0.0 made canonical
    first), probed in C by ``map``: a value is hashed once when it is added and once per lookup, whatever the
    batches' sizes. (A pandas index costs a fixed tenth of a millisecond a lookup and must be rebuilt to take new
    values: at the small micro-batches of a steady stream that cost more than the rest of the engine's step.)
    """

    def __init__(self, kind: pa.DataType) -> None:
        self.values: pa.Array = pa.array([], kind)
        self._codes: dict[object, int] = {}

    def encode(self, column: pa.Array) -> np.ndarray:
        column = _canonical(column)
        wanted = _hashable(column)
        codes = _probe(self._codes, wanted)
        is_new = codes < 0
        if is_new.any():
            fresh = pc.drop_null(pc.unique(column.filter(pa.array(is_new))))
            if len(fresh):
                known = len(self.values)
                self.values = pa.concat_arrays([self.values, fresh.cast(self.values.type)])
                self._codes.update(zip(_hashable(fresh), range(known, known + len(fresh)), strict=True))
                codes[is_new] = _probe(self._codes, list(itertools.compress(wanted, is_new.tolist())))
        return np.where(np.asarray(column.is_valid().to_numpy(zero_copy_only=False)), codes, -1)

    def ranks(self) -> np.ndarray:
        order = np.asarray(pc.sort_indices(self.values).to_numpy(), dtype=np.int64)
        ranks = np.empty(len(order), dtype=np.int64)
        ranks[order] = np.arange(len(order), dtype=np.int64)
        return ranks

    def compact(self, is_used: np.ndarray) -> np.ndarray:
        """Keep the values whose codes are marked used; return the old code -> new code map."""
        used = np.nonzero(is_used)[0]
        remap = np.full(len(self.values), -1, dtype=np.int64)
        remap[used] = np.arange(len(used), dtype=np.int64)
        self.values = self.values.take(pa.array(used, pa.int64()))
        self._codes = dict(zip(_hashable(self.values), range(len(self.values)), strict=True))
        return remap


class WindowState:
    """The events a stream still needs, folded in one micro-batch at a time."""

    def __init__(self, spec: AggregationSpec) -> None:
        self._spec = spec
        self._schema = output_schema(spec)
        self._longest = max(item.window_us for item in spec.aggregations)
        key_fields = [self._schema.field(column) for column in spec.key]
        self._key_schema = pa.schema(key_fields)
        self._keys = _Dictionary(pa.string() if len(key_fields) > 1 else key_fields[0].type)
        self._key_rows: pa.Table = self._key_schema.empty_table()
        self._kinds = spec.value_columns
        self._texts = {name: _Dictionary(pa.string()) for name, kind in self._kinds.items() if kind == "string"}
        self._codes = np.empty(0, dtype=np.int64)
        self._times = np.empty(0, dtype=np.int64)
        self._values = {name: np.empty(0, dtype=_numpy_kind(kind)) for name, kind in self._kinds.items()}
        self._valid = {name: np.empty(0, dtype=bool) for name in self._kinds}

    def __len__(self) -> int:
        return len(self._times)

    def fold(self, batch: pa.Table) -> tuple[pa.Table, int]:
        """Add ``batch``'s events (typed keys, ``__t``, ``__v_*``, in arrival order) that the state does not
        hold; return the rows they set or change and how many events were new."""
        codes = self._encode_keys(batch)
        times = np.asarray(batch.column("__t").to_numpy(), dtype=np.int64)
        values, valid = self._encode_values(batch)
        touched = self._earliest(codes, times)
        held = np.nonzero(self._times > touched[self._codes] - self._longest)[0]
        count = len(held) + len(times)
        all_codes = np.concatenate([self._codes[held], codes])
        all_times = np.concatenate([self._times[held], times])
        arrival = np.concatenate([np.full(len(held), -1, dtype=np.int64), np.arange(len(times), dtype=np.int64)])
        order = np.lexsort((arrival, all_times, all_codes))
        is_repeat = np.zeros(count, dtype=bool)
        is_repeat[1:] = (all_codes[order][1:] == all_codes[order][:-1]) & (
            all_times[order][1:] == all_times[order][:-1]
        )
        kept = order[~is_repeat]  # the state's copy, else the first to arrive
        fresh = kept[arrival[kept] >= 0]
        fresh_rows = arrival[fresh]
        self._append(codes[fresh_rows], times[fresh_rows], values, valid, fresh_rows)
        merged_codes, merged_times = all_codes[kept], all_times[kept]
        columns = {
            name: Column(
                np.concatenate([self._values[name][held], values[name]])[kept],
                np.concatenate([self._valid[name][held], valid[name]])[kept],
                self._texts[name].ranks() if name in self._texts else None,
            )
            for name in self._kinds
        }
        since = self._earliest(codes[fresh_rows], times[fresh_rows])
        at = np.nonzero(merged_times >= since[merged_codes])[0]
        if len(at) == 0:
            return self._schema.empty_table(), 0
        computed = evaluate(merged_codes, merged_times, columns, at, self._spec.aggregations)
        return self._rows(merged_codes[at], merged_times[at], computed), len(fresh_rows)

    def closed_steps(self, step: int, after: int, through: int) -> pa.Table:
        """With an emit step of ``step`` microseconds, the rows of the steps that end in ``(after, through]``
        (the watermark moved from ``after`` to ``through``, so no event can join them any more): for each key,
        the row of its last event in each such step, in key and event-time order."""
        ends = self._times - self._times % step + step  # numpy's % floors: right before the epoch too
        is_closing = (ends > after) & (ends <= through)
        if not is_closing.any():
            return self._schema.empty_table()
        earliest = self._earliest(self._codes[is_closing], self._times[is_closing])
        held = np.nonzero(self._times > earliest[self._codes] - self._longest)[0]
        order = held[np.lexsort((self._times[held], self._codes[held]))]
        codes, times = self._codes[order], self._times[order]
        starts = times - times % step
        is_last = np.ones(len(order), dtype=bool)
        is_last[:-1] = (codes[1:] != codes[:-1]) | (starts[1:] != starts[:-1])
        at = np.nonzero(is_last & is_closing[order])[0]
        columns = {
            name: Column(
                self._values[name][order],
                self._valid[name][order],
                self._texts[name].ranks() if name in self._texts else None,
            )
            for name in self._kinds
        }
        computed = evaluate(codes, times, columns, at, self._spec.aggregations)
        return self._rows(codes[at], times[at], computed)

    def load(self, table: pa.Table) -> None:
        """Take ``table``'s events (a :meth:`to_table`) into a new, empty state, as they are."""
        codes = self._encode_keys(table)
        values, valid = self._encode_values(table)
        times = np.asarray(table.column("__t").to_numpy(), dtype=np.int64)
        self._append(codes, times, values, valid, np.arange(len(times), dtype=np.int64))

    def evict(self, horizon: int) -> None:
        """Forget the events at or before ``horizon`` (microseconds), and the keys and texts only they used."""
        kept = self._times > horizon
        self._codes, self._times = self._codes[kept], self._times[kept]
        for name in self._kinds:
            self._values[name], self._valid[name] = self._values[name][kept], self._valid[name][kept]
        is_used = np.bincount(self._codes, minlength=len(self._keys.values)) > 0
        self._key_rows = self._key_rows.filter(pa.array(is_used))
        self._codes = self._keys.compact(is_used)[self._codes]
        for name, texts in self._texts.items():
            codes, valid = self._values[name], self._valid[name]
            is_used = np.bincount(codes[valid], minlength=len(texts.values)) > 0
            remap = np.append(texts.compact(is_used), -1)  # an invalid code (-1) stays -1
            self._values[name] = remap[codes]

    def to_table(self) -> pa.Table:
        """The events held: keys, ``__t`` and ``__v_*`` typed, for a checkpoint."""
        return self.frozen()()

    def frozen(self) -> Callable[[], pa.Table]:
        """The events held now, as a function that builds :meth:`to_table`'s table later, on any thread: the
        state replaces its arrays rather than changing them in place, so the ones captured here stay as is."""
        key_rows, codes, times = self._key_rows, self._codes, self._times
        values, valid = dict(self._values), dict(self._valid)
        texts = {name: dictionary.values for name, dictionary in self._texts.items()}
        key, kinds = self._spec.key, dict(self._kinds)

        def build() -> pa.Table:
            keys = key_rows.take(pa.array(codes, pa.int64()))
            columns = {name: keys.column(name) for name in key}
            columns["__t"] = pa.array(times, pa.int64())
            for name, kind in kinds.items():
                columns["__v_" + name] = _decode(texts.get(name), kind, values[name], valid[name])
            return pa.table(columns)

        return build

    def _encode_keys(self, batch: pa.Table) -> np.ndarray:
        columns = [batch.column(name).combine_chunks() for name in self._spec.key]
        if len(columns) == 1:
            joined = columns[0].cast(self._keys.values.type)
        else:  # length-prefixed parts: two different keys never join into the same text
            parts: list[pa.Array] = []
            for column in columns:
                text = column.cast(pa.string())
                parts += [pc.cast(pc.utf8_length(text), pa.string()), text]
            joined = pc.binary_join_element_wise(*parts, ":")
        known = len(self._keys.values)
        codes = self._keys.encode(joined)
        if len(self._keys.values) > known:
            first = np.unique(codes[codes >= known], return_index=True)[1]
            fresh = pa.table(columns, schema=self._key_schema).take(pa.array(np.nonzero(codes >= known)[0][first]))
            self._key_rows = pa.concat_tables([self._key_rows, fresh])
        return codes

    def _encode_values(self, batch: pa.Table) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        values: dict[str, np.ndarray] = {}
        valid: dict[str, np.ndarray] = {}
        for name, kind in self._kinds.items():
            column = batch.column("__v_" + name).combine_chunks()
            valid[name] = np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False), dtype=bool)
            if name in self._texts:
                values[name] = self._texts[name].encode(column)
            else:
                filled = pc.fill_null(column, False if kind == "bool" else 0)
                values[name] = np.asarray(filled.to_numpy(zero_copy_only=False)).astype(_numpy_kind(kind))
        return values, valid

    def _earliest(self, codes: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Per key code, the earliest of ``times`` (the largest integer for keys absent from ``codes``)."""
        earliest = np.full(len(self._keys.values), _LATEST, dtype=np.int64)
        np.minimum.at(earliest, codes, times)
        return earliest

    def _append(
        self,
        codes: np.ndarray,
        times: np.ndarray,
        values: dict[str, np.ndarray],
        valid: dict[str, np.ndarray],
        rows: np.ndarray,
    ) -> None:
        self._codes = np.concatenate([self._codes, codes])
        self._times = np.concatenate([self._times, times])
        for name in self._kinds:
            self._values[name] = np.concatenate([self._values[name], values[name][rows]])
            self._valid[name] = np.concatenate([self._valid[name], valid[name][rows]])

    def _rows(self, codes: np.ndarray, times: np.ndarray, computed: dict[str, WindowValues]) -> pa.Table:
        keys = self._key_rows.take(pa.array(codes, pa.int64()))
        arrays: list[pa.Array | pa.ChunkedArray] = [keys.column(name) for name in self._spec.key]
        arrays.append(pa.array(times, pa.int64()).cast(pa.timestamp("us", tz="UTC")))
        for item in self._spec.aggregations:
            found = computed[item.name]
            if item.column is not None and item.function in ("max", "min", "last"):
                texts = self._texts[item.column].values if item.column in self._texts else None
                arrays.append(_decode(texts, item.value_type, found.values, found.valid))
            else:
                arrays.append(pa.array(found.values, mask=~found.valid).cast(self._schema.field(item.name).type))
        return pa.Table.from_arrays(arrays, schema=self._schema)


def _canonical(values: pa.Array) -> pa.Array:
    """Floats with every NaN the same NaN and -0.0 as 0.0 (equal values, equal bits); other types as they are."""
    if not pa.types.is_floating(values.type):
        return values
    return pc.if_else(
        pc.is_nan(values), pa.scalar(float("nan"), values.type), pc.add(values, pa.scalar(0.0, values.type))
    )


def _hashable(values: pa.Array) -> list[object]:
    """Each value as a Python object to look up (None for null; a float as its bits)."""
    if pa.types.is_floating(values.type):
        bits = pa.int64() if values.type.bit_width == 64 else pa.int32()
        values = values.view(bits)
    found: list[object] = values.to_pylist()
    return found


def _probe(codes: dict[object, int], wanted: list[object]) -> np.ndarray:
    """The code of each of ``wanted`` (-1: none), looked up in C."""
    return np.fromiter(map(codes.get, wanted, itertools.repeat(-1)), dtype=np.int64, count=len(wanted))


def _decode(texts: pa.Array | None, kind: str, values: np.ndarray, valid: np.ndarray) -> pa.Array:
    """Numpy values (codes into ``texts`` for text) as an Arrow array of the value type."""
    if texts is not None:
        return texts.take(pa.array(np.where(valid, values, 0), mask=~valid))
    return pa.array(values.astype(bool) if kind == "bool" else values, mask=~valid)


def _numpy_kind(kind: str) -> type[np.generic]:
    return {"float64": np.float64, "int64": np.int64, "bool": np.int64, "string": np.int64}[kind]
