"""The two stores the feature store works on, and the DuckDB sessions that query them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from fti.backends.ports import CatalogStore, OfflineStore

__all__ = ["FeatureStores", "query_engine"]


@dataclass(frozen=True, slots=True)
class FeatureStores:
    """The catalog (metadata) and the offline store (rows) behind feature groups and views."""

    catalog: CatalogStore
    offline: OfflineStore


def query_engine() -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB session; times compare and print in UTC."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    return connection
