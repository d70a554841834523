"""The feature store service: creating and finding feature groups and feature views."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fti.core.audit import audit_entry
from fti.core.features import FeatureGroupRecord, FeatureViewRecord
from fti.core.naming import validate_identifier
from fti.errors import ConflictError, NotFoundError, ValidationError
from fti.features.aggregation_groups import AggregationGroup
from fti.features.aggregations import AGGREGATION_TAG, AggregationSpec, output_schema
from fti.features.definitions import differences
from fti.features.deletion import DeletedFeatureGroup, delete_feature_group
from fti.features.expectations import Expectation
from fti.features.groups import FeatureGroup
from fti.features.ingestion import preview
from fti.features.preparation import Preparation
from fti.features.queries import Query, QueryPart
from fti.features.schema import check_online_schema, plan_schema
from fti.features.stores import FeatureStores
from fti.features.view_deletion import (
    DeletedFeatureView,
    DeletedTrainingDatasets,
    delete_feature_view,
    delete_training_dataset,
)
from fti.features.views import FeatureView

if TYPE_CHECKING:
    from collections.abc import Callable

    import pyarrow as pa

    from fti.backends.ports import CatalogStore, CatalogTransaction, Executor, OfflineStore, OnlineStore
    from fti.core.sources import CommitLineage, Source, SourceOpener

__all__ = ["FeatureStore"]


def _check_version(version: object, what: str) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValidationError(f"Invalid {what} version {version!r}: use a whole number from 1 up.")
    return version


class FeatureStore:
    """Feature groups and feature views of one project (``project.features``)."""

    def __init__(
        self,
        catalog: CatalogStore,
        offline: OfflineStore,
        online: Callable[[], OnlineStore] | None = None,
        *,
        open_source: SourceOpener | None = None,
        provenance: Callable[[], CommitLineage] | None = None,
        compact_after: int | None = None,
        executor: Callable[[], Executor] | None = None,
    ) -> None:
        self._stores = FeatureStores(catalog, offline, online, open_source, provenance, compact_after, executor)

    # -- feature groups ----------------------------------------------------------------------------

    def create_feature_group(
        self,
        name: str,
        version: int = 1,
        *,
        primary_key: Sequence[str],
        event_time: str,
        description: str = "",
        online: bool = False,
        ttl: timedelta | None = None,
        expectations: Sequence[Expectation] | None = None,
        tags: Mapping[str, str] | None = None,
        schema: pa.Schema | None = None,
    ) -> FeatureGroup:
        """Create a feature group version (see :meth:`fti.Project.create_feature_group`)."""
        record = self._new_group(
            name, version, primary_key, event_time, description, online, ttl, expectations, tags, schema
        )
        with self._stores.catalog.transaction() as tx:
            if tx.feature_groups.find(name, version) is not None:
                raise ConflictError(
                    f"Feature group '{name}' v{version} already exists: get it with get_feature_group('{name}', "
                    f"version={version}) (or get_or_create_feature_group in code that runs again) or create "
                    f"version {version + 1}."
                )
            record = tx.feature_groups.add(record)
            tx.audit.append(audit_entry("feature_group.create", f"{name} v{version}", online=online))
        return FeatureGroup(self._stores, record)

    def get_or_create_feature_group(
        self,
        name: str,
        version: int = 1,
        *,
        primary_key: Sequence[str],
        event_time: str,
        description: str = "",
        online: bool = False,
        ttl: timedelta | None = None,
        expectations: Sequence[Expectation] | None = None,
        tags: Mapping[str, str] | None = None,
        schema: pa.Schema | None = None,
    ) -> FeatureGroup:
        """The group ``name`` v``version``, created if absent (see :meth:`fti.Project.get_or_create_feature_group`)."""
        wanted = self._new_group(
            name, version, primary_key, event_time, description, online, ttl, expectations, tags, schema
        )
        with self._stores.catalog.transaction() as tx:
            existing = tx.feature_groups.find(name, version)
            record = existing or tx.feature_groups.add(wanted)
            if existing is None:
                tx.audit.append(audit_entry("feature_group.create", f"{name} v{version}", online=online))
        if existing is not None:
            different = differences(existing, wanted)
            if different:
                raise ConflictError(
                    f"Feature group '{name}' v{version} exists with another definition: {'; '.join(different)}. "
                    f"Pass the same arguments as when it was created, or create version {version + 1}."
                )
        return FeatureGroup(self._stores, record)

    def _new_group(
        self,
        name: str,
        version: int,
        primary_key: Sequence[str],
        event_time: str,
        description: str,
        online: bool,
        ttl: timedelta | None,
        expectations: Sequence[Expectation] | None,
        tags: Mapping[str, str] | None,
        schema: pa.Schema | None,
    ) -> FeatureGroupRecord:
        validate_identifier(name, "feature group name")
        _check_version(version, f"feature group '{name}'")
        keys = self._check_keys(name, primary_key, event_time)
        if ttl is not None and (not isinstance(ttl, timedelta) or ttl <= timedelta(0)):
            raise ValidationError(f"Feature group '{name}': ttl must be a positive timedelta, got {ttl!r}.")
        checks = list(expectations or [])
        if any(not isinstance(item, Expectation) for item in checks):
            raise ValidationError(
                f"Feature group '{name}': expectations must be built with fti.expect, e.g. fti.expect.not_null('x')."
            )
        specs = None
        if schema is not None:
            what = f"Schema of feature group '{name}' v{version}"
            planned = plan_schema(what, schema, None, keys, event_time)
            if online:
                check_online_schema(what, planned.target)
            specs = planned.specs
        return FeatureGroupRecord(
            id=0,
            name=name,
            version=version,
            description=str(description),
            primary_key=keys,
            event_time=event_time,
            is_online=bool(online),
            ttl_seconds=None if ttl is None else ttl.total_seconds(),
            tags={str(k): str(v) for k, v in (tags or {}).items()},
            schema=specs,
            expectations=tuple(item.to_json() for item in checks),
            created_at=datetime.now(UTC),
        )

    @staticmethod
    def _check_keys(name: str, primary_key: Sequence[str], event_time: str) -> tuple[str, ...]:
        if isinstance(primary_key, str) or not primary_key:
            raise ValidationError(
                f"Feature group '{name}': primary_key must be a non-empty list of column names, e.g. ['cc_num']."
            )
        keys = tuple(validate_identifier(column, "primary key column") for column in primary_key)
        validate_identifier(event_time, "event time column")
        if event_time in keys or len(set(keys)) != len(keys):
            raise ValidationError(
                f"Feature group '{name}': primary key {list(keys)} must have distinct columns and must not "
                f"include the event time '{event_time}'."
            )
        return keys

    def get_feature_group(self, name: str, version: int | None = None) -> FeatureGroup:
        """The feature group ``name`` at ``version`` (None: the latest); NotFoundError if absent."""
        validate_identifier(name, "feature group name")
        with self._stores.catalog.transaction() as tx:
            record = tx.feature_groups.find(name, version)
            if record is None:
                raise NotFoundError(
                    _missing("Feature group", name, version, [r.name for r in tx.feature_groups.list()])
                )
        return FeatureGroup(self._stores, record)

    def delete_feature_group(self, name: str, version: int) -> DeletedFeatureGroup:
        """Delete a feature group version with its data (see :meth:`fti.Project.delete_feature_group`)."""
        validate_identifier(name, "feature group name")
        return delete_feature_group(self._stores, name, _check_version(version, f"feature group '{name}'"))

    def delete_feature_view(self, name: str, version: int, *, force: bool = False) -> DeletedFeatureView:
        """Delete a feature view version (see :meth:`fti.Project.delete_feature_view`)."""
        validate_identifier(name, "feature view name")
        return delete_feature_view(self._stores, name, _check_version(version, f"feature view '{name}'"), force=force)

    def delete_training_dataset(
        self, name: str, version: int, training_dataset_version: int, *, force: bool = False
    ) -> DeletedTrainingDatasets:
        """Delete a training dataset of a feature view (see :meth:`fti.Project.delete_training_dataset`)."""
        validate_identifier(name, "feature view name")
        view_version = _check_version(version, f"feature view '{name}'")
        dataset_version = _check_version(training_dataset_version, f"training dataset of '{name}' v{version}")
        return delete_training_dataset(self._stores, name, view_version, dataset_version, force=force)

    def feature_groups(self, search: str | None = None) -> list[FeatureGroup]:
        """Every feature group version, or those whose name, description, features or tags contain ``search``."""
        with self._stores.catalog.transaction() as tx:
            records = tx.feature_groups.list()
        needle = (search or "").lower()
        found = [record for record in records if not needle or needle in _searchable(record)]
        return [FeatureGroup(self._stores, record) for record in found]

    def create_aggregation_group(
        self,
        name: str,
        version: int = 1,
        *,
        spec: AggregationSpec,
        description: str = "",
        online: bool = False,
        ttl: timedelta | None = None,
    ) -> AggregationGroup:
        """Create an aggregation group version (see :meth:`fti.Project.create_aggregation_group`)."""
        group = self.create_feature_group(
            name,
            version,
            primary_key=list(spec.key),
            event_time=spec.event_time,
            description=description,
            online=online,
            ttl=ttl,
            tags={AGGREGATION_TAG: spec.to_json()},
            schema=output_schema(spec),
        )
        return AggregationGroup(self._stores, group)

    def get_aggregation_group(self, name: str, version: int | None = None) -> AggregationGroup:
        """The aggregation group ``name`` at ``version`` (None: the latest); NotFoundError if absent."""
        return AggregationGroup(self._stores, self.get_feature_group(name, version))

    def preview(self, source: Source, group: FeatureGroup | None, rows: int, preparation: Preparation) -> pa.Table:
        """The first ``rows`` prepared rows of ``source`` since ``group``'s cursor (see :meth:`fti.Project.preview`)."""
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            raise ValidationError(f"rows must be a positive whole number, got {rows!r}.")
        return preview(self._stores, None if group is None else group.record, source, preparation, rows)

    # -- feature views -----------------------------------------------------------------------------

    def create_feature_view(
        self, name: str, version: int = 1, *, query: Query, labels: Sequence[str] | None = None, description: str = ""
    ) -> FeatureView:
        """Create a feature view version (see :meth:`fti.Project.create_feature_view`)."""
        record = self._new_view(name, version, query, labels, description)
        with self._stores.catalog.transaction() as tx:
            if tx.feature_views.find(name, version) is not None:
                raise ConflictError(
                    f"Feature view '{name}' v{version} already exists: get it with get_feature_view('{name}', "
                    f"version={version}) (or get_or_create_feature_view in code that runs again) or create "
                    f"version {version + 1}."
                )
            record = tx.feature_views.add(record)
            tx.audit.append(audit_entry("feature_view.create", f"{name} v{version}"))
        return FeatureView(self._stores, record, query)

    def get_or_create_feature_view(
        self, name: str, version: int = 1, *, query: Query, labels: Sequence[str] | None = None, description: str = ""
    ) -> FeatureView:
        """The view ``name`` v``version``, created if absent (see :meth:`fti.Project.get_or_create_feature_view`)."""
        wanted = self._new_view(name, version, query, labels, description)
        with self._stores.catalog.transaction() as tx:
            existing = tx.feature_views.find(name, version)
            record = existing or tx.feature_views.add(wanted)
            if existing is None:
                tx.audit.append(audit_entry("feature_view.create", f"{name} v{version}"))
            found = query if existing is None else self._load_query(tx, existing)
        if existing is not None:
            different = [
                f"{what} is {was!r}, not {asked!r}"
                for what, was, asked in (
                    ("the query", _query_text(existing.query), _query_text(wanted.query)),
                    ("labels", list(existing.labels), list(wanted.labels)),
                    ("description", existing.description, wanted.description),
                )
                if was != asked
            ]
            if different:
                raise ConflictError(
                    f"Feature view '{name}' v{version} exists with another definition: {'; '.join(different)}. "
                    f"Pass the same arguments as when it was created, or create version {version + 1}."
                )
        return FeatureView(self._stores, record, found)

    @staticmethod
    def _new_view(
        name: str, version: int, query: Query, labels: Sequence[str] | None, description: str
    ) -> FeatureViewRecord:
        validate_identifier(name, "feature view name")
        _check_version(version, f"feature view '{name}'")
        if not isinstance(query, Query):
            raise ValidationError(
                f"Feature view '{name}': query must be built from feature groups, e.g. labels.select(['y'])."
            )
        label_names = list(labels or [])
        spine = query.spine
        features = query.columns()[len(spine.primary_key) + 1 :]
        unknown = [label for label in label_names if label not in features]
        if unknown:
            raise ValidationError(
                f"Feature view '{name}': label {', '.join(map(repr, unknown))} is not a feature of the query; "
                f"choose among {', '.join(features)}."
            )
        return FeatureViewRecord(
            id=0,
            name=name,
            version=version,
            description=str(description),
            query=query.to_json(),
            labels=tuple(label_names),
            created_at=datetime.now(UTC),
        )

    def get_feature_view(self, name: str, version: int | None = None) -> FeatureView:
        """The feature view ``name`` at ``version`` (None: the latest); NotFoundError if absent."""
        validate_identifier(name, "feature view name")
        with self._stores.catalog.transaction() as tx:
            record = tx.feature_views.find(name, version)
            if record is None:
                known = [item.name for item in tx.feature_views.list()]
                raise NotFoundError(_missing("Feature view", name, version, known))
            query = self._load_query(tx, record)
        return FeatureView(self._stores, record, query)

    def feature_views(self, search: str | None = None) -> list[FeatureView]:
        """Every feature view version, or those whose name or description contain ``search``."""
        needle = (search or "").lower()
        with self._stores.catalog.transaction() as tx:
            records = [
                record
                for record in tx.feature_views.list()
                if not needle or needle in f"{record.name} {record.description}".lower()
            ]
            return [FeatureView(self._stores, record, self._load_query(tx, record)) for record in records]

    def _load_query(self, tx: CatalogTransaction, record: FeatureViewRecord) -> Query:
        parts = []
        for item in record.query["parts"]:
            group = tx.feature_groups.find(str(item["group"]), int(item["version"]))
            if group is None:
                raise NotFoundError(
                    f"Feature view '{record.name}' v{record.version} reads feature group '{item['group']}' "
                    f"v{item['version']}, which no longer exists."
                )
            parts.append(
                QueryPart(
                    FeatureGroup(self._stores, group),
                    tuple(item["features"]),
                    tuple(item["on"]),
                    str(item["prefix"]),
                )
            )
        return Query(tuple(parts))


def _query_text(query: Mapping[str, Any]) -> str:
    """A stored query as one line: each group's name, version, features, join keys and prefix."""
    parts = []
    for part in query["parts"]:
        joined = f" on {','.join(part['on'])}" if part["on"] else ""
        prefix = f" prefix {part['prefix']!r}" if part["prefix"] else ""
        parts.append(f"{part['group']}:{part['version']}[{', '.join(part['features'])}]{joined}{prefix}")
    return " + ".join(parts)


def _searchable(record: FeatureGroupRecord) -> str:
    features = " ".join(spec.name for spec in record.schema or ())
    tags = " ".join(f"{key} {value}" for key, value in record.tags.items())
    return f"{record.name} {record.description} {features} {tags}".lower()


def _missing(what: str, name: str, version: int | None, known: list[str]) -> str:
    which = f"'{name}'" if version is None else f"'{name}' v{version}"
    names = ", ".join(sorted(set(known))) or "none yet"
    return f"{what} {which} does not exist; known: {names}."
