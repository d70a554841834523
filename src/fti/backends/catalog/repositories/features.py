"""Feature store records: feature groups with their commits, feature views, training datasets."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fti.backends.catalog.repositories.timestamps import as_utc
from fti.backends.catalog.schema import (
    feature_group_commits,
    feature_groups,
    feature_views,
    run_training_data,
    source_cursors,
    training_dataset_sources,
    training_datasets,
)
from fti.core.features import ColumnSpec, CommitRecord, FeatureGroupRecord, FeatureViewRecord, TrainingDatasetRecord
from fti.core.sources import CommitLineage

__all__ = ["SqlFeatureGroupRecords", "SqlFeatureViewRecords", "SqlTrainingDatasetRecords"]


class SqlFeatureGroupRecords:
    """Feature groups and their commits in ``feature_groups`` and ``feature_group_commits``."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, record: FeatureGroupRecord) -> FeatureGroupRecord:
        """Insert a new feature group version; return it with its assigned id."""
        values = {
            "name": record.name,
            "version": record.version,
            "description": record.description,
            "primary_key": list(record.primary_key),
            "event_time": record.event_time,
            "is_online": record.is_online,
            "ttl_seconds": record.ttl_seconds,
            "tags": dict(record.tags),
            "schema": _schema_json(record.schema),
            "expectations": [dict(item) for item in record.expectations],
            "created_at": record.created_at,
        }
        result = self._connection.execute(sa.insert(feature_groups).values(**values))
        return replace(record, id=_inserted_id(result))

    def find(self, name: str, version: int | None = None) -> FeatureGroupRecord | None:
        """The group ``name`` at ``version`` (None: the latest version), or None."""
        query = sa.select(feature_groups).where(feature_groups.c.name == name)
        if version is None:
            query = query.order_by(feature_groups.c.version.desc()).limit(1)
        else:
            query = query.where(feature_groups.c.version == version)
        row = self._connection.execute(query).first()
        return None if row is None else _group(row)

    def find_by_id(self, group_id: int) -> FeatureGroupRecord | None:
        """The group with catalog id ``group_id``, or None."""
        row = self._connection.execute(sa.select(feature_groups).where(feature_groups.c.id == group_id)).first()
        return None if row is None else _group(row)

    def set_schema(self, group_id: int, schema: tuple[ColumnSpec, ...]) -> None:
        """Record the schema taken from the group's first insert."""
        self._connection.execute(
            sa.update(feature_groups).where(feature_groups.c.id == group_id).values(schema=_schema_json(schema))
        )

    def reserve_stamp(self, group_id: int, floor: int) -> int:
        """Reserve the next stamp for the group's rows: one more than the last reserved (than ``floor`` for the
        group's first), never the same for two inserts, however many run at once."""
        column = feature_groups.c.last_stamp
        self._connection.execute(
            sa.update(feature_groups)
            .where(feature_groups.c.id == group_id)
            .values(last_stamp=sa.case((column.is_(None), floor), else_=column) + 1)
        )
        return int(self._connection.execute(sa.select(column).where(feature_groups.c.id == group_id)).scalar_one())

    def next_commit(self, group_id: int) -> int:
        """The group's next commit number; the group stays locked against other commits until the transaction
        ends, so the number is still free when :meth:`add_commit` records it."""
        self._connection.execute(
            sa.select(feature_groups.c.id).where(feature_groups.c.id == group_id).with_for_update()
        ).first()
        latest = self._connection.execute(
            sa.select(sa.func.max(feature_group_commits.c.commit)).where(
                feature_group_commits.c.feature_group_id == group_id
            )
        ).scalar_one()
        return 0 if latest is None else int(latest) + 1

    def add_commit(self, record: CommitRecord) -> None:
        """Record one insert."""
        self._connection.execute(
            sa.insert(feature_group_commits).values(
                feature_group_id=record.feature_group_id,
                commit=record.commit,
                stamp=record.stamp,
                table_version=record.table_version,
                committed_at=record.committed_at,
                rows_inserted=record.rows_inserted,
                rows_replaced=record.rows_replaced,
                statistics=record.statistics,
                group_statistics=record.group_statistics,
                lineage=None if record.lineage is None else record.lineage.to_json(),
            )
        )

    def set_group_statistics(self, group_id: int, commit: int, statistics: dict[str, Any]) -> None:
        """Record the statistics of the whole group as of ``commit``."""
        self._connection.execute(
            sa.update(feature_group_commits)
            .where(
                feature_group_commits.c.feature_group_id == group_id,
                feature_group_commits.c.commit == commit,
            )
            .values(group_statistics=statistics)
        )

    def commits(self, group_id: int) -> list[CommitRecord]:
        """The group's commits, oldest first."""
        query = (
            sa.select(feature_group_commits)
            .where(feature_group_commits.c.feature_group_id == group_id)
            .order_by(feature_group_commits.c.commit)
        )
        return [_commit(row) for row in self._connection.execute(query)]

    def list(self) -> list[FeatureGroupRecord]:
        """Every feature group version, by name then version."""
        query = sa.select(feature_groups).order_by(feature_groups.c.name, feature_groups.c.version)
        return [_group(row) for row in self._connection.execute(query)]

    def delete_empty(self, group_id: int) -> bool:
        """Delete the group if it has no commits and no more than one insert began on it (another may still be
        writing); whether it was deleted."""
        has_commits = sa.exists().where(feature_group_commits.c.feature_group_id == group_id)
        alone = sa.or_(feature_groups.c.last_stamp.is_(None), feature_groups.c.last_stamp <= 0)
        result = self._connection.execute(
            sa.delete(feature_groups).where(feature_groups.c.id == group_id, ~has_commits, alone)
        )
        return bool(result.rowcount)

    def delete(self, group_id: int) -> None:
        """Delete the group with its commits and source cursors; no training dataset may read it any more."""
        for table in (feature_group_commits, source_cursors):
            self._connection.execute(sa.delete(table).where(table.c.feature_group_id == group_id))
        self._connection.execute(sa.delete(feature_groups).where(feature_groups.c.id == group_id))


class SqlFeatureViewRecords:
    """Feature views in ``feature_views``."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, record: FeatureViewRecord) -> FeatureViewRecord:
        """Insert a new feature view version; return it with its assigned id."""
        result = self._connection.execute(
            sa.insert(feature_views).values(
                name=record.name,
                version=record.version,
                description=record.description,
                query=record.query,
                labels=list(record.labels),
                created_at=record.created_at,
            )
        )
        return replace(record, id=_inserted_id(result))

    def find(self, name: str, version: int | None = None) -> FeatureViewRecord | None:
        """The view ``name`` at ``version`` (None: the latest version), or None."""
        query = sa.select(feature_views).where(feature_views.c.name == name)
        if version is None:
            query = query.order_by(feature_views.c.version.desc()).limit(1)
        else:
            query = query.where(feature_views.c.version == version)
        row = self._connection.execute(query).first()
        return None if row is None else _view(row)

    def list(self) -> list[FeatureViewRecord]:
        """Every feature view version, by name then version."""
        query = sa.select(feature_views).order_by(feature_views.c.name, feature_views.c.version)
        return [_view(row) for row in self._connection.execute(query)]

    def delete(self, view_id: int) -> None:
        """Delete the view version; its training datasets must be deleted already."""
        self._connection.execute(sa.delete(feature_views).where(feature_views.c.id == view_id))


class SqlTrainingDatasetRecords:
    """Training datasets in ``training_datasets`` with their source commits."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, record: TrainingDatasetRecord) -> TrainingDatasetRecord:
        """Insert a training dataset and its source commits; return it with its assigned id."""
        result = self._connection.execute(
            sa.insert(training_datasets).values(
                feature_view_id=record.feature_view_id,
                version=record.version,
                description=record.description,
                start=record.start,
                end=record.end,
                split=record.split,
                split_by=record.split_by,
                seed=record.seed,
                statistics=record.statistics,
                created_at=record.created_at,
            )
        )
        dataset_id = _inserted_id(result)
        if record.sources:
            self._connection.execute(
                sa.insert(training_dataset_sources),
                [
                    {"training_dataset_id": dataset_id, "feature_group_id": group_id, "commit": commit}
                    for group_id, commit in sorted(record.sources.items())
                ],
            )
        return replace(record, id=dataset_id)

    def next_version(self, feature_view_id: int) -> int:
        """One more than the view's highest training dataset version, deleted ones that runs still name
        included (1 for the first): a run's lineage never comes to name another dataset."""
        stored = sa.select(training_datasets.c.version.label("version")).where(
            training_datasets.c.feature_view_id == feature_view_id
        )
        named = (
            sa.select(run_training_data.c.training_dataset_version.label("version"))
            .join(
                feature_views,
                sa.and_(
                    feature_views.c.name == run_training_data.c.feature_view_name,
                    feature_views.c.version == run_training_data.c.feature_view_version,
                ),
            )
            .where(feature_views.c.id == feature_view_id)
        )
        versions = sa.union_all(stored, named).subquery()
        highest = self._connection.execute(sa.select(sa.func.max(versions.c.version))).scalar_one()
        return 1 if highest is None else int(highest) + 1

    def find(self, feature_view_id: int, version: int | None = None) -> TrainingDatasetRecord | None:
        """The view's training dataset ``version`` (None: the latest), or None."""
        query = sa.select(training_datasets).where(training_datasets.c.feature_view_id == feature_view_id)
        if version is None:
            query = query.order_by(training_datasets.c.version.desc()).limit(1)
        else:
            query = query.where(training_datasets.c.version == version)
        row = self._connection.execute(query).first()
        return None if row is None else self._dataset(row)

    def list(self, feature_view_id: int) -> list[TrainingDatasetRecord]:
        """The view's training datasets, oldest first."""
        query = (
            sa.select(training_datasets)
            .where(training_datasets.c.feature_view_id == feature_view_id)
            .order_by(training_datasets.c.version)
        )
        return [self._dataset(row) for row in self._connection.execute(query)]

    def delete(self, dataset_id: int) -> None:
        """Delete the training dataset with its record of the commits it read."""
        self._connection.execute(
            sa.delete(training_dataset_sources).where(training_dataset_sources.c.training_dataset_id == dataset_id)
        )
        self._connection.execute(sa.delete(training_datasets).where(training_datasets.c.id == dataset_id))

    def _dataset(self, row: sa.Row[Any]) -> TrainingDatasetRecord:
        values = row._mapping
        sources_query = sa.select(training_dataset_sources).where(
            training_dataset_sources.c.training_dataset_id == values["id"]
        )
        sources = {
            int(source.feature_group_id): int(source.commit) for source in self._connection.execute(sources_query)
        }
        return TrainingDatasetRecord(
            id=int(values["id"]),
            feature_view_id=int(values["feature_view_id"]),
            version=int(values["version"]),
            description=str(values["description"]),
            start=None if values["start"] is None else as_utc(values["start"]),
            end=None if values["end"] is None else as_utc(values["end"]),
            split=None if values["split"] is None else {str(k): float(v) for k, v in values["split"].items()},
            split_by=str(values["split_by"]),
            seed=None if values["seed"] is None else int(values["seed"]),
            statistics=dict(values["statistics"]),
            sources=sources,
            created_at=as_utc(values["created_at"]),
        )


def _inserted_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None  # an INSERT of one row always has one
    return int(key[0])


def _schema_json(schema: tuple[ColumnSpec, ...] | None) -> list[dict[str, str]] | None:
    return None if schema is None else [{"name": column.name, "type": column.type} for column in schema]


def _group(row: sa.Row[Any]) -> FeatureGroupRecord:
    values = row._mapping
    schema = values["schema"]
    return FeatureGroupRecord(
        id=int(values["id"]),
        name=str(values["name"]),
        version=int(values["version"]),
        description=str(values["description"]),
        primary_key=tuple(str(column) for column in values["primary_key"]),
        event_time=str(values["event_time"]),
        is_online=bool(values["is_online"]),
        ttl_seconds=None if values["ttl_seconds"] is None else float(values["ttl_seconds"]),
        tags={str(k): str(v) for k, v in values["tags"].items()},
        schema=None if schema is None else tuple(ColumnSpec(str(c["name"]), str(c["type"])) for c in schema),
        expectations=tuple(dict(item) for item in values["expectations"]),
        created_at=as_utc(values["created_at"]),
    )


def _commit(row: sa.Row[Any]) -> CommitRecord:
    values = row._mapping
    return CommitRecord(
        feature_group_id=int(values["feature_group_id"]),
        commit=int(values["commit"]),
        committed_at=as_utc(values["committed_at"]),
        rows_inserted=int(values["rows_inserted"]),
        rows_replaced=int(values["rows_replaced"]),
        statistics=dict(values["statistics"]),
        group_statistics=None if values["group_statistics"] is None else dict(values["group_statistics"]),
        lineage=None if values["lineage"] is None else CommitLineage.from_json(values["lineage"]),
        stamp=-1 if values["stamp"] is None else int(values["stamp"]),
        table_version=-1 if values["table_version"] is None else int(values["table_version"]),
    )


def _view(row: sa.Row[Any]) -> FeatureViewRecord:
    values = row._mapping
    return FeatureViewRecord(
        id=int(values["id"]),
        name=str(values["name"]),
        version=int(values["version"]),
        description=str(values["description"]),
        query=dict(values["query"]),
        labels=tuple(str(label) for label in values["labels"]),
        created_at=as_utc(values["created_at"]),
    )
