"""The point-in-time join's SQL: a chain of ASOF LEFT JOINs onto a spine, one per joined group.

For each spine row (key, t) and each joined group, the ASOF join picks the group's row with the same key
and the greatest event time <= t; a ttl then blanks a match older than t - ttl. The groups' rows must be
de-duplicated (one row per key and event time), so the match is unique and the result has exactly one row
per spine row. The single-node reader (:mod:`fti.features.point_in_time`) and the partitioned join's tasks
(:mod:`fti.features.partitioned_join`) run the same SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from fti.features.sql import quote

__all__ = ["JoinedGroup", "point_in_time_sql"]


@dataclass(frozen=True, slots=True)
class JoinedGroup:
    """One group to join: its rows (SQL), key pairs (spine column, group column), time, ttl and features."""

    source: str
    on: tuple[tuple[str, str], ...]
    event_time: str
    ttl_seconds: float | None
    features: tuple[tuple[str, str], ...]  # (group column, result name)


def point_in_time_sql(
    spine: str, spine_time: str, spine_columns: list[str], joins: list[JoinedGroup], order_by: list[str]
) -> str:
    """SELECT the spine's columns and each group's features, one row per spine row, ordered by ``order_by``
    (in no particular order when it is empty)."""
    selected = [f"s.{quote(name)}" for name in spine_columns]
    clauses = []
    for i, join in enumerate(joins):
        alias = f"j{i}"
        inner = ", ".join(
            [
                *(quote(column) for _, column in join.on),
                f"{quote(join.event_time)} AS _fti_time",
                *(quote(column) for column, _ in join.features),
            ]
        )
        condition = " AND ".join(f"s.{quote(left)} = {alias}.{quote(right)}" for left, right in join.on)
        clauses.append(
            f"ASOF LEFT JOIN (SELECT {inner} FROM {join.source}) AS {alias} "
            f"ON {condition} AND s.{quote(spine_time)} >= {alias}._fti_time"
        )
        for column, name in join.features:
            value = f"{alias}.{quote(column)}"
            if join.ttl_seconds is not None:
                micros = round(join.ttl_seconds * 1_000_000)
                value = (
                    f"CASE WHEN {alias}._fti_time >= s.{quote(spine_time)} - to_microseconds({micros}) THEN {value} END"
                )
            selected.append(f"{value} AS {quote(name)}")
    order = f" ORDER BY {', '.join(f's.{quote(name)}' for name in order_by)}" if order_by else ""
    return f"SELECT {', '.join(selected)} FROM {spine} AS s {' '.join(clauses)}{order}"
