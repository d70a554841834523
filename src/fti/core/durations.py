"""Durations as users write them: ``"500us"``, ``"250ms"``, ``"30s"``, ``"15m"``, ``"1h"``, ``"7d"``, ``"2w"``.

One parser for every option that takes a length of time (monitoring windows and buckets, pipeline timeouts
and retry delays, aggregation windows), so they all accept the same spellings and fail with the same message.
"""

from __future__ import annotations

import re
from datetime import timedelta

from fti.errors import ValidationError

__all__ = ["format_duration", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|m|h|d|w)\s*$")
_SECONDS = {"us": 0.000001, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
#: the units durations are written in, largest first, in microseconds (a timedelta's resolution)
_WRITTEN = (("d", 86_400_000_000), ("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000), ("ms", 1_000), ("us", 1))


def parse_duration(value: str | float | timedelta, *, what: str = "duration") -> timedelta:
    """A positive length of time: a string with a unit, a number of seconds, or a timedelta.

    Args:
        value: ``"500us"``, ``"250ms"``, ``"30s"``, ``"15m"``, ``"1h"``, ``"7d"``, ``"2w"``, seconds as a number,
            or a timedelta.
        what: what the value is, for the error message (``"window"``, ``"timeout"``).

    Raises:
        ValidationError: the value is not a duration, or not longer than zero.

    Example:
        >>> parse_duration("90m")
        datetime.timedelta(seconds=5400)
    """
    if isinstance(value, timedelta):
        duration = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        duration = timedelta(seconds=value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValidationError(
                f"The {what} {value!r} is not a duration: write a number with a unit (us, ms, s, m, h, d, w), "
                "e.g. '30s', '1h' or '7d'."
            )
        duration = timedelta(seconds=float(match.group(1)) * _SECONDS[match.group(2)])
    if duration <= timedelta(0):
        raise ValidationError(f"The {what} {value!r} must be longer than zero.")
    return duration


def format_duration(duration: timedelta) -> str:
    """The shortest text :func:`parse_duration` reads back as ``duration``, a whole number of the largest unit
    that divides it: ``"1h"``, ``"90s"``, ``"1500ms"``, ``"500us"``. Only digits and letters, so it can be part
    of a name.

    Weeks are read, never written: ``"7d"``, not ``"1w"``.
    """
    micros = duration // timedelta(microseconds=1)
    for unit, size in _WRITTEN:
        if micros >= size and micros % size == 0:
            return f"{micros // size}{unit}"
    return f"{micros}us"
