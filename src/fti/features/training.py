"""Training datasets: a feature view's join materialized with its splits and the commits it read."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.core.audit import audit_entry
from fti.core.features import FeatureViewRecord, TrainingDatasetRecord
from fti.errors import NotFoundError, ValidationError
from fti.features.point_in_time import PointInTimeReader
from fti.features.sql import query_engine
from fti.features.statistics import compute_statistics
from fti.features.stores import FeatureStores

if TYPE_CHECKING:
    import pandas as pd

    from fti.features.queries import Query

__all__ = [
    "SPLITS",
    "DatasetView",
    "TrainingDataset",
    "assign_splits",
    "create_training_dataset",
    "training_dataset_table",
]

SPLITS = ("train", "validation", "test")


class DatasetView(Protocol):
    """The feature view a training dataset is read from, as the dataset sees it (a
    :class:`fti.features.FeatureView` is one): its record, labels and point-in-time query."""

    @property
    def record(self) -> FeatureViewRecord:
        """The view's catalog record."""
        ...

    @property
    def name(self) -> str:
        """The view's name."""
        ...

    @property
    def version(self) -> int:
        """The view's version."""
        ...

    @property
    def labels(self) -> list[str]:
        """The label columns."""
        ...

    @property
    def query(self) -> Query:
        """The groups and features the view joins."""
        ...


def _check_split(split: dict[str, float] | None, split_by: str) -> dict[str, float] | None:
    if split_by not in ("time", "random"):
        raise ValidationError(f"split_by must be 'time' or 'random', got {split_by!r}.")
    if split is None:
        return None
    if not isinstance(split, dict) or not split:
        raise ValidationError("split must map split names to fractions, e.g. {'train': 0.8, 'test': 0.2}.")
    unknown = [name for name in split if name not in SPLITS]
    if unknown:
        raise ValidationError(f"Unknown split {', '.join(map(repr, unknown))}: use {', '.join(SPLITS)}.")
    fractions = {name: float(split[name]) for name in SPLITS if name in split}
    if any(not 0 < value <= 1 for value in fractions.values()) or abs(sum(fractions.values()) - 1) > 1e-9:
        raise ValidationError(f"Split fractions must be in (0, 1] and add up to 1, got {split}.")
    return fractions


def assign_splits(rows: int, split: dict[str, float] | None, split_by: str, seed: int | None) -> pa.Array:
    """The split name of each row; rows are in event-time order, so a time split takes them in order."""
    names = np.empty(rows, dtype=object)
    if split is None:
        names[:] = "train"
        return pa.array(names, pa.string())
    bounds = np.rint(np.cumsum(list(split.values())) * rows).astype(np.int64)
    bounds[-1] = rows
    positions = np.arange(rows) if split_by == "time" else np.random.default_rng(seed).permutation(rows)
    low = 0
    for name, high in zip(split, bounds, strict=True):
        names[positions[low:high]] = name
        low = int(high)
    return pa.array(names, pa.string())


def _materialize(
    stores: FeatureStores, view: DatasetView, record: TrainingDatasetRecord, table_name: str
) -> dict[str, Any]:
    reader = PointInTimeReader(stores, view.query)
    joined = reader.table(reader.snapshots_at(record.sources), record.start, record.end)
    splits = assign_splits(joined.num_rows, record.split, record.split_by, record.seed)
    connection = query_engine()
    try:
        connection.register("joined", joined)
        statistics = compute_statistics(connection, "joined", joined.schema)
    finally:
        connection.close()
    stored = joined.append_column("_fti_split", splits).append_column(
        "_fti_order", pa.array(np.arange(joined.num_rows, dtype=np.int64))
    )
    stores.offline.write(table_name, stored.to_reader(max_chunksize=131_072), mode="overwrite")
    return statistics


def _table_name(view: DatasetView, version: int) -> str:
    return training_dataset_table(view.name, view.version, version)


def training_dataset_table(view_name: str, view_version: int, version: int) -> str:
    """The offline table holding training dataset ``version`` of feature view ``view_name`` v``view_version``."""
    return f"training_datasets/{view_name}_v{view_version}_{version}"


def create_training_dataset(
    stores: FeatureStores,
    view: DatasetView,
    *,
    start: datetime | None,
    end: datetime | None,
    split: dict[str, float] | None,
    split_by: str,
    seed: int | None,
    description: str,
) -> TrainingDataset:
    """Materialize the next training dataset version of ``view`` (see FeatureView.create_training_data)."""
    fractions = _check_split(split, split_by)
    if seed is None and split_by == "random" and fractions is not None:
        seed = secrets.randbits(31)
    snapshots = PointInTimeReader(stores, view.query).latest_snapshots()
    empty = [item.record.name for item in snapshots.values() if item.commit is None]
    if empty:
        raise ValidationError(
            f"Feature view '{view.name}' v{view.version} reads feature group(s) {', '.join(map(repr, empty))} "
            "that have no commits yet: insert data first."
        )
    sources = {group_id: int(item.commit) for group_id, item in snapshots.items() if item.commit is not None}
    with stores.catalog.transaction() as tx:
        version = tx.training_datasets.next_version(view.record.id)
    record = TrainingDatasetRecord(
        id=0,
        feature_view_id=view.record.id,
        version=version,
        description=description,
        start=start,
        end=end,
        split=fractions,
        split_by=split_by,
        seed=seed,
        statistics={},
        sources=sources,
        created_at=datetime.now(UTC),
    )
    statistics = _materialize(stores, view, record, _table_name(view, version))
    with stores.catalog.transaction() as tx:
        record = tx.training_datasets.add(_with_statistics(record, statistics))
        tx.audit.append(audit_entry("training_dataset.create", f"{view.name} v{view.version}/{version}"))
    return TrainingDataset(stores, view, record)


def _with_statistics(record: TrainingDatasetRecord, statistics: dict[str, Any]) -> TrainingDatasetRecord:
    return replace(record, statistics=statistics)


class TrainingDataset:
    """A materialized, versioned read of a feature view, with its splits and source commits.

    Example:
        >>> td = fv.create_training_data(split={"train": 0.8, "test": 0.2})  # doctest: +SKIP
        >>> X_train, y_train = td.train  # doctest: +SKIP
    """

    def __init__(self, stores: FeatureStores, view: DatasetView, record: TrainingDatasetRecord) -> None:
        self._stores = stores
        self.feature_view = view
        self.record = record

    @property
    def version(self) -> int:
        """The dataset's version within its feature view."""
        return self.record.version

    @property
    def statistics(self) -> dict[str, Any]:
        """Statistics of the whole dataset."""
        return self.record.statistics

    @property
    def sources(self) -> dict[str, int]:
        """The commit read from each feature group, as ``{"name:version": commit}``."""
        names = {
            part.group.record.id: f"{part.group.name}:{part.group.version}" for part in self.feature_view.query.parts
        }
        return {names.get(group_id, str(group_id)): commit for group_id, commit in self.record.sources.items()}

    # -- lineage (fti.core.lineage.TrainingDataRef and HasFeatureSchema) ------------------------------

    @property
    def feature_view_name(self) -> str:
        """Name of the feature view this dataset was read from."""
        return self.feature_view.name

    @property
    def feature_view_version(self) -> int:
        """Version of that feature view."""
        return self.feature_view.version

    @property
    def training_dataset_version(self) -> int:
        """This dataset's version (the same as ``version``)."""
        return self.version

    @property
    def feature_group_commits(self) -> dict[tuple[str, int], int]:
        """``(feature group name, version) -> commit`` for every group the dataset read."""
        groups = {part.group.record.id: part.group for part in self.feature_view.query.parts}
        return {
            (groups[group_id].name, groups[group_id].version): commit
            for group_id, commit in self.record.sources.items()
            if group_id in groups
        }

    @property
    def feature_schema(self) -> pa.Schema:
        """The feature columns (``X``: labels, keys and event time excluded) with their Arrow types."""
        schema = self._stores.offline.read(_table_name(self.feature_view, self.version)).schema
        excluded = {*self._excluded_columns(), "_fti_split", "_fti_order"}
        return pa.schema([field for field in schema if field.name not in excluded])

    def __repr__(self) -> str:
        return f"TrainingDataset(feature_view={self.feature_view.name!r}, version={self.version})"

    def read(self, split: str | None = None) -> pd.DataFrame:
        """The dataset's rows (of one split, if given), in their original order."""
        if split is not None and split not in self._split_names():
            raise NotFoundError(
                f"Training dataset {self.version} of feature view '{self.feature_view.name}' has no split {split!r}; "
                f"its splits are: {', '.join(self._split_names())}."
            )
        table = self._stores.offline.read(_table_name(self.feature_view, self.version)).to_table()
        if split is not None:
            table = table.filter(pc.equal(table.column("_fti_split"), split))
        table = table.sort_by("_fti_order").drop_columns(["_fti_split", "_fti_order"])
        frame: pd.DataFrame = table.to_pandas()
        return frame

    @property
    def train(self) -> tuple[pd.DataFrame, Any]:
        """``(X, y)`` of the training split."""
        return self._xy("train")

    @property
    def validation(self) -> tuple[pd.DataFrame, Any]:
        """``(X, y)`` of the validation split."""
        return self._xy("validation")

    @property
    def test(self) -> tuple[pd.DataFrame, Any]:
        """``(X, y)`` of the test split."""
        return self._xy("test")

    def rebuild(self) -> TrainingDataset:
        """Recompute the dataset from the recorded feature-group commits and rewrite it; identical by design."""
        _materialize(self._stores, self.feature_view, self.record, _table_name(self.feature_view, self.version))
        return self

    def _split_names(self) -> list[str]:
        return list(self.record.split or {"train": 1.0})

    def _xy(self, split: str) -> tuple[pd.DataFrame, Any]:
        frame = self.read(split)
        labels = self.feature_view.labels
        drop = self._excluded_columns()
        features = frame.drop(columns=[name for name in drop if name in frame.columns])
        target = frame[labels[0]] if len(labels) == 1 else frame[labels]
        return features, target

    def _excluded_columns(self) -> list[str]:
        spine = self.feature_view.query.spine
        return [*self.feature_view.labels, *spine.primary_key, spine.event_time]
