"""Roles include the ones before them; expiry parses durations, dates and times, and refuses the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fti.core.access import ROLES, Identity, parse_expiry, parse_role, role_allows
from fti.errors import ValidationError

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_each_role_includes_exactly_the_ones_before_it() -> None:
    assert ROLES == ("read", "predict", "write", "admin")
    for index, role in enumerate(ROLES):
        assert [needed for needed in ROLES if role_allows(role, needed)] == list(ROLES[: index + 1])
    assert Identity("ci", "write").allows("predict") and not Identity("ci", "predict").allows("write")


def test_an_unknown_role_names_the_roles() -> None:
    assert parse_role("read") == "read"
    with pytest.raises(ValidationError, match="Unknown role 'Admin': use one of read, predict, write, admin"):
        parse_role("Admin")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", NOW + timedelta(minutes=90)),
        ("12h", NOW + timedelta(hours=12)),
        ("30d", NOW + timedelta(days=30)),
        ("4w", NOW + timedelta(weeks=4)),
        ("2027-01-31", datetime(2027, 1, 31, tzinfo=UTC)),
        ("2027-01-31T08:30:00", datetime(2027, 1, 31, 8, 30, tzinfo=UTC)),
        ("2027-01-31T08:30:00+02:00", datetime(2027, 1, 31, 8, 30, tzinfo=timezone(timedelta(hours=2)))),
    ],
)
def test_expiry_is_a_duration_from_now_or_a_date_or_time(text: str, expected: datetime) -> None:
    assert parse_expiry(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0d", "is no time at all"),
        ("30", "is neither a duration"),
        ("3 days", "is neither a duration"),
        ("-1d", "is neither a duration"),
        ("2026-05-31", "is in the past"),
        ("2026-06-01T12:00:00Z", "is in the past"),
    ],
)
def test_a_bad_expiry_is_refused_naming_it(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_expiry(text, NOW)
