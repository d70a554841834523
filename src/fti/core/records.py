"""Records kept in the catalog about stored things, passed across the backend seam."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

__all__ = ["ArtifactRecord", "SchemaState", "SchemaStatus"]


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    """What the catalog knows of one stored artifact: its key, size and sha256 checksum."""

    key: str
    sha256: str
    size: int
    created_at: datetime


class SchemaStatus(Enum):
    """Where a catalog's schema stands relative to the code's migrations."""

    EMPTY = "empty"
    CURRENT = "current"
    BEHIND = "behind"
    AHEAD = "ahead"


@dataclass(frozen=True, slots=True)
class SchemaState:
    """The revisions a catalog is at and the ones the code expects."""

    status: SchemaStatus
    current: tuple[str, ...]
    expected: tuple[str, ...]
    #: revisions this call applied (only ``upgrade`` sets it)
    applied: tuple[str, ...] = ()
