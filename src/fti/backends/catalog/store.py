"""The SQL catalog store: engine lifecycle, schema creation under a lock, migrations, transactions."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from filelock import FileLock
from pydantic import BaseModel, ConfigDict
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url

from fti.backends.catalog import schema
from fti.backends.catalog.migrations import HEADS
from fti.backends.catalog.repositories.artifacts import SqlArtifactRecords
from fti.backends.catalog.repositories.features import (
    SqlFeatureGroupRecords,
    SqlFeatureViewRecords,
    SqlTrainingDatasetRecords,
)
from fti.backends.catalog.repositories.orchestration import SqlEventRecords, SqlPipelineRecords
from fti.backends.catalog.repositories.registry import SqlRegistryRecords
from fti.backends.catalog.repositories.serving import SqlAuditRecords, SqlDeploymentRecords, SqlTokenRecords
from fti.backends.catalog.repositories.sources import SqlSourceCursorRecords
from fti.backends.catalog.repositories.tracking import SqlTrackingRecords
from fti.backends.settings import parse_backend_config
from fti.core.records import SchemaState, SchemaStatus
from fti.errors import BackendError, CatalogSchemaError, MissingExtraError

if TYPE_CHECKING:
    from fti.backends.ports import (
        ArtifactRecords,
        AuditRecords,
        DeploymentRecords,
        EventRecords,
        FeatureGroupRecords,
        FeatureViewRecords,
        PipelineRecords,
        RegistryRecords,
        SourceCursorRecords,
        TokenRecords,
        TrackingRecords,
        TrainingDatasetRecords,
    )

__all__ = ["SqlCatalogConfig", "SqlCatalogStore", "SqlCatalogTransaction"]

_MIGRATIONS = Path(__file__).parent / "migrations"
#: arbitrary constant: the PostgreSQL advisory lock that serializes schema creation and upgrades
_PG_LOCK_ID = 0x46544953


class SqlCatalogConfig(BaseModel):
    """Settings of the SQL catalog: a SQLAlchemy URL (``sqlite:///path`` or ``postgresql://...``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str
    echo: bool = False


class SqlCatalogTransaction:
    """One catalog transaction; domain record repositories share its connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @property
    def artifacts(self) -> ArtifactRecords:
        """Artifact records."""
        return SqlArtifactRecords(self._connection)

    @property
    def tracking(self) -> TrackingRecords:
        """Experiment and run records."""
        return SqlTrackingRecords(self._connection)

    @property
    def registry(self) -> RegistryRecords:
        """Model registry records."""
        return SqlRegistryRecords(self._connection)

    @property
    def feature_groups(self) -> FeatureGroupRecords:
        """Feature group and commit records."""
        return SqlFeatureGroupRecords(self._connection)

    @property
    def feature_views(self) -> FeatureViewRecords:
        """Feature view records."""
        return SqlFeatureViewRecords(self._connection)

    @property
    def training_datasets(self) -> TrainingDatasetRecords:
        """Training dataset records."""
        return SqlTrainingDatasetRecords(self._connection)

    @property
    def deployments(self) -> DeploymentRecords:
        """Deployment records."""
        return SqlDeploymentRecords(self._connection)

    @property
    def tokens(self) -> TokenRecords:
        """API token records."""
        return SqlTokenRecords(self._connection)

    @property
    def audit(self) -> AuditRecords:
        """The audit log."""
        return SqlAuditRecords(self._connection)

    @property
    def source_cursors(self) -> SourceCursorRecords:
        """The last cursor of each source of each feature group."""
        return SqlSourceCursorRecords(self._connection)

    @property
    def events(self) -> EventRecords:
        """The event log."""
        return SqlEventRecords(self._connection)

    @property
    def pipelines(self) -> PipelineRecords:
        """Pipelines and pipeline runs."""
        return SqlPipelineRecords(self._connection)


class SqlCatalogStore:
    """Catalog on SQLite (WAL mode, embedded default) or PostgreSQL, through one SQLAlchemy code path."""

    def __init__(self, config: SqlCatalogConfig) -> None:
        self.config = config
        self._engine: Engine | None = None

    @classmethod
    def config_from(cls, options: Mapping[str, Any]) -> SqlCatalogConfig:
        """Validate this backend's options."""
        return parse_backend_config(SqlCatalogConfig, options, "catalog")

    # -- lifecycle ---------------------------------------------------------------------------------

    def open(self) -> None:
        """Create the engine; nothing is written."""
        if self._engine is not None:
            return
        url = make_url(self.config.url)
        if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        try:
            if url.get_backend_name() == "sqlite":
                self._engine = _sqlite_engine(url, self.config.echo)
            else:
                self._engine = _server_engine(url, self.config.echo)
        except ModuleNotFoundError as exc:
            raise MissingExtraError.for_backend("postgresql", "postgres") from exc

    def close(self) -> None:
        """Dispose of the connection pool."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @property
    def engine(self) -> Engine:
        """The open engine."""
        if self._engine is None:
            raise BackendError("The catalog is not open: call open() first.")
        return self._engine

    def ping(self) -> None:
        """Run a trivial query."""
        with self._connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            connection.rollback()

    def describe(self) -> str:
        """The URL without its password."""
        return make_url(self.config.url).render_as_string(hide_password=True)

    # -- schema ------------------------------------------------------------------------------------

    def schema_state(self) -> SchemaState:
        """Compare the database's Alembic revisions with the code's heads."""
        with self._connect() as connection:
            return self._state(connection)

    def upgrade(self) -> SchemaState:
        """Bring the schema to the code's heads under a cross-process lock; a no-op when current."""
        with self._schema_lock(), self._connect() as connection:
            state = self._state(connection)
            if state.status is SchemaStatus.AHEAD:
                raise _ahead_error(self.describe(), state)
            if state.status is SchemaStatus.CURRENT:
                return state
            from alembic import command
            from alembic.config import Config as AlembicConfig

            alembic_config = AlembicConfig()
            alembic_config.set_main_option("script_location", str(_MIGRATIONS))
            alembic_config.attributes["connection"] = connection
            with connection.begin():
                command.upgrade(alembic_config, "heads")
            after = self._state(connection)
            applied = _revisions_between(state.current, after.current)
            return SchemaState(after.status, after.current, after.expected, applied)

    def _state(self, connection: Connection) -> SchemaState:
        if _recorded_heads(connection) == HEADS:
            return SchemaState(status=SchemaStatus.CURRENT, current=HEADS, expected=HEADS)
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        expected = tuple(sorted(ScriptDirectory(str(_MIGRATIONS)).get_heads()))
        known = {rev.revision for rev in ScriptDirectory(str(_MIGRATIONS)).walk_revisions()}
        current = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
        connection.rollback()
        if not current:
            status = SchemaStatus.EMPTY
        elif current == expected:
            status = SchemaStatus.CURRENT
        elif set(current) <= known:
            status = SchemaStatus.BEHIND
        else:
            status = SchemaStatus.AHEAD
        return SchemaState(status=status, current=current, expected=expected)

    @contextmanager
    def _schema_lock(self) -> Iterator[None]:
        url = self.engine.url
        if url.get_backend_name() == "sqlite":
            database = url.database or ""
            lock_path = Path(database + ".lock") if database and database != ":memory:" else None
            if lock_path is None:
                yield
                return
            with FileLock(str(lock_path), timeout=120):
                yield
            return
        with self._connect() as lock_connection:
            lock_connection.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": _PG_LOCK_ID})
            try:
                yield
            finally:
                lock_connection.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": _PG_LOCK_ID})
                lock_connection.commit()

    # -- data --------------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[SqlCatalogTransaction]:
        """Commit on normal exit, roll back on an exception; driver errors become BackendError."""
        try:
            with self.engine.begin() as connection:
                yield SqlCatalogTransaction(connection)
        except sa.exc.SQLAlchemyError as exc:
            raise BackendError(f"Catalog {self.describe()} failed: {_short(exc)}") from exc

    @contextmanager
    def reading(self) -> Iterator[SqlCatalogTransaction]:
        """A read-only transaction: one consistent snapshot, and a write in it fails (driver errors become
        BackendError). On SQLite it takes no lock: it neither waits for a writer nor makes one wait."""
        try:
            with self.engine.connect() as connection:
                connection.execution_options(**{_READ_ONLY: True})
                with connection.begin():
                    yield SqlCatalogTransaction(connection)
        except sa.exc.SQLAlchemyError as exc:
            raise BackendError(f"Catalog {self.describe()} failed: {_short(exc)}") from exc

    def counts(self) -> dict[str, int]:
        """Rows per catalog table (excluding Alembic's own)."""
        with self._connect() as connection:
            inspector = sa.inspect(connection)
            names = [name for name in inspector.get_table_names() if name in schema.metadata.tables]
            return {
                name: int(connection.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one())
                for name in sorted(names)
            }

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as connection:
                yield connection
        except sa.exc.OperationalError as exc:
            raise BackendError(f"Catalog {self.describe()} is unreachable: {_short(exc)}") from exc


def _sqlite_engine(url: sa.URL, echo: bool) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, echo=echo, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Manage transactions ourselves so that DDL is transactional and writers queue on BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for attempt in range(50):
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                break
            except Exception:  # the first connections may race to switch the journal mode
                if attempt == 49:
                    raise
                time.sleep(0.05)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        is_read = bool(connection.get_execution_options().get(_READ_ONLY))
        info = connection.connection.info
        if info.get(_READ_ONLY, False) != is_read:  # query_only follows the kind of transaction, switched on change
            connection.exec_driver_sql(f"PRAGMA query_only = {'ON' if is_read else 'OFF'}")
            info[_READ_ONLY] = is_read
        # a read: deferred, it reads a snapshot of the WAL without the write lock (query_only refuses writes);
        # a write: IMMEDIATE takes the write lock up front, no SQLITE_BUSY when a read later turns into a write
        connection.exec_driver_sql("BEGIN" if is_read else "BEGIN IMMEDIATE")

    return engine


def _server_engine(url: sa.URL, echo: bool) -> Engine:
    engine = sa.create_engine(url, echo=echo, pool_pre_ping=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(_READ_ONLY):
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")

    return engine


#: the execution option that makes a connection's transaction read-only (:meth:`SqlCatalogStore.reading`)
_READ_ONLY = "fti_read_only"


def _recorded_heads(connection: Connection) -> tuple[str, ...]:
    """The revisions in the database's ``alembic_version`` table (none when it has no such table), sorted."""
    if not sa.inspect(connection).has_table("alembic_version"):
        connection.rollback()
        return ()
    heads = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    connection.rollback()
    return tuple(sorted(str(head) for head in heads))


def _revisions_between(start: tuple[str, ...], end: tuple[str, ...]) -> tuple[str, ...]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(_MIGRATIONS))
    lower = start or None
    return tuple(
        reversed([rev.revision for rev in script.iterate_revisions(end, lower or "base") if rev.revision not in start])
    )


def _ahead_error(where: str, state: SchemaState) -> CatalogSchemaError:
    return CatalogSchemaError(
        f"Catalog {where} is at schema revision {', '.join(state.current)}, which this version of fti "
        "does not know: it was written by a newer fti. Upgrade fti to use it."
    )


def _short(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
