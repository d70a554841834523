"""Record repositories of the SQL catalog, one module per domain, each working inside a transaction."""
