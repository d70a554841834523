"""Deleting a feature group version: refused while a feature view reads it, then the catalog rows in one
transaction, then its data (the offline table, and the online rows of an online group).

A feature view's query names the groups it joins, and its training datasets record the commits they read:
the view (and the models trained on it) need the group. Its version number is free to be created again
afterwards, as a new, empty group. Catalog rows go first, then the data: a crash in between leaves orphan
files, never a group whose data is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fti.core.audit import audit_entry
from fti.errors import ConflictError, NotFoundError
from fti.features.online import online_table_name

if TYPE_CHECKING:
    from fti.features.stores import FeatureStores

__all__ = ["DeletedFeatureGroup", "delete_feature_group"]


@dataclass(frozen=True, slots=True)
class DeletedFeatureGroup:
    """What :func:`delete_feature_group` removed."""

    name: str
    version: int
    commits: int
    was_online: bool


def delete_feature_group(stores: FeatureStores, name: str, version: int) -> DeletedFeatureGroup:
    """Delete feature group ``name`` v``version`` with its commits, source cursors and data.

    Raises:
        NotFoundError: there is no such group version.
        ConflictError: a feature view reads it; nothing is deleted.
    """
    with stores.catalog.transaction() as tx:
        record = tx.feature_groups.find(name, version)
        if record is None:
            raise NotFoundError(f"Feature group '{name}' has no version {version}: see `fti features list`.")
        readers = [
            f"{view.name} v{view.version}"
            for view in tx.feature_views.list()
            if any(part["group"] == name and int(part["version"]) == version for part in view.query["parts"])
        ]
        if readers:
            raise ConflictError(
                f"Feature group '{name}' v{version} is read by feature view(s) {', '.join(readers)}, whose training "
                "datasets and models need it: it cannot be deleted while they exist."
            )
        commits = len(tx.feature_groups.commits(record.id))
        tx.feature_groups.delete(record.id)
        tx.audit.append(audit_entry("feature_group.delete", f"{name} v{version}", commits=commits))
    stores.offline.delete_table(record.table)
    if record.is_online and stores.online is not None:
        stores.online().delete_table(online_table_name(record))
    return DeletedFeatureGroup(name, version, commits, record.is_online)
