"""One duration parser for windows, buckets, timeouts and retry delays."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fti.core.durations import parse_duration
from fti.errors import ValidationError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("250ms", timedelta(milliseconds=250)),
        ("30s", timedelta(seconds=30)),
        (" 1.5 h ", timedelta(minutes=90)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        (45, timedelta(seconds=45)),
        (timedelta(minutes=3), timedelta(minutes=3)),
    ],
)
def test_every_spelling_of_a_duration(value: str | float | timedelta, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1 hour", "The window '1 hour' is not a duration: write a number with a unit (ms, s, m, h, d, w)"),
        ("5", "The window '5' is not a duration"),
        (True, "The window True is not a duration"),
        ("0s", "The window '0s' must be longer than zero."),
        (timedelta(0), "must be longer than zero"),
    ],
)
def test_what_is_not_a_duration_is_named(value: object, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_duration(value, what="window")  # type: ignore[arg-type]
    assert message in str(raised.value)
