"""Runs and experiments as the catalog records them, and the run-search query tree."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Literal

from fti.errors import ValidationError

__all__ = [
    "OWNER_TAG",
    "RUN_ATTRIBUTES",
    "And",
    "CodeVersion",
    "Comparison",
    "Experiment",
    "FilterNode",
    "MetricBatch",
    "MetricPoint",
    "Or",
    "OrderKey",
    "RunInfo",
    "RunSearch",
    "RunStatus",
    "ValueKind",
    "validate_value_key",
]

#: what a filter or ordering term refers to: a metric, a param, a tag or an attribute of the run itself
ValueKind = Literal["metric", "param", "tag", "attribute"]
#: run attributes that can be filtered and ordered on
RUN_ATTRIBUTES = ("run_id", "name", "status", "start_time", "end_time", "experiment", "parent_run_id")

#: the tag a run records the process that started it under (host, pid and start token, see
#: :mod:`fti.tracking.owner`); no user tag can have this key, and the tags a run shows leave it out
OWNER_TAG = "@owner"

_VALUE_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/ ]{0,249}$")


def validate_value_key(key: str, what: str) -> str:
    """Return ``key`` if it is a valid param, metric or tag key, else raise a ValidationError."""
    if not isinstance(key, str) or not _VALUE_KEY.match(key) or key != key.strip():
        raise ValidationError(
            f"Invalid {what} key {key!r}: use letters, digits and '_.-/ ', starting with a letter, digit or "
            "underscore, at most 250 characters (for example 'val_f1' or 'train/loss')."
        )
    return key


class RunStatus(Enum):
    """Where a run stands."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Experiment:
    """A named group of runs."""

    id: int
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CodeVersion:
    """The code a run executed: git commit and whether the work tree had uncommitted changes."""

    git_commit: str | None
    is_dirty: bool | None
    entry_point: str | None


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One run's attributes (its params, metrics and tags are read separately)."""

    id: str
    experiment: str
    name: str | None
    status: RunStatus
    start_time: datetime
    end_time: datetime | None = None
    parent_run_id: str | None = None
    error: str | None = None
    code: CodeVersion = field(default_factory=lambda: CodeVersion(None, None, None))
    python_version: str | None = None
    packages: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One logged value of a metric."""

    key: str
    value: float
    step: int
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class Comparison:
    """``<kind>.<key> <op> <value>``, for example ``metrics.f1 > 0.8``."""

    kind: ValueKind
    key: str
    op: Literal["=", "!=", "<", "<=", ">", ">=", "like", "in"]
    value: float | str | tuple[float | str, ...]


@dataclass(frozen=True, slots=True)
class And:
    """Every operand holds."""

    operands: tuple[FilterNode, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """At least one operand holds."""

    operands: tuple[FilterNode, ...]


FilterNode = Comparison | And | Or


@dataclass(frozen=True, slots=True)
class OrderKey:
    """Sort runs by a metric, param, tag or attribute; runs without the value come last."""

    kind: ValueKind
    key: str
    is_descending: bool = False


@dataclass(frozen=True, slots=True)
class RunSearch:
    """A run query, evaluated by the catalog in SQL."""

    experiments: tuple[str, ...] = ()
    filter: FilterNode | None = None
    order_by: tuple[OrderKey, ...] = ()
    limit: int | None = None
    run_ids: tuple[str, ...] = ()
    offset: int = 0


@dataclass(frozen=True, slots=True)
class MetricBatch:
    """Buffered metric points of one or more runs, column by column, written in one round trip."""

    run_ids: list[str]
    keys: list[str]
    values: list[float]
    steps: list[int]
    timestamps_ms: list[int]

    def __len__(self) -> int:
        return len(self.keys)
