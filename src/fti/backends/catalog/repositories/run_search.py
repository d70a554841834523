"""Run search: our filter tree and ordering (``fti.core.tracking``) as one SQL query over runs.

A comparison on a metric, param or tag is an ``EXISTS`` over that table (params compare as numbers when the
value is one); an attribute compares the run's column. Orderings sort missing values last.

A page ordered first by a metric, param or tag is asked in two parts (:func:`split_by_value`): the runs having
the value, joined to it so the database walks the ``(key, value, run_id)`` index in order and stops at the
page's end, then, when the page reaches past them, the runs lacking it. One query sorting every run by a
correlated subquery reads the whole experiment for each page instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fti.backends.catalog.schema import experiments, run_latest_metrics, run_params, run_tags, runs
from fti.core.tracking import And, Comparison, FilterNode, Or, OrderKey, RunSearch

__all__ = ["narrowed", "searched", "split_by_value"]

_ATTRIBUTES: dict[str, sa.ColumnElement[Any]] = {
    "run_id": runs.c.id,
    "name": runs.c.name,
    "status": runs.c.status,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "parent_run_id": runs.c.parent_run_id,
    "experiment": experiments.c.name,
}
_TIME_ATTRIBUTES = {"start_time", "end_time"}


def narrowed(query: sa.Select[Any], search: RunSearch) -> sa.Select[Any]:
    """``query`` (over runs joined with experiments) kept to the search's experiments, run ids and filter."""
    if search.experiments:
        query = query.where(experiments.c.name.in_(list(search.experiments)))
    if search.run_ids:
        query = query.where(runs.c.id.in_(list(search.run_ids)))
    if search.filter is not None:
        query = query.where(_condition(search.filter))
    return query


def searched(query: sa.Select[Any], search: RunSearch) -> sa.Select[Any]:
    """``query`` (over runs joined with experiments) narrowed, ordered and paged as ``search`` says."""
    query = narrowed(query, search)
    order = [_order(key) for key in search.order_by]
    query = query.order_by(*order, runs.c.start_time.desc(), runs.c.id)
    if search.limit is not None:
        query = query.limit(search.limit)
    if search.offset:
        query = query.offset(search.offset)
    return query


def split_by_value(query: sa.Select[Any], search: RunSearch) -> tuple[sa.Select[Any], sa.Select[Any]] | None:
    """For a search ordered first by a metric, param or tag: (runs having it, runs lacking it), each narrowed
    and in the search's order, neither paged; None for any other search.

    Missing values sort last, so the search's results are the first part followed by the second.
    """
    if not search.order_by or search.order_by[0].kind == "attribute":
        return None
    first, rest = search.order_by[0], [_order(key) for key in search.order_by[1:]]
    table, column = _ordered_column(first)
    # joined under an alias: a filter's EXISTS over the same table must not correlate to the joined rows
    ordered = table.alias("ordered_by")
    column = ordered.c[column.name]
    present = sa.and_(ordered.c.run_id == runs.c.id, ordered.c.key == first.key, column.isnot(None))
    having = narrowed(query.join(ordered, present), search).order_by(
        column.desc() if first.is_descending else column.asc(), *rest, runs.c.start_time.desc(), runs.c.id
    )
    lacking = narrowed(query, search).where(~sa.exists(sa.select(sa.literal(1)).where(present)))
    return having, lacking.order_by(*rest, runs.c.start_time.desc(), runs.c.id)


def _condition(node: FilterNode) -> sa.ColumnElement[bool]:
    if isinstance(node, And):
        return sa.and_(*(_condition(item) for item in node.operands))
    if isinstance(node, Or):
        return sa.or_(*(_condition(item) for item in node.operands))
    return _comparison(node)


def _comparison(node: Comparison) -> sa.ColumnElement[bool]:
    if node.kind == "attribute":
        value: Any = node.value
        if node.key in _TIME_ATTRIBUTES:
            value = tuple(map(_as_time, value)) if isinstance(value, tuple) else _as_time(value)
        return _compare(_ATTRIBUTES[node.key], node.op, value)
    value = node.value
    if node.kind == "metric":
        table, column = run_latest_metrics, run_latest_metrics.c.value
    elif node.kind == "param" and node.op != "like" and all(isinstance(item, float) for item in _items(value)):
        table, column = run_params, run_params.c.value_number
    else:
        table = run_params if node.kind == "param" else run_tags
        column = table.c.value
        value = tuple(_text(item) for item in value) if isinstance(value, tuple) else _text(value)
    return sa.exists(
        sa.select(sa.literal(1)).where(
            table.c.run_id == runs.c.id, table.c.key == node.key, _compare(column, node.op, value)
        )
    )


def _compare(column: sa.ColumnElement[Any], op: str, value: Any) -> sa.ColumnElement[bool]:
    if op == "like":
        return column.like(value)
    if op == "in":
        return column.in_(list(value))
    operations: dict[str, sa.ColumnElement[bool]] = {
        "=": column == value,
        "!=": column != value,
        "<": column < value,
        "<=": column <= value,
        ">": column > value,
        ">=": column >= value,
    }
    return operations[op]


def _order(key: OrderKey) -> sa.ColumnElement[Any]:
    expression: sa.ColumnElement[Any]
    if key.kind == "attribute":
        expression = _ATTRIBUTES[key.key]
    else:
        table, column = _ordered_column(key)
        expression = sa.select(column).where(table.c.run_id == runs.c.id, table.c.key == key.key).scalar_subquery()
    ordered: sa.ColumnElement[Any] = sa.nulls_last(expression.desc() if key.is_descending else expression.asc())
    return ordered


def _ordered_column(key: OrderKey) -> tuple[sa.Table, sa.ColumnElement[Any]]:
    table = {"metric": run_latest_metrics, "param": run_params, "tag": run_tags}[key.kind]
    return table, table.c["value_number" if key.kind == "param" else "value"]


def _items(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def _text(value: float | str) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _as_time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))
