"""The run filter and ordering parser: the tree it builds and the errors that point at the bad token."""

from __future__ import annotations

import pytest

from fti.core.tracking import And, Comparison, Or, OrderKey
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
