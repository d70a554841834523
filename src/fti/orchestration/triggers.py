"""What starts a pipeline: catalog events (``fti.on_*``, or their text ``kind:subject/detail``) and cron
schedules (croniter, in a time zone) with a catch-up policy for missed slots.

A slot is one time the schedule names. The scheduler keeps, per pipeline, the last slot it considered
(the cursor); the slots after it up to now are due, and the catch-up policy says which of them run:
``all`` (each, in order), ``latest`` (the newest only) or ``none`` (only a slot found on time, at most
:data:`ON_TIME` late; slots missed while no scheduler ran are skipped).

Example:
    >>> @fti.pipeline(schedule="0 6 * * *", triggers=[fti.on_commit("cards"), "alert:fraud/drift"])  # doctest: +SKIP
    ... def features(ctx): ...
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

from fti.core.pipelines import Catchup, Trigger, TriggerSource
from fti.errors import ValidationError

__all__ = [
    "ALERT_KINDS",
    "MAX_CATCHUP",
    "ON_TIME",
    "due_slots",
    "next_slot",
    "on_alert",
    "on_alias",
    "on_commit",
    "on_model_version",
    "on_pipeline_run",
    "parse_trigger",
    "validate_schedule",
]

#: what an alert is about, from its rule's type
ALERT_KINDS = ("drift", "quality", "performance")
_RUN_STATES = ("succeeded", "failed", "finished")
_SOURCES: tuple[str, ...] = get_args(TriggerSource)


def on_commit(feature_group: str) -> Trigger:
    """A new commit (insert) of the feature group ``feature_group`` (``*``: any)."""
    return _checked(Trigger("commit", feature_group))


def on_model_version(model: str) -> Trigger:
    """A new version of the registered model ``model`` (``*``: any)."""
    return _checked(Trigger("model_version", model))


def on_alias(model: str, alias: str) -> Trigger:
    """The alias ``alias`` of ``model`` moved to a version (``on_alias("fraud", "champion")``)."""
    return _checked(Trigger("alias", model, alias))


def on_alert(deployment: str, kind: str | None = None) -> Trigger:
    """A monitoring alert fired on ``deployment``: any, or of one ``kind`` (drift, quality, performance)."""
    return _checked(Trigger("alert", deployment, kind))


def on_pipeline_run(pipeline: str, state: str = "succeeded") -> Trigger:
    """A run of ``pipeline`` ended: ``succeeded`` (default), ``failed`` (after its last retry) or ``finished``."""
    return _checked(Trigger("pipeline_run", pipeline, state))


def parse_trigger(text: str) -> Trigger:
    """``kind:subject[/detail]``: ``commit:transactions``, ``model_version:fraud``, ``alias:fraud/champion``,
    ``alert:fraud``, ``alert:fraud/drift``, ``pipeline_run:features/failed``.

    Raises:
        ValidationError: the text does not parse or names an unknown kind or detail.
    """
    kind, colon, rest = text.partition(":")
    subject, _, detail = rest.partition("/")
    if not colon or not subject or kind not in _SOURCES:
        raise ValidationError(
            f"Trigger '{text}' does not parse: expected KIND:SUBJECT[/DETAIL] with KIND one of "
            f"{', '.join(_SOURCES)} (e.g. 'commit:transactions', 'alias:fraud/champion', 'alert:fraud/drift')."
        )
    return _checked(Trigger(kind, subject, detail or None))  # type: ignore[arg-type]


def _checked(trigger: Trigger) -> Trigger:
    subject, detail = trigger.subject, trigger.detail
    if not subject or any(character in subject for character in " /:"):
        raise ValidationError(f"Trigger '{trigger}': '{subject}' is not a name (no spaces, '/' or ':'; '*' for any).")
    if trigger.kind == "alias" and not detail:
        raise ValidationError(f"Trigger '{trigger}' needs the alias: 'alias:{subject}/champion'.")
    if trigger.kind == "alert" and detail is not None and detail not in ALERT_KINDS:
        raise ValidationError(f"Trigger '{trigger}': alert kind '{detail}' is not one of {', '.join(ALERT_KINDS)}.")
    if trigger.kind == "pipeline_run" and detail not in _RUN_STATES:
        raise ValidationError(
            f"Trigger '{trigger}': pipeline run state '{detail}' is not one of {', '.join(_RUN_STATES)}."
        )
    if trigger.kind in ("commit", "model_version") and detail is not None:
        raise ValidationError(f"Trigger '{trigger}': a {trigger.kind} trigger takes no '/{detail}'.")
    return trigger


#: a slot found later than this counts as missed (it runs only under catch-up ``latest`` or ``all``)
ON_TIME = timedelta(minutes=1)
#: catch-up ``all`` queues at most this many slots at once (the oldest first)
MAX_CATCHUP = 1000


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
