"""Feature views: a versioned query plus labels, read point-in-time correctly for training and batch scoring."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from fti.core.features import FeatureViewRecord
from fti.errors import NotFoundError, ValidationError
from fti.features.neighbors import find_vector_part
from fti.features.online_vectors import (
    ReturnType,
    VectorPlan,
    check_return_type,
    plan_vectors,
    shape_many,
    shape_one,
    vector_one,
    vectors,
)
from fti.features.point_in_time import PointInTimeReader
from fti.features.stores import FeatureStores
from fti.features.training import TrainingDataset, create_training_dataset

if TYPE_CHECKING:
    import pandas as pd

    from fti.features.queries import Query
    from fti.features.time_travel import Snapshot

__all__ = ["FeatureView"]


class FeatureView:
    """A versioned selection of features (a point-in-time query) plus labels.

    Example:
        >>> fv = project.create_feature_view("fraud", query=labels.select(["is_fraud"]).join(cards.select_all()),
        ...                                  labels=["is_fraud"])  # doctest: +SKIP
        >>> fv.get_batch_data()  # doctest: +SKIP
    """

    def __init__(self, stores: FeatureStores, record: FeatureViewRecord, query: Query) -> None:
        self._stores = stores
        self._record = record
        self.query = query
        self._reader = PointInTimeReader(stores, query)
        self._vectors: VectorPlan | None = None

    @property
    def record(self) -> FeatureViewRecord:
        """The catalog record."""
        return self._record

    @property
    def name(self) -> str:
        """The view's name."""
        return self._record.name

    @property
    def version(self) -> int:
        """The view's version."""
        return self._record.version

    @property
    def description(self) -> str:
        """What the view is for."""
        return self._record.description

    @property
    def labels(self) -> list[str]:
        """The label columns (the training targets)."""
        return list(self._record.labels)

    def __repr__(self) -> str:
        return f"FeatureView(name={self.name!r}, version={self.version})"

    # -- reading -----------------------------------------------------------------------------------

    def get_batch_data(self, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        """The joined rows of the spine whose event time is in ``[start, end)``, ordered by event time and key."""
        frame: pd.DataFrame = self._reader.table(self._reader.latest_snapshots(), start, end).to_pandas()
        return frame

    def get_training_data(self, spine: Any) -> pd.DataFrame:
        """Join the view's features onto ``spine``: a DataFrame of keys, event times and (usually) labels.

        The result has the spine's rows in the spine's order, its columns, and each feature of the view
        not already in it, as of each row's event time.
        """
        joined = self._reader.onto(_as_table(spine), self._reader.latest_snapshots(), self._what())
        frame: pd.DataFrame = joined.to_pandas()
        return frame

    def find_neighbors(
        self,
        query: Any,
        k: int = 10,
        *,
        column: str | None = None,
        filter: dict[str, Any] | None = None,
        online: bool = True,
        model: str | None = None,
    ) -> pd.DataFrame:
        """The ``k`` entities whose vector feature is nearest ``query`` by cosine similarity, most similar first.

        The search runs over the feature group that gives the view its vector feature (``column``, by the
        view's name for it; needed only when the view has several): see
        :meth:`~fti.features.groups.FeatureGroup.find_neighbors`. The result has that group's key columns,
        the view's other features from that group (labels excluded) and ``score``.

        Example:
            >>> fv.find_neighbors("refund for a cancelled order", k=5, filter={"lang": "en"})  # doctest: +SKIP
        """
        part, name = find_vector_part(self.query, column, self._what())
        renames = {part.prefix + feature: feature for feature in part.features}
        unknown = [key for key in filter or {} if key not in renames]
        if unknown:
            raise ValidationError(
                f"find_neighbors on {self._what()}: filter on {unknown}, which are not features of the group "
                f"holding '{part.prefix + name}'; filter on one of {list(renames)}."
            )
        excluded = {*self.labels}
        features = [f for f in part.features if part.prefix + f not in excluded and f != name]
        group: Any = part.group
        found: pd.DataFrame = group.find_neighbors(
            query,
            k,
            column=name,
            filter={renames[key]: value for key, value in (filter or {}).items()},
            features=features,
            online=online,
            model=model,
        )
        return found.rename(columns={f: part.prefix + f for f in features})

    # -- online feature vectors --------------------------------------------------------------------

    def serving_keys(self) -> dict[str, pa.DataType]:
        """The entity columns a feature vector lookup needs, with their Arrow types.

        Raises:
            ValidationError: a group giving the view a feature is not online.
        """
        return dict(self._vector_plan().entity_keys)

    def get_feature_vector(
        self,
        entity: dict[str, Any],
        passed_features: dict[str, Any] | None = None,
        return_type: ReturnType = "dict",
        allow_missing: bool = True,
        *,
        now: datetime | None = None,
    ) -> Any:
        """The view's features (labels excluded, in the view's order) for one entity, from the online store.

        Each online group the view joins is looked up by its key, taken from ``entity`` as the view's query
        maps it (the spine's primary key, or a join's ``on`` columns). A value older than its group's ttl
        reads as null.

        Args:
            entity: the key values, e.g. ``{"cc_num": 4242}``.
            passed_features: values computed at request time; they supply or override features.
            return_type: ``"dict"`` (name -> value), ``"list"`` (values in order) or ``"pandas"`` (one row).
            allow_missing: give nulls for an entity the online store lacks (otherwise NotFoundError).
            now: the moment ttl is measured from (default: the current time).

        Raises:
            ValidationError: a key column is missing or of the wrong type, or a group the view joins is not
                online.
            NotFoundError: with ``allow_missing=False``, a group has no row for the entity.

        Example:
            >>> fv.get_feature_vector({"cc_num": 4242})  # doctest: +SKIP
            {'amount': 12.5, 'country': 'DE'}
        """
        chosen = check_return_type(return_type)
        if not isinstance(entity, dict):
            raise ValidationError(
                f"get_feature_vector of feature view '{self.name}' v{self.version} takes one entity as a dict, "
                f"got {type(entity).__name__}; use get_feature_vectors for several."
            )
        if passed_features is not None and not isinstance(passed_features, dict):
            raise ValidationError(f"passed_features must be a dict, got {type(passed_features).__name__}.")
        plan = self._vector_plan()
        if passed_features is None and chosen != "pandas":
            found = vector_one(plan, entity, allow_missing=allow_missing, now=now)
            if found is not None:
                return found if chosen == "dict" else list(found.values())
        table = vectors(plan, [entity], passed_features, allow_missing=allow_missing, now=now)
        return shape_one(table, chosen)

    def get_feature_vectors(
        self,
        entities: Any,
        passed_features: Any = None,
        return_type: ReturnType = "dict",
        allow_missing: bool = True,
        *,
        now: datetime | None = None,
    ) -> Any:
        """Feature vectors of many entities, with one online-store read per feature group.

        Args:
            entities: a list of key dicts, or a DataFrame (or pyarrow Table) with the key columns.
            passed_features: one dict for every entity, or a list of dicts, one per entity.
            return_type: ``"dict"`` (a list of dicts), ``"list"`` (a list of lists) or ``"pandas"``.
            allow_missing: give nulls for entities the online store lacks (otherwise NotFoundError).
            now: the moment ttl is measured from (default: the current time).

        Example:
            >>> fv.get_feature_vectors([{"cc_num": 1}, {"cc_num": 2}], return_type="pandas")  # doctest: +SKIP
        """
        chosen = check_return_type(return_type)
        table = vectors(self._vector_plan(), entities, passed_features, allow_missing=allow_missing, now=now)
        return shape_many(table, chosen)

    def _vector_plan(self) -> VectorPlan:
        if self._vectors is None:
            self._vectors = plan_vectors(self._stores, self._what(), self.query, self.labels)
        return self._vectors

    # -- training datasets -------------------------------------------------------------------------

    def create_training_data(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        split: dict[str, float] | None = None,
        split_by: str = "time",
        seed: int | None = None,
        description: str = "",
    ) -> TrainingDataset:
        """Materialize a new training dataset version from the spine rows in ``[start, end)``.

        Args:
            split: fractions per split, e.g. ``{"train": 0.7, "validation": 0.15, "test": 0.15}``.
            split_by: ``"time"`` (no validation/test row older than a training row) or ``"random"``.
            seed: for a random split (default: a random seed, recorded so the dataset can be rebuilt).
        """
        return create_training_dataset(
            self._stores, self, start=start, end=end, split=split, split_by=split_by, seed=seed, description=description
        )

    def get_training_dataset(self, version: int | None = None) -> TrainingDataset:
        """A training dataset of this view (default: the latest)."""
        with self._stores.catalog.transaction() as tx:
            record = tx.training_datasets.find(self._record.id, version)
        if record is None:
            which = "any training dataset" if version is None else f"training dataset version {version}"
            raise NotFoundError(
                f"Feature view '{self.name}' v{self.version} has no {which}: create one with create_training_data()."
            )
        return TrainingDataset(self._stores, self, record)

    def training_datasets(self) -> list[TrainingDataset]:
        """Every training dataset of this view, oldest first."""
        with self._stores.catalog.transaction() as tx:
            records = tx.training_datasets.list(self._record.id)
        return [TrainingDataset(self._stores, self, record) for record in records]

    # -- the join ----------------------------------------------------------------------------------

    def latest_snapshots(self) -> dict[int, Snapshot]:
        """Every group of the query at its latest commit, by catalog id."""
        return self._reader.latest_snapshots()

    def snapshots_at(self, commits: dict[int, int]) -> dict[int, Snapshot]:
        """Every group of the query at the given commits (by group id; missing ones at their latest)."""
        return self._reader.snapshots_at(commits)

    def batch_table(self, snapshots: dict[int, Snapshot], start: datetime | None, end: datetime | None) -> pa.Table:
        """The point-in-time join over the spine group's rows in ``[start, end)`` as an Arrow table."""
        return self._reader.table(snapshots, start, end)

    def batch_stream(
        self,
        snapshots: dict[int, Snapshot],
        start: datetime | None,
        end: datetime | None,
        batch_rows: int,
        features: Collection[str] | None = None,
        partition: tuple[int, int] | None = None,
    ) -> tuple[int, Iterator[pa.RecordBatch]]:
        """The number of rows and the join of :meth:`batch_table`, streamed in batches in no particular order;
        ``features`` limits it to those feature columns (see
        :meth:`fti.features.point_in_time.PointInTimeReader.stream`)."""
        return self._reader.stream(snapshots, start, end, batch_rows, features, partition)

    def _what(self) -> str:
        return f"feature view '{self.name}' v{self.version}"


def _as_table(data: Any) -> pa.Table:
    module = type(data).__module__
    if module.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False)
    if module.startswith("polars"):
        return data.to_arrow()
    if isinstance(data, pa.Table):
        return data
    raise ValidationError(
        f"A spine must be a pandas or Polars DataFrame or a pyarrow Table, got {type(data).__name__}."
    )
