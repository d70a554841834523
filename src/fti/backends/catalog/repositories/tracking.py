"""Experiment and run records (run search as SQL is in :mod:`~fti.backends.catalog.repositories.run_search`).

The module runs past 400 lines: it implements one port (``RunRecords`` with experiments), whose statements
share the table definitions and the value readers built once per dialect here.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection

from fti.backends.catalog import schema
from fti.backends.catalog.repositories.absent_rows import insert_if_absent
from fti.backends.catalog.repositories.run_search import narrowed, searched, split_by_value
from fti.backends.catalog.repositories.timestamps import as_utc
from fti.backends.catalog.schema import (
    experiments,
    run_artifacts,
    run_feature_group_commits,
    run_latest_metrics,
    run_metrics,
    run_params,
    run_tags,
    run_training_data,
    runs,
)
from fti.core.lineage import FeatureGroupCommit, TrainingDataLineage
from fti.core.tracking import (
    OWNER_TAG,
    CodeVersion,
    Experiment,
    MetricBatch,
    RunInfo,
    RunSearch,
    RunStatus,
)
from fti.errors import BackendError, ConflictError, NotFoundError

__all__ = ["SqlTrackingRecords"]


class SqlTrackingRecords:
    """Runs and what they log, in the tracking tables."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    # -- experiments and runs ----------------------------------------------------------------------

    def ensure_experiment(self, name: str, created_at: datetime) -> Experiment:
        """The experiment called ``name``, created if it does not exist."""
        found = self._find_experiment(name)
        if found is not None:
            return found
        insert_if_absent(self._connection, sa.insert(experiments).values(name=name, created_at=created_at))
        created = self._find_experiment(name)
        assert created is not None
        return created

    def _find_experiment(self, name: str) -> Experiment | None:
        row = self._connection.execute(sa.select(experiments).where(experiments.c.name == name)).first()
        return None if row is None else _experiment(row)

    def list_experiments(self) -> list[Experiment]:
        """Every experiment, by name."""
        return [
            _experiment(row) for row in self._connection.execute(sa.select(experiments).order_by(experiments.c.name))
        ]

    def delete_experiment(self, name: str) -> None:
        """Delete the experiment ``name``; its runs must be deleted already."""
        self._connection.execute(sa.delete(experiments).where(experiments.c.name == name))

    def add_run(self, run: RunInfo, training_data: TrainingDataLineage | None) -> None:
        """Insert a new run and the training data it reads."""
        experiment = self._find_experiment(run.experiment)
        if experiment is None:
            raise NotFoundError(f"Experiment '{run.experiment}' does not exist: create it before its runs.")
        self._connection.execute(
            sa.insert(runs).values(
                id=run.id,
                experiment_id=experiment.id,
                name=run.name,
                status=run.status.value,
                start_time=run.start_time,
                end_time=run.end_time,
                parent_run_id=run.parent_run_id,
                error=run.error,
                git_commit=run.code.git_commit,
                is_dirty=run.code.is_dirty,
                entry_point=run.code.entry_point,
                python_version=run.python_version,
                packages=json.dumps(run.packages, sort_keys=True),
            )
        )
        if training_data is None:
            return
        self._connection.execute(
            sa.insert(run_training_data).values(
                run_id=run.id,
                feature_view_name=training_data.feature_view_name,
                feature_view_version=training_data.feature_view_version,
                training_dataset_version=training_data.training_dataset_version,
            )
        )
        if training_data.feature_group_commits:
            self._connection.execute(
                sa.insert(run_feature_group_commits),
                [
                    {
                        "run_id": run.id,
                        "feature_group_name": item.name,
                        "feature_group_version": item.version,
                        "commit": item.commit,
                    }
                    for item in training_data.feature_group_commits
                ],
            )

    def find_run(self, run_id: str) -> RunInfo | None:
        """The run, or None."""
        row = self._connection.execute(_run_select().where(runs.c.id == run_id)).first()
        return None if row is None else _run(row)

    def run_ids_starting_with(self, prefix: str, limit: int) -> list[str]:
        """Ids of at most ``limit`` runs whose id starts with ``prefix`` (taken literally), sorted."""
        query = sa.select(runs.c.id).where(runs.c.id.startswith(prefix, autoescape=True)).order_by(runs.c.id)
        return list(self._connection.execute(query.limit(limit)).scalars())

    def delete_runs(self, run_ids: Sequence[str]) -> None:
        """Remove the runs with everything logged to them (params, metrics, tags, artifact paths, lineage)."""
        ids = list(run_ids)
        if not ids:
            return
        for table in (
            run_params,
            run_metrics,
            run_latest_metrics,
            run_tags,
            run_artifacts,
            run_feature_group_commits,
            run_training_data,
        ):
            self._connection.execute(sa.delete(table).where(table.c.run_id.in_(ids)))
        # nested runs first: a run's parent_run_id points at a run that is still there
        self._connection.execute(sa.update(runs).where(runs.c.id.in_(ids)).values(parent_run_id=None))
        self._connection.execute(sa.delete(runs).where(runs.c.id.in_(ids)))

    def end_run(self, run_id: str, status: RunStatus, end_time: datetime, error: str | None) -> None:
        """Record how and when the run ended."""
        self._connection.execute(
            sa.update(runs).where(runs.c.id == run_id).values(status=status.value, end_time=end_time, error=error)
        )

    # -- logged values -----------------------------------------------------------------------------

    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        """Add params; ConflictError if a key was logged before with another value."""
        if not params:
            return
        existing = dict(
            self._connection.execute(
                sa.select(run_params.c.key, run_params.c.value).where(
                    run_params.c.run_id == run_id, run_params.c.key.in_(list(params))
                )
            ).all()
        )
        for key, value in existing.items():
            if params[key] != value:
                raise ConflictError(
                    f"Run '{run_id}' already has param '{key}' = {value!r}; it cannot change to {params[key]!r}. "
                    "Params are fixed inputs: log a metric or tag instead, or start a new run."
                )
        fresh = [
            {"run_id": run_id, "key": key, "value": value, "value_number": _as_number(value)}
            for key, value in params.items()
            if key not in existing
        ]
        if fresh:
            self._connection.execute(sa.insert(run_params), fresh)

    def log_metrics(self, batch: MetricBatch) -> None:
        """Append metric points and update each run's latest value per key (latest = highest step).

        The points go to the driver in one executemany without SQLAlchemy's per-row processing:
        this is the hot path of ``log_metric``.
        """
        if not len(batch):
            return
        rows = list(zip(batch.run_ids, batch.keys, batch.values, batch.steps, batch.timestamps_ms, strict=True))
        self._insert_rows(run_metrics, rows)
        latest: dict[tuple[str, str], tuple[str, str, float, int, int]] = {}
        for row in rows:
            current = latest.get((row[0], row[1]))
            # among equal steps the point logged last wins
            if current is None or row[3] >= current[3]:
                latest[(row[0], row[1])] = row
        # one upsert that keeps a stored value logged at a higher step (same syntax in SQLite and PostgreSQL)
        self._insert_rows(
            run_latest_metrics,
            list(latest.values()),
            on_conflict=(
                "ON CONFLICT (run_id, {key}) DO UPDATE SET {value} = excluded.{value}, step = excluded.step, "
                "timestamp_ms = excluded.timestamp_ms WHERE excluded.step >= {table}.step"
            ),
        )

    def _insert_rows(self, table: sa.Table, rows: list[tuple[Any, ...]], on_conflict: str = "") -> None:
        """Insert metric rows (run_id, key, value, step, timestamp_ms) in one driver executemany."""
        dialect = self._connection.dialect
        marker = {"qmark": "?", "format": "%s", "pyformat": "%s"}[dialect.paramstyle]
        quote = dialect.identifier_preparer.quote
        columns = ", ".join(quote(name) for name in ("run_id", "key", "value", "step", "timestamp_ms"))
        conflict = on_conflict.format(key=quote("key"), value=quote("value"), table=quote(table.name))
        statement = f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({', '.join([marker] * 5)}) {conflict}"
        self._connection.exec_driver_sql(statement, rows)

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Insert or replace tags."""
        if not tags:
            return
        self._connection.execute(sa.delete(run_tags).where(run_tags.c.run_id == run_id, run_tags.c.key.in_(list(tags))))
        self._connection.execute(
            sa.insert(run_tags), [{"run_id": run_id, "key": key, "value": value} for key, value in tags.items()]
        )

    def set_artifacts(self, run_id: str, paths: Mapping[str, str]) -> None:
        """Insert or replace ``path within the run -> artifact key``."""
        if not paths:
            return
        self._connection.execute(
            sa.delete(run_artifacts).where(run_artifacts.c.run_id == run_id, run_artifacts.c.path.in_(list(paths)))
        )
        self._connection.execute(
            sa.insert(run_artifacts),
            [{"run_id": run_id, "path": path, "artifact_key": key} for path, key in paths.items()],
        )

    def list_artifacts(self, run_id: str) -> dict[str, str]:
        """``path within the run -> artifact key``, sorted by path."""
        query = (
            sa.select(run_artifacts.c.path, run_artifacts.c.artifact_key)
            .where(run_artifacts.c.run_id == run_id)
            .order_by(run_artifacts.c.path)
        )
        return {str(path): str(key) for path, key in self._connection.execute(query)}

    def find_training_data(self, run_id: str) -> TrainingDataLineage | None:
        """The training data the run recorded, or None."""
        row = self._connection.execute(sa.select(run_training_data).where(run_training_data.c.run_id == run_id)).first()
        if row is None:
            return None
        commits = self._connection.execute(
            sa.select(run_feature_group_commits)
            .where(run_feature_group_commits.c.run_id == run_id)
            .order_by(run_feature_group_commits.c.feature_group_name, run_feature_group_commits.c.feature_group_version)
        ).all()
        values = row._mapping
        return TrainingDataLineage(
            feature_view_name=str(values["feature_view_name"]),
            feature_view_version=int(values["feature_view_version"]),
            training_dataset_version=int(values["training_dataset_version"]),
            feature_group_commits=tuple(
                FeatureGroupCommit(
                    name=str(item._mapping["feature_group_name"]),
                    version=int(item._mapping["feature_group_version"]),
                    commit=int(item._mapping["commit"]),
                )
                for item in commits
            ),
        )

    # -- queries -----------------------------------------------------------------------------------

    def search_runs(self, search: RunSearch) -> list[RunInfo]:
        """Runs matching the search, in its order, skipping its offset, up to its limit."""
        if search.limit is None or search.limit > _PAGE_BY_IDS:
            return [_run(row) for row in self._connection.execute(searched(_run_select(), search))]
        # a page: sort and cut the narrow id column first, so the database never sorts the wide rows
        # (the package list of every run) only to keep a few of them
        ids = [str(row.id) for row in self._rows(sa.select(runs.c.id), search)]
        if not ids:
            return []
        found = {str(row.id): _run(row) for row in self._connection.execute(_run_select().where(runs.c.id.in_(ids)))}
        return [found[run_id] for run_id in ids]

    def search_run_rows(self, search: RunSearch) -> pa.Table:
        """Light rows of the runs matching the search, in its order, skipping its offset, up to its limit."""
        # Arrow reads naive datetimes (SQLite's) as UTC, which is what the catalog stored
        return _arrow(self._rows(sa.select(*_LIGHT_COLUMNS), search), _LIGHT_TYPES)

    def _rows(self, query: sa.Select[Any], search: RunSearch) -> list[sa.Row[Any]]:
        query = query.join(experiments, experiments.c.id == runs.c.experiment_id)
        parts = None if search.limit is None else split_by_value(query, search)
        if parts is None:
            return list(self._connection.execute(searched(query, search)).all())
        having, lacking = parts
        limit = search.limit or 0
        rows = list(self._connection.execute(having.limit(limit).offset(search.offset)).all())
        if len(rows) == limit:
            return rows
        # the page reaches past the runs having the value: the rest comes from the runs lacking it
        had = search.offset + len(rows) if rows else self._count(having)
        rest = lacking.limit(limit - len(rows)).offset(max(0, search.offset - had))
        return rows + list(self._connection.execute(rest).all())

    def _of_runs(self, table: sa.Table, names: tuple[str, ...], run_ids: Sequence[str]) -> Sequence[sa.Row[Any]]:
        """``names`` of ``table``'s rows for the runs; many ids travel as one parameter (rendering one per id
        costs more than the query), through a statement built once."""
        is_many = len(run_ids) > _FEW_IDS
        statement = _of_runs_statement(table.name, names, self._connection.dialect.name, is_many=is_many)
        if not is_many:
            value: Any = list(run_ids)
        elif self._connection.dialect.name == "postgresql":
            value = list(run_ids)
        else:
            value = json.dumps(list(run_ids))
        return self._connection.execute(statement, {"ids": value}).all()

    def _count(self, query: sa.Select[Any]) -> int:
        return int(self._connection.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one())

    def count_runs(self, search: RunSearch) -> int:
        """How many runs match the search's experiments, ids and filter (its order, limit and offset aside)."""
        query = sa.select(sa.func.count()).select_from(runs.join(experiments, experiments.c.id == runs.c.experiment_id))
        query = narrowed(query, search)
        return int(self._connection.execute(query).scalar_one())

    def runs_for_training_data(self, feature_view_name: str, feature_view_version: int, version: int) -> list[str]:
        """Ids of the runs that recorded this training dataset version."""
        query = sa.select(run_training_data.c.run_id).where(
            run_training_data.c.feature_view_name == feature_view_name,
            run_training_data.c.feature_view_version == feature_view_version,
            run_training_data.c.training_dataset_version == version,
        )
        return [str(run_id) for run_id in self._connection.execute(query).scalars()]

    def params(self, run_ids: Sequence[str]) -> pa.Table:
        """Columns run_id, key, value."""
        rows = self._of_runs(run_params, ("run_id", "key", "value"), run_ids)
        return _arrow(rows, {"run_id": pa.string(), "key": pa.string(), "value": pa.string()})

    def latest_metrics(self, run_ids: Sequence[str]) -> pa.Table:
        """Columns run_id, key, value, step, timestamp_ms."""
        types = {
            "run_id": pa.string(),
            "key": pa.string(),
            "value": pa.float64(),
            "step": pa.int64(),
            "timestamp_ms": pa.int64(),
        }
        return _arrow(self._of_runs(run_latest_metrics, tuple(types), run_ids), types)

    def tags(self, run_ids: Sequence[str]) -> pa.Table:
        """Columns run_id, key, value; the owner the tracking records (:data:`OWNER_TAG`) left out."""
        rows = self._of_runs(run_tags, ("run_id", "key", "value"), run_ids)
        table = _arrow(rows, {"run_id": pa.string(), "key": pa.string(), "value": pa.string()})
        return table.filter(pc.not_equal(table.column("key"), OWNER_TAG))

    def run_values(self, run_ids: Sequence[str]) -> tuple[pa.Table, pa.Table, pa.Table]:
        """The runs' params, latest metric values and tags (the owner tag left out): three tables with columns
        position (of the run in ``run_ids``), key and value.

        What a search's frame needs, read through the driver's cursor on SQLite and PostgreSQL: a statement
        each, the ids as one parameter, positions instead of ids, and no result rows built on the way (this
        halves the reads' time).
        """
        dialect = self._connection.dialect.name  # the catalog is SQLite or PostgreSQL
        ids_value: Any = json.dumps(list(run_ids)) if dialect == "sqlite" else list(run_ids)
        cursor = self._connection.connection.cursor()
        try:
            found = []
            for (statement, types), extra in zip(_VALUES_SQL[dialect], ((), (), (OWNER_TAG,)), strict=True):
                cursor.execute(statement, (ids_value, *extra))
                found.append(_arrow(cursor.fetchall(), types))
        except self._connection.dialect.loaded_dbapi.Error as exc:  # as the catalog's own errors are told
            raise BackendError(f"Reading the params, metrics and tags of {len(run_ids)} runs failed: {exc}") from exc
        finally:
            cursor.close()
        return found[0], found[1], found[2]

    def running_run_owners(self) -> dict[str, str]:
        """``run id -> recorded owner`` (the value of :data:`OWNER_TAG`) of every running run that has one."""
        running = sa.select(runs.c.id).where(runs.c.status == RunStatus.RUNNING.value)
        query = sa.select(run_tags.c.run_id, run_tags.c.value).where(
            run_tags.c.run_id.in_(running.scalar_subquery()), run_tags.c.key == OWNER_TAG
        )
        return {row.run_id: row.value for row in self._connection.execute(query).all()}

    def end_running_run(self, run_id: str, status: RunStatus, end_time: datetime, error: str | None) -> bool:
        """Record how and when the run ended if it is still running; whether it was."""
        result = self._connection.execute(
            sa.update(runs)
            .where(runs.c.id == run_id, runs.c.status == RunStatus.RUNNING.value)
            .values(status=status.value, end_time=end_time, error=error)
        )
        return bool(result.rowcount)

    def metric_history(self, run_id: str, key: str) -> pa.Table:
        """Columns step, value, timestamp_ms in logging order."""
        query = (
            sa.select(run_metrics.c.step, run_metrics.c.value, run_metrics.c.timestamp_ms)
            .where(run_metrics.c.run_id == run_id, run_metrics.c.key == key)
            .order_by(run_metrics.c.id)
        )
        return _arrow(
            self._connection.execute(query).all(),
            {"step": pa.int64(), "value": pa.float64(), "timestamp_ms": pa.int64()},
        )


_PAGE_BY_IDS = 1000
_TEXT_VALUES: dict[str, pa.DataType] = {"position": pa.int64(), "key": pa.string(), "value": pa.string()}
_NUMBER_VALUES: dict[str, pa.DataType] = {"position": pa.int64(), "key": pa.string(), "value": pa.float64()}
_VALUE_TABLES = (("run_params", _TEXT_VALUES), ("run_latest_metrics", _NUMBER_VALUES), ("run_tags", _TEXT_VALUES))
#: per dialect, the statements of run_values (params, latest metric values, tags but the owner tag); json_each's
#: key is the position in the array
_VALUES_SQL: dict[str, tuple[tuple[str, dict[str, pa.DataType]], ...]] = {
    "sqlite": tuple(
        (
            f'SELECT j."key", t."key", t.value FROM json_each(?) AS j JOIN {table} AS t ON t.run_id = j.value'
            + (' WHERE t."key" <> ?' if table == "run_tags" else ""),
            types,
        )
        for table, types in _VALUE_TABLES
    ),
    "postgresql": tuple(
        (
            f'SELECT j.ordinal - 1, t."key", t.value FROM unnest(%s::text[]) WITH ORDINALITY AS j(run_id, ordinal) '
            f"JOIN {table} AS t ON t.run_id = j.run_id" + (' WHERE t."key" <> %s' if table == "run_tags" else ""),
            types,
        )
        for table, types in _VALUE_TABLES
    ),
}
_FEW_IDS = 100
_LIGHT_COLUMNS = (
    runs.c.id.label("run_id"),
    experiments.c.name.label("experiment"),
    runs.c.name,
    runs.c.status,
    runs.c.start_time,
    runs.c.end_time,
    runs.c.parent_run_id,
)
_LIGHT_TYPES: dict[str, pa.DataType] = {
    "run_id": pa.string(),
    "experiment": pa.string(),
    "name": pa.string(),
    "status": pa.string(),
    "start_time": pa.timestamp("us", tz="UTC"),
    "end_time": pa.timestamp("us", tz="UTC"),
    "parent_run_id": pa.string(),
}


@functools.cache
def _of_runs_statement(table_name: str, names: tuple[str, ...], dialect: str, *, is_many: bool) -> sa.Select[Any]:
    table = schema.metadata.tables[table_name]
    run_id = table.c.run_id
    condition: sa.ColumnElement[bool]
    if not is_many:
        condition = run_id.in_(sa.bindparam("ids", expanding=True))
    elif dialect == "postgresql":
        condition = run_id == sa.any_(sa.bindparam("ids", type_=ARRAY(sa.String)))
    else:
        listed = sa.func.json_each(sa.bindparam("ids", type_=sa.String)).table_valued("value")
        condition = run_id.in_(sa.select(listed.c.value))
    return sa.select(*(table.c[name] for name in names)).where(condition)


def _run_select() -> sa.Select[Any]:
    return sa.select(runs, experiments.c.name.label("experiment_name")).join(
        experiments, experiments.c.id == runs.c.experiment_id
    )


def _as_number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _arrow(rows: Sequence[Any], types: dict[str, pa.DataType]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in types]
    return pa.table(
        {name: pa.array(list(column), type=kind) for (name, kind), column in zip(types.items(), columns, strict=True)}
    )


def _experiment(row: sa.Row[Any]) -> Experiment:
    values = row._mapping
    return Experiment(id=int(values["id"]), name=str(values["name"]), created_at=as_utc(values["created_at"]))


def _run(row: sa.Row[Any]) -> RunInfo:
    values = row._mapping
    end_time = values["end_time"]
    return RunInfo(
        id=str(values["id"]),
        experiment=str(values["experiment_name"]),
        name=values["name"],
        status=RunStatus(values["status"]),
        start_time=as_utc(values["start_time"]),
        end_time=None if end_time is None else as_utc(end_time),
        parent_run_id=values["parent_run_id"],
        error=values["error"],
        code=CodeVersion(
            git_commit=values["git_commit"],
            is_dirty=None if values["is_dirty"] is None else bool(values["is_dirty"]),
            entry_point=values["entry_point"],
        ),
        python_version=values["python_version"],
        packages=json.loads(values["packages"] or "{}"),
    )
