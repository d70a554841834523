"""Schedule slots under each catch-up policy, in time zones across daylight-saving changes; trigger matching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fti.core.durations import parse_duration
from fti.core.events import Event, alert_event
from fti.core.pipelines import Trigger
from fti.orchestration.triggers import (
    due_slots,
    next_slot,
    on_alert,
    on_alias,
    on_pipeline_run,
    parse_trigger,
)

T0 = datetime(2026, 1, 1, 10, 0, 30, tzinfo=UTC)


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, 1, hour, minute, tzinfo=UTC)


def test_nothing_is_due_before_the_next_slot() -> None:
    for policy in ("none", "latest", "all"):
        assert due_slots("0 * * * *", "UTC", policy, T0, _at(10, 59)) == ([], T0)


def test_a_slot_found_on_time_runs_under_every_policy() -> None:
    now = _at(11) + timedelta(seconds=20)
    for policy in ("none", "latest", "all"):
        assert due_slots("0 * * * *", "UTC", policy, T0, now) == ([_at(11)], _at(11))


def test_missed_slots_by_policy() -> None:
    now = _at(13, 30)
    assert due_slots("0 * * * *", "UTC", "none", T0, now) == ([], _at(13))
    assert due_slots("0 * * * *", "UTC", "latest", T0, now) == ([_at(13)], _at(13))
    assert due_slots("0 * * * *", "UTC", "all", T0, now) == ([_at(11), _at(12), _at(13)], _at(13))


def test_catch_up_all_is_bounded() -> None:
    slots, cursor = due_slots("* * * * * *", "UTC", "all", T0, T0 + timedelta(days=1))
    assert len(slots) == 1000 and cursor == slots[-1]


def test_a_local_schedule_across_the_spring_change() -> None:
    # 02:30 does not exist in Paris on 2026-03-29: the day's slot is the next existing time
    before = datetime(2026, 3, 28, 12, tzinfo=UTC)
    first = next_slot("30 9 * * *", "Europe/Paris", before)
    assert first == datetime(2026, 3, 29, 7, 30, tzinfo=UTC)  # 09:30 CEST
    assert next_slot("30 9 * * *", "Europe/Paris", datetime(2026, 3, 27, 12, tzinfo=UTC)) == datetime(
        2026, 3, 28, 8, 30, tzinfo=UTC
    )


def test_durations() -> None:
    assert parse_duration("30m", what="timeout") == timedelta(minutes=30)
    assert parse_duration("250ms", what="timeout") == timedelta(milliseconds=250)
    assert parse_duration(2, what="timeout") == timedelta(seconds=2)


def _event(kind: str, subject: str, **detail: object) -> Event:
    return Event(kind, subject, detail, T0)  # type: ignore[arg-type]


def test_triggers_match_their_events() -> None:
    assert parse_trigger("commit:raw").matches(_event("commit", "raw", commit=1))
    assert not parse_trigger("commit:raw").matches(_event("commit", "cards", commit=1))
    assert parse_trigger("commit:*").matches(_event("commit", "cards", commit=1))
    champion = on_alias("fraud", "champion")
    assert champion.matches(_event("alias", "fraud", alias="champion", to_version=2))
    assert not champion.matches(_event("alias", "fraud", alias="champion", to_version=None))
    assert not champion.matches(_event("alias", "fraud", alias="challenger", to_version=2))
    drift = alert_event("fraud", {"rule": "feature_drift", "message": "amount drifted"})
    assert on_alert("fraud", "drift").matches(drift) and on_alert("fraud").matches(drift)
    assert not on_alert("fraud", "quality").matches(drift)
    failed = _event("pipeline_run", "features", state="failed")
    assert on_pipeline_run("features", "failed").matches(failed)
    assert on_pipeline_run("features", "finished").matches(failed)
    assert not on_pipeline_run("features").matches(failed)
    assert str(Trigger("alias", "fraud", "champion")) == "alias:fraud/champion"
