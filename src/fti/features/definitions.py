"""Comparing a feature group's stored definition with the one a pipeline asks for (get or create)."""

from __future__ import annotations

from fti.core.features import FeatureGroupRecord

__all__ = ["differences"]


def differences(existing: FeatureGroupRecord, wanted: FeatureGroupRecord) -> list[str]:
    """What differs between two definitions of one feature group version, one phrase per field.

    The schema is compared only when both have one: a group whose schema came from its first insert
    matches a definition that gives none.
    """
    found = []
    pairs = [
        ("primary_key", list(existing.primary_key), list(wanted.primary_key)),
        ("event_time", existing.event_time, wanted.event_time),
        ("online", existing.is_online, wanted.is_online),
        ("ttl_seconds", existing.ttl_seconds, wanted.ttl_seconds),
        ("expectations", list(existing.expectations), list(wanted.expectations)),
        ("description", existing.description, wanted.description),
        ("tags", existing.tags, wanted.tags),
    ]
    for name, stored, asked in pairs:
        if stored != asked:
            found.append(f"{name} is {stored!r}, not {asked!r}")
    if existing.schema is not None and wanted.schema is not None and existing.schema != wanted.schema:
        stored_columns = {spec.name: spec.type for spec in existing.schema}
        asked_columns = {spec.name: spec.type for spec in wanted.schema}
        changes = [
            f"'{column}' {stored_columns.get(column, 'absent')} -> {asked_columns.get(column, 'absent')}"
            for column in dict.fromkeys([*stored_columns, *asked_columns])
            if stored_columns.get(column) != asked_columns.get(column)
        ]
        found.append("schema differs: " + ", ".join(changes or ["column order"]))
    return found
