"""The catalog: one SQLAlchemy implementation for SQLite (embedded) and PostgreSQL, with Alembic migrations."""
