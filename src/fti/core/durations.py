"""Durations written as text, ``"30s"``, ``"15m"``, ``"1h"``, ``"7d"``, ``"2w"``: parsed once, at the edge."""

from __future__ import annotations

import re
from datetime import timedelta

from fti.errors import ValidationError

__all__ = ["format_duration", "parse_duration"]

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}  # weeks read, never written: "7d", not "1w"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str | timedelta, *, what: str = "window") -> timedelta:
    """``"30s"``, ``"15m"``, ``"1h"``, ``"7d"`` or ``"2w"`` as a timedelta.

    Raises:
        ValidationError: the text is not a number and a unit, or the duration is not positive.
    """
    if isinstance(text, timedelta):
        duration = text
    else:
        match = _DURATION.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValidationError(
                f"The {what} {text!r} is not a duration: write a number and a unit (s, m, h, d, w), e.g. '1h' or '7d'."
            )
        duration = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    if duration <= timedelta(0):
        raise ValidationError(f"The {what} {text!r} must be longer than zero.")
    return duration


def format_duration(duration: timedelta) -> str:
    """The shortest text :func:`parse_duration` reads back as ``duration`` in whole units: ``"1h"``, ``"90s"``."""
    seconds = duration.total_seconds()
    for unit, size in _SECONDS.items():
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
