"""The stores behind the feature store: the catalog, the offline store and the online store, handed together
to every feature group, view and training dataset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fti.backends.ports import CatalogStore, OfflineStore, OnlineStore

__all__ = ["FeatureStores"]


@dataclass(frozen=True, slots=True)
class FeatureStores:
    """The catalog (metadata), the offline store (rows) and the online store behind feature groups and views.

    ``online`` returns the project's online store, opening it on first use, so projects that never
    serve features never connect to it.
    """

    catalog: CatalogStore
    offline: OfflineStore
    online: Callable[[], OnlineStore] | None = None
