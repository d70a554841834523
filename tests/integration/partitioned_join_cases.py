"""Generated spines and feature rows for the partitioned point-in-time join, and the single-node join."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
from hypothesis import strategies as st

from fti.features.asof_join import JoinedGroup, point_in_time_sql
from fti.features.partitioned_join import FeatureRows
from fti.features.sql import query_engine

BASE = datetime(2026, 1, 1, tzinfo=UTC)
_ROW = "_fti_spine_row"


def _times(seconds: list[int]) -> pa.Array:
    return pa.array([BASE + timedelta(seconds=value) for value in seconds], pa.timestamp("us", tz="UTC"))


@st.composite
def spines(draw: st.DrawFn) -> pa.Table:
    """Spine rows over few keys and times (so ties and repeated rows are common), some keys never in a group."""
    rows = draw(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 12)), max_size=40))
    return pa.table({"cc_num": pa.array([key for key, _ in rows], pa.int64()), "ts": _times([t for _, t in rows])})


@st.composite
def feature_rows(draw: st.DrawFn, name: str, ttl: bool) -> FeatureRows:
    """A group's rows, one per key and event time, some features missing (null), maybe with a ttl in whole seconds."""
    pairs = draw(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 12)), unique=True, max_size=30))
    values = draw(st.lists(st.none() | st.floats(-10, 10), min_size=len(pairs), max_size=len(pairs)))
    rows = pa.table(
        {
            "cc_num": pa.array([key for key, _ in pairs], pa.int64()),
            "event_ts": _times([t for _, t in pairs]),
            "amount": pa.array(values, pa.float64()),
        }
    )
    ttl_seconds = float(draw(st.integers(0, 6))) if ttl else None
    join = JoinedGroup("", (("cc_num", "cc_num"),), "event_ts", ttl_seconds, (("amount", f"{name}_amount"),))
    return FeatureRows(rows, join)


def single_node_join(spine: pa.Table, groups: list[FeatureRows]) -> pa.Table:
    """The join over the whole tables in one DuckDB query, in spine order."""
    numbered = spine.append_column(_ROW, pa.array(range(spine.num_rows), pa.int64()))
    connection = query_engine()
    try:
        connection.register("spine_rows", numbered)
        joins = []
        for index, group in enumerate(groups):
            connection.register(f"g{index}", group.rows)
            joins.append(
                JoinedGroup(
                    f"g{index}", group.join.on, group.join.event_time, group.join.ttl_seconds, group.join.features
                )
            )
        sql = point_in_time_sql("spine_rows", "ts", numbered.column_names, joins, [_ROW])
        return connection.sql(sql).to_arrow_table().drop_columns([_ROW])
    finally:
        connection.close()
