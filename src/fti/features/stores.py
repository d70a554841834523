"""The stores behind the feature store: the catalog, the offline store and the online store, handed together
to every feature group, view and training dataset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fti.core.audit import audit_entry

if TYPE_CHECKING:
    from fti.backends.ports import CatalogStore, Executor, OfflineStore, OnlineStore
    from fti.core.features import FeatureGroupRecord
    from fti.core.sources import CommitLineage, SourceOpener

__all__ = ["FeatureStores"]


@dataclass(frozen=True, slots=True)
class FeatureStores:
    """The catalog (metadata), the offline store (rows) and the online store behind feature groups and views.

    ``online`` returns the project's online store, opening it on first use, so projects that never
    serve features never connect to it. ``open_source`` turns a path or URL given to ``insert`` into a
    source; ``provenance`` tells the code version and run a commit's lineage records; ``compact_after``
    is how many small files a feature group gathers before an insert compacts it (None: never);
    ``executor`` returns the project's executor, opening it on first use: on a cluster executor, whole
    point-in-time joins run in key-hash partitions on its workers (None: always in this process).
    """

    catalog: CatalogStore
    offline: OfflineStore
    online: Callable[[], OnlineStore] | None = None
    open_source: SourceOpener | None = None
    provenance: Callable[[], CommitLineage] | None = None
    compact_after: int | None = None
    executor: Callable[[], Executor] | None = None

    def audit(self, action: str, record: FeatureGroupRecord, **detail: object) -> None:
        """Record a write made outside a catalog transaction (compaction, vacuum, materialization) of the group
        ``record`` in the audit log, under the current actor."""
        with self.catalog.transaction() as tx:
            tx.audit.append(audit_entry(action, f"{record.name} v{record.version}", **detail))

    def cluster_executor(self) -> Executor | None:
        """The executor when it runs tasks on a cluster of several workers (work split by key goes there)."""
        if self.executor is None:
            return None
        executor = self.executor()
        return executor if executor.is_cluster and executor.workers > 1 else None
