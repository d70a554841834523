"""The catalog contract on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from fti.testing.catalog_store import CatalogStoreContract


class TestCatalogStores(CatalogStoreContract):
    pass
