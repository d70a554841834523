"""Roles of API tokens, who a request acts as, and when a token expires.

A token carries one role; each role includes the ones before it in :data:`ROLES`:

- ``read``: the dashboard, its JSON API and the model server's read routes (status, metadata, metrics);
- ``predict``: and the model server's prediction routes (``/v1``, ``/v2`` infer, ``/invocations``,
  generation, feedback);
- ``write``: and writes (creating and inserting, runs, registration; the dashboard's POSTs);
- ``admin``: and everything else (tokens, aliases on protected names, deployments, deletes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from fti.errors import ValidationError

__all__ = [
    "DEFAULT_ROLE",
    "ROLES",
    "Identity",
    "Role",
    "parse_expiry",
    "parse_role",
    "role_allows",
]

Role = Literal["read", "predict", "write", "admin"]
"""What a token may do; each role includes the ones before it."""
ROLES: tuple[Role, ...] = get_args(Role)
#: the role of a token created without one, and of tokens created before tokens had roles (they could predict)
DEFAULT_ROLE: Role = "predict"

_DURATION = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request acts as: a token's name and role."""

    name: str
    role: Role

    def allows(self, needed: Role) -> bool:
        """Whether this identity's role includes ``needed``."""
        return role_allows(self.role, needed)


def role_allows(role: Role, needed: Role) -> bool:
    """Whether ``role`` includes ``needed`` (a role includes every role before it in :data:`ROLES`).

    Example:
        >>> role_allows("write", "predict"), role_allows("predict", "write")
        (True, False)
    """
    return ROLES.index(role) >= ROLES.index(needed)


def parse_role(text: str) -> Role:
    """``text`` as a role; ValidationError names the roles.

    Example:
        >>> parse_role("admin")
        'admin'
    """
    for role in ROLES:
        if text == role:
            return role
    raise ValidationError(f"Unknown role '{text}': use one of {', '.join(ROLES)} (each includes the ones before it).")


def parse_expiry(text: str, now: datetime | None = None) -> datetime:
    """When a token given ``--expires text`` expires: a duration from ``now`` (``90m``, ``12h``, ``30d``,
    ``4w``) or a date or time (``2027-01-31``, ``2027-01-31T12:00:00+00:00``; UTC when no zone is given).

    Example:
        >>> parse_expiry("30d", datetime(2026, 1, 1, tzinfo=UTC)).isoformat()
        '2026-01-31T00:00:00+00:00'
        >>> parse_expiry("2027-01-31").isoformat()
        '2027-01-31T00:00:00+00:00'

    Raises:
        ValidationError: neither a duration nor a date, a zero duration, or a time already past.
    """
    now = now or datetime.now(UTC)
    match = _DURATION.match(text.strip())
    if match is not None:
        amount = int(match.group(1))
        if amount == 0:
            raise ValidationError(f"Expiry '{text}' is no time at all: give a positive duration such as 30d.")
        return now + timedelta(**{_UNITS[match.group(2)]: amount})
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            f"Expiry '{text}' is neither a duration (90m, 12h, 30d, 4w) nor a date (2027-01-31) or time "
            "(2027-01-31T12:00:00+00:00)."
        ) from None
    expires = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    if expires <= now:
        raise ValidationError(f"Expiry '{text}' is in the past ({now:%Y-%m-%d %H:%M:%S} UTC now).")
    return expires
