"""The run filter and ordering parser: the tree it builds and the errors that point at the bad token."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fti.core.tracking import And, Comparison, FilterNode, Or, OrderKey
from fti.errors import ValidationError
from fti.tracking.search import parse_filter, parse_order_by


def test_parses_and_of_metric_and_param() -> None:
    assert parse_filter("metrics.f1 > 0.8 and params.model = 'xgb'") == And(
        (Comparison("metric", "f1", ">", 0.8), Comparison("param", "model", "=", "xgb"))
    )


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    assert parse_filter("metrics.a < 1 or metrics.b >= 2 and tags.t != 'x'") == Or(
        (
            Comparison("metric", "a", "<", 1.0),
            And((Comparison("metric", "b", ">=", 2.0), Comparison("tag", "t", "!=", "x"))),
        )
    )
    assert parse_filter("(metrics.a < 1 or metrics.b = 2) AND status = 'finished'") == And(
        (
            Or((Comparison("metric", "a", "<", 1.0), Comparison("metric", "b", "=", 2.0))),
            Comparison("attribute", "status", "=", "finished"),
        )
    )


def test_in_like_backticks_and_doubled_quotes() -> None:
    assert parse_filter("params.model in ('xgb', \"lgbm\")") == Comparison("param", "model", "in", ("xgb", "lgbm"))
    assert parse_filter("tags.owner LIKE 'an%'") == Comparison("tag", "owner", "like", "an%")
    assert parse_filter("metrics.`val/f1` >= 1e-3") == Comparison("metric", "val/f1", ">=", 0.001)
    assert parse_filter("params.note = 'it''s'") == Comparison("param", "note", "=", "it's")
    assert parse_filter("metrics.train.loss <> 2") == Comparison("metric", "train.loss", "!=", 2.0)


def test_empty_filter_is_none() -> None:
    assert parse_filter(None) is None
    assert parse_filter("   ") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "metrics.f1 >> 0.8",
            "Invalid run filter at position 12, near '>': expected a value: a number or a quoted string such as 'xgb'.",
        ),
        ("metrics.f1 > 0.8 and", "Invalid run filter at position 20, near 'end of filter': expected a field"),
        ("metric.f1 > 0.8 params.x = 1", "Invalid run filter at position 16, near 'params': expected 'and', 'or'"),
        ("foo.f1 > 1", "Invalid run filter at position 0, near 'foo': expected 'metrics', 'params', 'tags' or"),
        ("metrics.f1 = 'high'", "Invalid run filter at position 13, near \"'high'\": expected a number to compare"),
        ("metrics.f1 > 1 ; drop", "Invalid run filter at position 15, near ';': expected a field, a comparison"),
        ("(metrics.f1 > 1", "Invalid run filter at position 15, near 'end of filter': expected ')'"),
        ("status = 'done'", "expected a run status: running, finished, failed"),
        ("start_time > 'yesterday'", "expected an ISO time"),
        ("params.x in 'a'", "expected '(' to start the list of values after 'in'"),
    ],
)
def test_malformed_filter_points_at_the_bad_token(text: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_filter(text)
    assert message in str(caught.value)
    assert text in str(caught.value)


def test_error_draws_a_caret_under_the_token() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_filter("metrics.f1 >> 0.8")
    lines = str(caught.value).splitlines()
    assert lines[1] == "  metrics.f1 >> 0.8"
    assert lines[2] == "  " + " " * 12 + "^"


def test_order_by_terms() -> None:
    assert parse_order_by(["-metrics.f1", "params.depth asc", "start_time DESC"]) == (
        OrderKey("metric", "f1", is_descending=True),
        OrderKey("param", "depth", is_descending=False),
        OrderKey("attribute", "start_time", is_descending=True),
    )
    assert parse_order_by("metrics.loss") == (OrderKey("metric", "loss"),)


def test_bad_order_by_names_the_term() -> None:
    with pytest.raises(ValidationError, match="near 'size': expected a field"):
        parse_order_by(["size"])


_KEYS = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda key: key not in ("and", "or", "like", "in")
)
_NUMBERS = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda value: round(value, 3))
_TEXTS = st.text(alphabet="abc' %_", max_size=6)


@st.composite
def _comparisons(draw: st.DrawFn) -> Comparison:
    kind = draw(st.sampled_from(["metric", "param", "tag"]))
    value: float | str = draw(_NUMBERS) if kind == "metric" else draw(st.one_of(_NUMBERS, _TEXTS))
    ops = ["=", "!=", "<", "<=", ">", ">="] + ([] if kind == "metric" or not isinstance(value, str) else ["like"])
    return Comparison(kind, draw(_KEYS), draw(st.sampled_from(ops)), value)


def _trees() -> st.SearchStrategy[FilterNode]:
    return st.recursive(
        _comparisons(),
        lambda children: st.one_of(
            st.lists(children, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
            st.lists(children, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
        ),
        max_leaves=6,
    )


def _render(node: FilterNode) -> str:
    if isinstance(node, And | Or):
        word = " and " if isinstance(node, And) else " or "
        return "(" + word.join(_render(item) for item in node.operands) + ")"
    prefix = {"metric": "metrics", "param": "params", "tag": "tags"}[node.kind]
    value = node.value
    literal = repr(value) if isinstance(value, float) else "'" + str(value).replace("'", "''") + "'"
    return f"{prefix}.{node.key} {node.op} {literal}"


def _flatten(node: FilterNode) -> FilterNode:
    """Nested ands (or ors) of the same kind mean the same as one flat one."""
    if isinstance(node, Comparison):
        return node
    kind = type(node)
    items: list[FilterNode] = []
    for item in (_flatten(child) for child in node.operands):
        items.extend(item.operands if isinstance(item, kind) else (item,))
    return kind(tuple(items))


@settings(max_examples=100, deadline=None)
@given(_trees())
def test_rendered_filters_parse_back_to_the_same_tree(tree: FilterNode) -> None:
    parsed = parse_filter(_render(tree))
    assert parsed is not None
    assert _flatten(parsed) == _flatten(tree)
