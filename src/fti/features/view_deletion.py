"""Deleting a training dataset or a feature view: refused while lineage needs it, then the catalog rows in one
transaction, then the data (each training dataset's offline table).

Model versions trained on a training dataset need it whatever ``force`` says (their lineage and retraining read
it): they are deleted first (``fti models delete``). Runs that read it are history rather than dependants: they
block the deletion unless ``force``, and then keep their record of the dataset, whose version number is never
given again while a run names it. A feature view is needed by the deployments that look features up through it
(whatever ``force`` says: the server would lose its lookups) and by its training datasets, deleted with it only
with ``force`` and by the rules above. Catalog rows go first, then the tables: a crash in between leaves orphan
files, never a dataset whose data is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fti.core.audit import audit_entry
from fti.errors import ConflictError, NotFoundError
from fti.features.training import training_dataset_table

if TYPE_CHECKING:
    from fti.backends.ports import CatalogTransaction
    from fti.core.features import FeatureViewRecord, TrainingDatasetRecord
    from fti.features.stores import FeatureStores

__all__ = ["DeletedFeatureView", "DeletedTrainingDatasets", "delete_feature_view", "delete_training_dataset"]

#: how many names an error lists before "and N more"
_SHOWN = 5


@dataclass(frozen=True, slots=True)
class DeletedTrainingDatasets:
    """What was deleted of feature view ``name`` v``version``: its training dataset versions, and the runs that
    had read them (they are kept, with their record of the dataset)."""

    name: str
    version: int
    training_datasets: tuple[int, ...]
    run_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeletedFeatureView:
    """What :func:`delete_feature_view` removed: the view version and its training datasets."""

    name: str
    version: int
    training_datasets: DeletedTrainingDatasets


def delete_training_dataset(
    stores: FeatureStores, name: str, version: int, dataset_version: int, *, force: bool
) -> DeletedTrainingDatasets:
    """Delete training dataset ``dataset_version`` of feature view ``name`` v``version`` with its table.

    Raises:
        NotFoundError: there is no such view or training dataset.
        ConflictError: model versions were trained on it, or runs read it and ``force`` is not set; nothing is
            deleted.
    """
    with stores.catalog.transaction() as tx:
        view = _view(tx, name, version)
        dataset = tx.training_datasets.find(view.id, dataset_version)
        if dataset is None:
            raise NotFoundError(
                f"Feature view '{name}' v{version} has no training dataset version {dataset_version}: see "
                f"`fti views show {name}:{version}`."
            )
        deleted = _delete_datasets(tx, view, [dataset], force=force)
    _drop_tables(stores, deleted)
    return deleted


def delete_feature_view(stores: FeatureStores, name: str, version: int, *, force: bool) -> DeletedFeatureView:
    """Delete feature view ``name`` v``version``, with its training datasets when ``force``.

    Raises:
        NotFoundError: there is no such view version.
        ConflictError: a deployment looks features up through it; or it has training datasets and ``force`` is
            not set; or one of them is needed as :func:`delete_training_dataset` says. Nothing is deleted.
    """
    with stores.catalog.transaction() as tx:
        view = _view(tx, name, version)
        latest = tx.feature_views.find(name)
        is_latest = latest is not None and latest.version == version
        serving = sorted(
            item.name for item in tx.deployments.list() if _looks_up(item.feature_lookup, name, version, is_latest)
        )
        if serving:
            raise ConflictError(
                f"Feature view '{name}' v{version} serves the feature lookups of deployment(s) {', '.join(serving)}: "
                "delete them or deploy them with another view first."
            )
        datasets = tx.training_datasets.list(view.id)
        if datasets and not force:
            raise ConflictError(
                f"Feature view '{name}' v{version} has training dataset(s) "
                f"{_names([f'v{item.version}' for item in datasets])}: pass force=True (fti views delete --force) "
                "to delete them with it."
            )
        deleted = _delete_datasets(tx, view, datasets, force=force)
        tx.feature_views.delete(view.id)
        tx.audit.append(audit_entry("feature_view.delete", f"{name} v{version}", training_datasets=len(datasets)))
    _drop_tables(stores, deleted)
    return DeletedFeatureView(name, version, deleted)


def _view(tx: CatalogTransaction, name: str, version: int) -> FeatureViewRecord:
    view = tx.feature_views.find(name, version)
    if view is None:
        raise NotFoundError(f"Feature view '{name}' has no version {version}: see `fti views list`.")
    return view


def _delete_datasets(
    tx: CatalogTransaction, view: FeatureViewRecord, datasets: list[TrainingDatasetRecord], *, force: bool
) -> DeletedTrainingDatasets:
    """Check every dataset first (nothing deleted when one is needed), then delete them all."""
    readers: dict[int, list[str]] = {
        item.version: tx.tracking.runs_for_training_data(view.name, view.version, item.version) for item in datasets
    }
    run_ids = sorted({run_id for ids in readers.values() for run_id in ids})
    models = tx.registry.versions_for_runs(run_ids) if run_ids else []
    label = f"Feature view '{view.name}' v{view.version}'s training dataset(s) {_names([str(v) for v in readers])}"
    if models:
        shown = _names([f"{item.name}:{item.version}" for item in models])
        raise ConflictError(
            f"{label}: model version(s) {shown} were trained on them, and their lineage needs them: delete those "
            "first (fti models delete NAME:VERSION)."
        )
    if run_ids and not force:
        raise ConflictError(
            f"{label} were read by run(s) {_names(run_ids)}: pass force=True (--force) to delete them anyway; the "
            "runs keep their record of what they read."
        )
    for item in datasets:
        tx.training_datasets.delete(item.id)
        tx.audit.append(audit_entry("training_dataset.delete", f"{view.name} v{view.version}/{item.version}"))
    versions = tuple(item.version for item in datasets)
    return DeletedTrainingDatasets(view.name, view.version, versions, tuple(run_ids))


def _drop_tables(stores: FeatureStores, deleted: DeletedTrainingDatasets) -> None:
    for dataset_version in deleted.training_datasets:
        stores.offline.delete_table(training_dataset_table(deleted.name, deleted.version, dataset_version))


def _looks_up(lookup: str | None, name: str, version: int, is_latest: bool) -> bool:
    """Whether a deployment's ``lookup`` (``name`` or ``name:version``; the latest version without one) reads it."""
    if lookup is None:
        return False
    view, _, view_version = lookup.partition(":")
    return view == name and (int(view_version) == version if view_version else is_latest)


def _names(items: list[str]) -> str:
    more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more
