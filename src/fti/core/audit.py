"""The audit log: who changed what, and when.

Services append one :class:`AuditEntry` in the same catalog transaction as the change it records: token
created or revoked, deployment created, replaced or deleted, alias moved or deleted, feature group created,
inserted into or deleted, feature view and training dataset created or deleted, run started, ended or deleted,
experiment deleted, model version registered, tagged, described or deleted, pipeline run by hand. Writes made
outside a catalog transaction (a group compacted, vacuumed or materialized; files of unfinished registrations
collected) are recorded right after them. The dashboard records logins and logouts, and the model server the
feedback it takes. The actor is ambient: a server handling a
request with a token enters :func:`acting_as` with the token's name, and everything recorded in that context
names it; outside any such context the actor is ``local:<user>`` (the SDK or the CLI on this machine).
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["AuditEntry", "acting_as", "audit_entry", "current_actor"]

_ACTOR: ContextVar[str | None] = ContextVar("fti_audit_actor", default=None)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One recorded change: when, who (a token's name, or ``local:<user>``), what and on what."""

    at: datetime
    actor: str
    action: str
    target: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    #: assigned by the catalog when the entry is appended
    id: int | None = None


def current_actor() -> str:
    """The actor changes are recorded under: the token of :func:`acting_as`, else ``local:<user>``."""
    actor = _ACTOR.get()
    if actor is not None:
        return actor
    try:
        return f"local:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (some containers)
        return "local"


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Record every change made in this context under ``actor`` (a token's name)."""
    reset = _ACTOR.set(actor)
    try:
        yield
    finally:
        _ACTOR.reset(reset)


def audit_entry(action: str, target: str, **detail: Any) -> AuditEntry:
    """An entry for ``action`` on ``target`` by the current actor, now. ``detail`` must be JSON values and
    never hold a secret."""
    return AuditEntry(datetime.now(UTC), current_actor(), action, target, dict(detail))
