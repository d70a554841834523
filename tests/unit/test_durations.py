"""One duration parser for windows, buckets, timeouts and retry delays."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fti.core.durations import format_duration, parse_duration
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
        ("1 hour", "The window '1 hour' is not a duration: write a number with a unit (us, ms, s, m, h, d, w)"),
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


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(hours=1), "1h"),
        (timedelta(seconds=90), "90s"),
        (timedelta(days=7), "7d"),
        (timedelta(milliseconds=1500), "1500ms"),
        (timedelta(microseconds=500), "500us"),
        (timedelta(seconds=1, microseconds=1), "1000001us"),
    ],
)
def test_a_duration_is_written_as_a_whole_number_of_one_unit(duration: timedelta, text: str) -> None:
    """Written durations are parts of names (``count_1500ms``): digits and letters only, and read back exactly."""
    assert format_duration(duration) == text
    assert parse_duration(text) == duration


def test_an_aggregation_over_a_window_of_fractional_seconds_gets_a_valid_name() -> None:
    import fti

    assert fti.agg.count(window="1500ms").name == "count_1500ms"
    assert fti.agg.sum("amount", window=timedelta(microseconds=500)).name == "amount_sum_500us"
