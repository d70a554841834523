"""Cron schedules (croniter, in a time zone) and which of their slots are due under a catch-up policy.

A slot is one time the schedule names. The scheduler keeps, per pipeline, the last slot it considered
(the cursor); the slots after it up to now are due, and the catch-up policy says which of them run:
``all`` (each, in order), ``latest`` (the newest only) or ``none`` (only a slot found on time, at most
:data:`ON_TIME` late; slots missed while no scheduler ran are skipped).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

from fti.core.pipelines import Catchup
from fti.errors import ValidationError

__all__ = ["MAX_CATCHUP", "ON_TIME", "due_slots", "next_slot", "parse_duration", "validate_schedule"]

#: a slot found later than this counts as missed (it runs only under catch-up ``latest`` or ``all``)
ON_TIME = timedelta(minutes=1)
#: catch-up ``all`` queues at most this many slots at once (the oldest first)
MAX_CATCHUP = 1000
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def validate_schedule(schedule: str, timezone: str, catchup: str) -> ZoneInfo:
    """Check a cron expression (5 fields, or 6 with seconds last), a time zone and a catch-up policy.

    Raises:
        ValidationError: one of them does not parse.
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"Time zone '{timezone}' is unknown: use an IANA name such as 'UTC' or 'Europe/Paris'."
        ) from None
    if len(schedule.split()) not in (5, 6):
        raise ValidationError(
            f"Cron expression '{schedule}' does not parse: expected 5 fields (minute hour day month weekday) "
            "or 6 (with seconds last)."
        )
    try:
        croniter(schedule)
    except (CroniterError, ValueError) as exc:
        raise ValidationError(f"Cron expression '{schedule}' does not parse: {str(exc).rstrip('.')}.") from None
    if catchup not in get_args(Catchup):
        raise ValidationError(f"Catch-up policy '{catchup}' is unknown: use one of none, latest, all.")
    return zone


def next_slot(schedule: str, timezone: str, after: datetime) -> datetime:
    """The schedule's first slot strictly after ``after`` (in the schedule's time zone)."""
    slot: datetime = croniter(schedule, after.astimezone(ZoneInfo(timezone))).get_next(datetime)
    return slot.astimezone(UTC)


def due_slots(
    schedule: str, timezone: str, catchup: Catchup, cursor: datetime, now: datetime
) -> tuple[list[datetime], datetime]:
    """The slots after ``cursor`` up to ``now`` that run under ``catchup``, and the new cursor.

    The new cursor is the newest slot considered (``cursor`` when none is due): every slot up to it was
    run or skipped. Under ``all`` at most :data:`MAX_CATCHUP` slots are returned, oldest first, and the
    cursor stops at the last of them.
    """
    zone = ZoneInfo(timezone)
    if catchup != "all":
        latest: datetime = croniter(schedule, now.astimezone(zone)).get_prev(datetime)
        following = next_slot(schedule, timezone, latest)
        if following <= now:  # ``now`` is exactly on a slot
            latest = following
        if latest <= cursor:
            return [], cursor
        latest = latest.astimezone(UTC)
        if catchup == "latest" or now - latest <= ON_TIME:
            return [latest], latest
        return [], latest
    slots: list[datetime] = []
    iterator = croniter(schedule, cursor.astimezone(zone))
    while len(slots) < MAX_CATCHUP:
        slot: datetime = iterator.get_next(datetime)
        if slot > now:
            break
        slots.append(slot.astimezone(UTC))
    return slots, (slots[-1] if slots else cursor)


def parse_duration(value: str | float | timedelta, what: str) -> timedelta:
    """``"30s"``, ``"5m"``, ``"2h"``, ``"1d"``, ``"250ms"``, seconds as a number, or a timedelta.

    Raises:
        ValidationError: the value is not a positive duration.
    """
    if isinstance(value, timedelta):
        duration = value
    elif isinstance(value, int | float):
        duration = timedelta(seconds=value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValidationError(
                f"{what} '{value}' is not a duration: write a number with a unit, e.g. '30s', '5m', '2h' or '1d'."
            )
        duration = timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    if duration <= timedelta(0):
        raise ValidationError(f"{what} must be positive, got {value!r}.")
    return duration
