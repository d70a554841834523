"""Queries: features selected from feature groups and joined point-in-time correctly.

The leftmost group of a query is the spine; each joined group contributes, for every spine row, its
row with the same key and the latest event time at or before the spine row's (within its ttl).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from fti.core.naming import validate_identifier
from fti.errors import ValidationError
from fti.features.time_travel import describe_group

if TYPE_CHECKING:
    from fti.core.features import FeatureGroupRecord

__all__ = ["Query", "QueryPart", "SelectedGroup", "check_features"]


class SelectedGroup(Protocol):
    """A feature group as a query holds it (a :class:`fti.features.FeatureGroup` is one): its catalog record
    and the names a query is built from."""

    @property
    def record(self) -> FeatureGroupRecord:
        """The group's catalog record."""
        ...

    @property
    def name(self) -> str:
        """The group's name."""
        ...

    @property
    def version(self) -> int:
        """The group's version."""
        ...

    @property
    def primary_key(self) -> list[str]:
        """The primary-key columns."""
        ...

    @property
    def event_time(self) -> str:
        """The event-time column."""
        ...

    @property
    def features(self) -> list[str]:
        """The columns that are neither primary key nor event time."""
        ...


def check_features(group: SelectedGroup, features: list[str]) -> list[str]:
    """``features`` if each is a feature of ``group``; otherwise a ValidationError naming the unknown ones."""
    if isinstance(features, str) or not isinstance(features, list | tuple):
        raise ValidationError(f"Select features of {describe_group(group.record)} as a list of names, e.g. ['amount'].")
    if group.record.schema is None:
        raise ValidationError(
            f"{describe_group(group.record).capitalize()} has no schema yet: insert data before selecting features."
        )
    for name in features:
        validate_identifier(name, "feature name")
    known = group.features
    unknown = [name for name in features if name not in known]
    if unknown:
        raise ValidationError(
            f"{describe_group(group.record).capitalize()} has no feature {', '.join(repr(n) for n in unknown)}; "
            f"its features are: {', '.join(known)}."
        )
    return list(dict.fromkeys(features))


@dataclass(frozen=True, slots=True)
class QueryPart:
    """One group of a query: its selected features, the spine columns it joins on, and a name prefix."""

    group: SelectedGroup
    features: tuple[str, ...]
    on: tuple[str, ...] = ()
    prefix: str = ""

    def output_names(self) -> list[str]:
        """Names of the features in the query's result."""
        return [self.prefix + name for name in self.features]


class Query:
    """Features selected from one feature group, possibly joined with others. Build with ``fg.select``."""

    def __init__(self, parts: tuple[QueryPart, ...]) -> None:
        self.parts = parts
        self.columns()  # fail early on colliding names

    @classmethod
    def of(cls, group: SelectedGroup, features: list[str]) -> Query:
        """Select ``features`` of ``group``."""
        return cls((QueryPart(group, tuple(check_features(group, features))),))

    @property
    def spine(self) -> SelectedGroup:
        """The leftmost feature group, whose rows the result has."""
        return self.parts[0].group

    def join(self, other: Query, on: list[str] | None = None, prefix: str | None = None) -> Query:
        """Join ``other`` (a selection of one feature group) point-in-time correctly onto this query.

        Args:
            other: e.g. ``cards.select_all()``.
            on: spine columns matched with ``other``'s primary key, in order (default: the columns of the
                same names as ``other``'s primary key).
            prefix: prepended to ``other``'s feature names in the result, to avoid collisions.
        """
        if not isinstance(other, Query) or len(other.parts) != 1:
            raise ValidationError("join() takes a selection of one feature group, e.g. cards.select_all().")
        right = other.parts[0].group
        keys = right.primary_key
        on_columns = list(keys if on is None else on)
        if len(on_columns) != len(keys):
            raise ValidationError(
                f"Join of {describe_group(right.record)}: on={on_columns} must name one spine column for each "
                f"of its primary-key columns {keys}."
            )
        spine = self.spine
        available = [spec.name for spec in spine.record.schema or ()]
        missing = [name for name in on_columns if name not in available]
        if missing:
            raise ValidationError(
                f"Join of {describe_group(right.record)} on {on_columns}: the spine {describe_group(spine.record)} "
                f"has no column {', '.join(repr(n) for n in missing)}; pass on=[...] naming spine columns "
                f"({', '.join(available)})."
            )
        if prefix:
            validate_identifier(prefix + "x", "prefix")
        part = QueryPart(right, other.parts[0].features, tuple(on_columns), prefix or "")
        return Query((*self.parts, part))

    def columns(self) -> list[str]:
        """The result's columns: spine keys, spine event time, then every selected feature."""
        spine = self.parts[0].group
        names = [*spine.primary_key, spine.event_time]
        for part in self.parts:
            for name in part.output_names():
                if name in names:
                    raise ValidationError(
                        f"Column '{name}' appears twice in the query; join {describe_group(part.group.record)} "
                        "with a prefix, e.g. join(other, prefix='cards_')."
                    )
                names.append(name)
        return names

    def to_json(self) -> dict[str, Any]:
        """Plain data for the catalog."""
        return {
            "parts": [
                {
                    "group": part.group.name,
                    "version": part.group.version,
                    "features": list(part.features),
                    "on": list(part.on),
                    "prefix": part.prefix,
                }
                for part in self.parts
            ]
        }

    def __repr__(self) -> str:
        groups = ", ".join(f"{part.group.name}:{part.group.version}" for part in self.parts)
        return f"Query({groups})"
