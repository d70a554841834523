"""Inserting a row that concurrent writers may insert too (the first use of an experiment or a model name)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["insert_if_absent"]


def insert_if_absent(connection: Connection, statement: sa.Insert) -> bool:
    """Run ``statement`` in a savepoint; whether it inserted (False: a unique row of another transaction, committed
    meanwhile, was in the way, and the surrounding transaction goes on as if the insert was not tried).

    SQLite's writers queue on BEGIN, so only PostgreSQL's can meet here.
    """
    try:
        with connection.begin_nested():
            connection.execute(statement)
    except sa.exc.IntegrityError:
        return False
    return True
