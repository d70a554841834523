"""Parse run filters and orderings into the query tree of :mod:`fti.core.tracking`.

Grammar (keywords are case-insensitive)::

    filter     := disjunction
    disjunction:= conjunction ("or" conjunction)*
    conjunction:= term ("and" term)*
    term       := "(" disjunction ")" | field op value | field "in" "(" value ("," value)* ")"
    field      := ("metrics" | "params" | "tags" | "attributes") "." key | attribute
    key        := name ("." name)* | `any text`
    op         := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=" | "like"
    value      := number | 'text' | "text"

Example: ``metrics.f1 > 0.8 and (params.model = 'xgb' or tags.team = "fraud")``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from fti.core.tracking import RUN_ATTRIBUTES, And, Comparison, FilterNode, Or, OrderKey, RunStatus, ValueKind
from fti.errors import ValidationError

__all__ = ["parse_filter", "parse_order_by"]

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
    | (?P<quoted>`[^`]+`)
    | (?P<name>[A-Za-z_][A-Za-z0-9_\-]*)
    | (?P<op><=|>=|!=|<>|==|=|<|>)
    | (?P<dot>\.)
    | (?P<open>\()
    | (?P<close>\))
    | (?P<comma>,)
    """,
    re.VERBOSE,
)
_PREFIXES: dict[str, ValueKind] = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "run": "attribute",
}
_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_EXAMPLE = "for example: metrics.f1 > 0.8 and params.model = 'xgb'"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    position: int


_FILTER = "run filter"
_ORDERING = "run ordering (order_by, --order-by/-o)"


class _Parser:
    def __init__(self, text: str, what: str = _FILTER) -> None:
        self.text = text
        self.what = what
        self.tokens = _tokenize(text, what)
        self.index = 0

    # -- token access ------------------------------------------------------------------------------

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def is_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "name" and token.text.lower() == word

    def fail(self, token: _Token, expected: str) -> ValidationError:
        end = "end of filter" if self.what == _FILTER else "end of ordering"
        return _error(self.text, token.position, token.text or end, expected, self.what)

    # -- grammar -----------------------------------------------------------------------------------

    def disjunction(self) -> FilterNode:
        operands = [self.conjunction()]
        while self.is_keyword("or"):
            self.take()
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def conjunction(self) -> FilterNode:
        operands = [self.term()]
        while self.is_keyword("and"):
            self.take()
            operands.append(self.term())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def term(self) -> FilterNode:
        if self.peek().kind == "open":
            self.take()
            node = self.disjunction()
            closing = self.take()
            if closing.kind != "close":
                raise self.fail(closing, "')' to close the parenthesis")
            return node
        kind, key, start = self.field()
        op_token = self.take()
        if op_token.kind == "op":
            op = _OPS[op_token.text]
            value_token = self.peek()
            value: float | str | tuple[float | str, ...] = self.value()
        elif op_token.kind == "name" and op_token.text.lower() in ("like", "in"):
            op = op_token.text.lower()
            value_token = self.peek()
            value = self.value() if op == "like" else self.values()
        else:
            raise self.fail(op_token, "a comparison (=, !=, <, <=, >, >=, like, in)")
        return _check(self.text, Comparison(kind=kind, key=key, op=cast("_Op", op), value=value), start, value_token)

    def field(self) -> tuple[ValueKind, str, _Token]:
        start = self.take()
        if start.kind != "name":
            raise self.fail(start, f"a field such as metrics.f1, params.model, tags.team or status ({_EXAMPLE})")
        prefix = start.text.lower()
        if self.peek().kind != "dot":
            if prefix in RUN_ATTRIBUTES:
                return "attribute", prefix, start
            raise self.fail(
                start,
                f"a field: metrics.<key>, params.<key>, tags.<key> or a run attribute ({', '.join(RUN_ATTRIBUTES)})",
            )
        if prefix not in _PREFIXES:
            raise self.fail(start, "'metrics', 'params', 'tags' or 'attributes' before the dot")
        self.take()
        parts = [self.key_part()]
        while self.peek().kind == "dot":
            self.take()
            parts.append(self.key_part())
        kind = _PREFIXES[prefix]
        key = ".".join(parts)
        if kind == "attribute" and key not in RUN_ATTRIBUTES:
            raise _error(
                self.text, start.position, start.text, f"a run attribute: {', '.join(RUN_ATTRIBUTES)}", self.what
            )
        return kind, key, start

    def key_part(self) -> str:
        token = self.take()
        if token.kind == "quoted":
            return token.text[1:-1]
        if token.kind in ("name", "number"):
            return token.text
        raise self.fail(token, "a key after the dot (use backticks for keys with other characters: metrics.`val/f1`)")

    def value(self) -> float | str:
        token = self.take()
        if token.kind == "number":
            return float(token.text)
        if token.kind == "string":
            quote = token.text[0]
            return token.text[1:-1].replace(quote * 2, quote)
        raise self.fail(token, "a value: a number or a quoted string such as 'xgb'")

    def values(self) -> tuple[float | str, ...]:
        opening = self.take()
        if opening.kind != "open":
            raise self.fail(opening, "'(' to start the list of values after 'in'")
        items = [self.value()]
        while self.peek().kind == "comma":
            self.take()
            items.append(self.value())
        closing = self.take()
        if closing.kind != "close":
            raise self.fail(closing, "',' or ')' in the list of values")
        return tuple(items)


_Op = Literal["=", "!=", "<", "<=", ">", ">=", "like", "in"]


def parse_filter(text: str | None) -> FilterNode | None:
    """Parse a run filter; ValidationError pointing at the first bad token.

    Example:
        >>> parse_filter("metrics.f1 > 0.8")
        Comparison(kind='metric', key='f1', op='>', value=0.8)
    """
    if text is None or not text.strip():
        return None
    parser = _Parser(text)
    node = parser.disjunction()
    trailing = parser.peek()
    if trailing.kind != "end":
        raise parser.fail(trailing, "'and', 'or' or the end of the filter")
    return node


def parse_order_by(terms: list[str] | tuple[str, ...] | str | None) -> tuple[OrderKey, ...]:
    """Parse ordering terms: ``"-metrics.f1"``, ``"metrics.f1 desc"``, ``"start_time asc"``."""
    if terms is None:
        return ()
    if isinstance(terms, str):
        terms = [terms]
    keys = []
    for term in terms:
        text = term.strip()
        is_descending = text.startswith("-")
        body = text.lstrip("-+").strip()
        words = body.rsplit(None, 1)
        if len(words) == 2 and words[1].lower() in ("asc", "desc"):
            is_descending = words[1].lower() == "desc"
            body = words[0]
        parser = _Parser(body, _ORDERING)
        kind, key, _ = parser.field()
        if parser.peek().kind != "end":
            trailing = parser.peek()
            raise _error(
                term,
                text.find(trailing.text),
                trailing.text,
                "the end of the ordering term ('asc' or 'desc')",
                _ORDERING,
            )
        keys.append(OrderKey(kind=kind, key=key, is_descending=is_descending))
    return tuple(keys)


def _tokenize(text: str, what: str = _FILTER) -> list[_Token]:
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _error(
                text, position, text[position], "a field, a comparison, a value, 'and', 'or' or parentheses", what
            )
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _check(text: str, node: Comparison, field: _Token, value_token: _Token) -> Comparison:
    values = node.value if isinstance(node.value, tuple) else (node.value,)
    if node.kind == "metric":
        if node.op == "like":
            raise _error(
                text, field.position, field.text, "a numeric comparison: metrics cannot be matched with 'like'"
            )
        if any(isinstance(item, str) for item in values):
            raise _error(text, value_token.position, value_token.text, f"a number to compare metric '{node.key}' with")
    if node.kind == "attribute" and node.key == "status":
        allowed = [status.value for status in RunStatus]
        for item in values:
            if item not in allowed and node.op != "like":
                raise _error(text, value_token.position, value_token.text, f"a run status: {', '.join(allowed)}")
    if node.kind == "attribute" and node.key in ("start_time", "end_time"):
        for item in values:
            try:
                datetime.fromisoformat(str(item))
            except ValueError:
                raise _error(
                    text, value_token.position, value_token.text, "an ISO time such as '2026-01-31T12:00:00+00:00'"
                ) from None
    return node


def _error(text: str, position: int, token: str, expected: str, what: str = _FILTER) -> ValidationError:
    pointer = " " * position + "^"
    return ValidationError(
        f"Invalid {what} at position {position}, near {token!r}: expected {expected}.\n  {text}\n  {pointer}"
    )
