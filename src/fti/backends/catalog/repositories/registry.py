"""Registered models, model versions, their tags and aliases, and the alias history."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fti.backends.catalog.repositories.absent_rows import insert_if_absent
from fti.backends.catalog.repositories.timestamps import as_utc
from fti.backends.catalog.schema import (
    model_alias_history,
    model_aliases,
    model_version_tags,
    model_versions,
    registered_models,
)
from fti.core.registry import AliasMove, ModelAlias, ModelVersionRecord, RegisteredModel, Signature

__all__ = ["SqlRegistryRecords"]


class SqlRegistryRecords:
    """The model registry in the registry tables."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def next_version(self, name: str, created_at: datetime) -> int:
        """Reserve the next version number of ``name`` (the row lock serializes concurrent writers)."""
        query = sa.select(registered_models.c.latest_version).where(registered_models.c.name == name).with_for_update()
        row = self._connection.execute(query).first()
        if row is None:
            first = sa.insert(registered_models).values(name=name, created_at=created_at, latest_version=1)
            if insert_if_absent(self._connection, first):
                return 1
            row = self._connection.execute(query).one()
        version = int(row[0]) + 1
        self._connection.execute(
            sa.update(registered_models).where(registered_models.c.name == name).values(latest_version=version)
        )
        return version

    def add_version(self, record: ModelVersionRecord) -> None:
        """Insert a version and its tags."""
        self._connection.execute(
            sa.insert(model_versions).values(
                name=record.name,
                version=record.version,
                flavor=record.flavor,
                artifact_prefix=record.artifact_prefix,
                created_at=record.created_at,
                run_id=record.run_id,
                signature=None if record.signature is None else json.dumps(record.signature.to_dict()),
                flavor_options=json.dumps(record.flavor_options, sort_keys=True),
                metrics=json.dumps(record.metrics, sort_keys=True),
                description=record.description,
                training_dataset_name=record.training_dataset_name,
                training_dataset_version=record.training_dataset_version,
            )
        )
        self.set_version_tags(record.name, record.version, record.tags)

    def find_model(self, name: str) -> RegisteredModel | None:
        """The registered model, or None."""
        row = self._connection.execute(sa.select(registered_models).where(registered_models.c.name == name)).first()
        return None if row is None else self._model(row)

    def list_models(self) -> list[RegisteredModel]:
        """Every registered model, by name."""
        rows = self._connection.execute(sa.select(registered_models).order_by(registered_models.c.name)).all()
        return [self._model(row) for row in rows]

    def _model(self, row: sa.Row[Any]) -> RegisteredModel:
        values = row._mapping
        aliases = self._connection.execute(
            sa.select(model_aliases.c.alias, model_aliases.c.version)
            .where(model_aliases.c.name == values["name"])
            .order_by(model_aliases.c.alias)
        ).all()
        return RegisteredModel(
            name=str(values["name"]),
            created_at=as_utc(values["created_at"]),
            latest_version=int(values["latest_version"]),
            aliases={str(alias): int(version) for alias, version in aliases},
        )

    def find_version(self, name: str, version: int | None) -> ModelVersionRecord | None:
        """One version (the latest when ``version`` is None), or None."""
        query = sa.select(model_versions).where(model_versions.c.name == name)
        if version is None:
            query = query.order_by(model_versions.c.version.desc()).limit(1)
        else:
            query = query.where(model_versions.c.version == version)
        records = self._records(query)
        return records[0] if records else None

    def delete_version(self, name: str, version: int) -> None:
        """Remove a version with its tags; its aliases must be gone already. Numbers are never reused."""
        self._connection.execute(
            sa.delete(model_version_tags).where(
                model_version_tags.c.name == name, model_version_tags.c.version == version
            )
        )
        self._connection.execute(
            sa.delete(model_versions).where(model_versions.c.name == name, model_versions.c.version == version)
        )

    def list_versions(self, name: str) -> list[ModelVersionRecord]:
        """Every version of ``name``, oldest first."""
        return self._records(sa.select(model_versions).where(model_versions.c.name == name))

    def versions_for_runs(self, run_ids: Sequence[str]) -> list[ModelVersionRecord]:
        """Versions logged by any of ``run_ids``."""
        return self._records(sa.select(model_versions).where(model_versions.c.run_id.in_(list(run_ids))))

    def versions_for_training_data(self, name: str, version: int) -> list[ModelVersionRecord]:
        """Versions trained on training dataset ``name`` version ``version``."""
        return self._records(
            sa.select(model_versions).where(
                model_versions.c.training_dataset_name == name, model_versions.c.training_dataset_version == version
            )
        )

    def _records(self, query: sa.Select[Any]) -> list[ModelVersionRecord]:
        rows = self._connection.execute(query.order_by(model_versions.c.name, model_versions.c.version)).all()
        if not rows:
            return []
        keys = [(str(row._mapping["name"]), int(row._mapping["version"])) for row in rows]
        tags: dict[tuple[str, int], dict[str, str]] = {}
        for name, version, key, value in self._connection.execute(
            sa.select(model_version_tags).where(
                sa.tuple_(model_version_tags.c.name, model_version_tags.c.version).in_(keys)
            )
        ):
            tags.setdefault((name, int(version)), {})[key] = value
        aliases: dict[tuple[str, int], list[str]] = {}
        for name, alias, version in self._connection.execute(
            sa.select(model_aliases.c.name, model_aliases.c.alias, model_aliases.c.version)
            .where(sa.tuple_(model_aliases.c.name, model_aliases.c.version).in_(keys))
            .order_by(model_aliases.c.alias)
        ):
            aliases.setdefault((name, int(version)), []).append(alias)
        return [
            _version(row, tags.get(key, {}), tuple(aliases.get(key, ()))) for row, key in zip(rows, keys, strict=True)
        ]

    def set_description(self, name: str, version: int, description: str) -> None:
        """Replace a version's description."""
        self._connection.execute(
            sa.update(model_versions)
            .where(model_versions.c.name == name, model_versions.c.version == version)
            .values(description=description)
        )

    def set_version_tags(self, name: str, version: int, tags: Mapping[str, str]) -> None:
        """Insert or replace tags of a version."""
        if not tags:
            return
        table = model_version_tags
        self._connection.execute(
            sa.delete(table).where(table.c.name == name, table.c.version == version, table.c.key.in_(list(tags)))
        )
        self._connection.execute(
            sa.insert(table),
            [{"name": name, "version": version, "key": key, "value": value} for key, value in tags.items()],
        )

    def find_alias(self, name: str, alias: str) -> ModelAlias | None:
        """Where ``alias`` points, or None; the model's aliases stay locked against other moves until the
        transaction ends (its row is locked: an alias row may not exist yet, or be replaced meanwhile)."""
        self._connection.execute(
            sa.select(registered_models.c.name).where(registered_models.c.name == name).with_for_update()
        ).first()
        row = self._connection.execute(
            sa.select(model_aliases)
            .where(model_aliases.c.name == name, model_aliases.c.alias == alias)
            .with_for_update()
        ).first()
        if row is None:
            return None
        values = row._mapping
        return ModelAlias(
            model=str(values["name"]),
            alias=str(values["alias"]),
            version=int(values["version"]),
            is_protected=bool(values["is_protected"]),
        )

    def set_alias(self, alias: ModelAlias, move: AliasMove) -> None:
        """Point the alias at its version and append ``move`` to the history."""
        self._connection.execute(
            sa.delete(model_aliases).where(model_aliases.c.name == alias.model, model_aliases.c.alias == alias.alias)
        )
        self._connection.execute(
            sa.insert(model_aliases).values(
                name=alias.model, alias=alias.alias, version=alias.version, is_protected=alias.is_protected
            )
        )
        self._record_move(move)

    def delete_alias(self, name: str, alias: str, move: AliasMove) -> None:
        """Remove the alias and append ``move`` to the history."""
        self._connection.execute(
            sa.delete(model_aliases).where(model_aliases.c.name == name, model_aliases.c.alias == alias)
        )
        self._record_move(move)

    def _record_move(self, move: AliasMove) -> None:
        self._connection.execute(
            sa.insert(model_alias_history).values(
                name=move.model,
                alias=move.alias,
                from_version=move.from_version,
                to_version=move.to_version,
                is_protected=move.is_protected,
                is_forced=move.is_forced,
                changed_by=move.changed_by,
                changed_at=move.changed_at,
                reason=move.reason,
            )
        )

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Every recorded move of ``name``'s aliases (or of one alias), oldest first."""
        query = sa.select(model_alias_history).where(model_alias_history.c.name == name)
        if alias is not None:
            query = query.where(model_alias_history.c.alias == alias)
        rows = self._connection.execute(query.order_by(model_alias_history.c.id)).all()
        return [_move(row) for row in rows]


def _version(row: sa.Row[Any], tags: dict[str, str], aliases: tuple[str, ...]) -> ModelVersionRecord:
    values = row._mapping
    signature = values["signature"]
    return ModelVersionRecord(
        name=str(values["name"]),
        version=int(values["version"]),
        flavor=str(values["flavor"]),
        artifact_prefix=str(values["artifact_prefix"]),
        created_at=as_utc(values["created_at"]),
        run_id=values["run_id"],
        signature=None if signature is None else Signature.from_dict(json.loads(signature)),
        flavor_options=json.loads(values["flavor_options"]),
        metrics=json.loads(values["metrics"]),
        description=str(values["description"]),
        tags=tags,
        aliases=aliases,
        training_dataset_name=values["training_dataset_name"],
        training_dataset_version=values["training_dataset_version"],
    )


def _move(row: sa.Row[Any]) -> AliasMove:
    values = row._mapping
    return AliasMove(
        model=str(values["name"]),
        alias=str(values["alias"]),
        from_version=values["from_version"],
        to_version=values["to_version"],
        is_protected=bool(values["is_protected"]),
        is_forced=bool(values["is_forced"]),
        changed_by=str(values["changed_by"]),
        changed_at=as_utc(values["changed_at"]),
        reason=values["reason"],
    )
