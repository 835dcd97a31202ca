"""INSERT ... ON CONFLICT DO NOTHING on both databases: a duplicate is stored once."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, Executable, Table
from sqlalchemy.dialects import postgresql, sqlite


@cache
def _ignoring(dialect: str, table: Table, key: str) -> Executable:
    """The INSERT ... ON CONFLICT DO NOTHING of ``table`` on ``key``, built once: building
    the statement and its cache key on every call cost about as much as running it
    (issue 18; bench/RESULTS.md)."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=[key])
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=[key])
    raise NotImplementedError(f"no insert-or-ignore for {dialect}")


def insert_or_ignore(connection: Connection, table: Table, row: dict[str, Any], key: str) -> bool:
    """Insert ``row`` unless ``key`` already holds its value; True when it was new."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        # With RETURNING (which SQLAlchemy adds for the key anyway) psycopg reports no
        # rowcount; a returned row is what tells a new row from an ignored one.
        statement = (
            postgresql.insert(table)
            .on_conflict_do_nothing(index_elements=[key])
            .returning(table.c[key])
        )
        return connection.execute(statement, row).first() is not None
    if dialect == "sqlite":
        ignoring = sqlite.insert(table).on_conflict_do_nothing(index_elements=[key])
        return connection.execute(ignoring, row).rowcount == 1
    raise NotImplementedError(f"no insert-or-ignore for {dialect}")


def insert_many_or_ignore(
    connection: Connection, table: Table, rows: list[dict[str, Any]], key: str
) -> None:
    """Insert every row whose ``key`` is new, as one statement executed for all rows."""
    connection.execute(_ignoring(connection.dialect.name, table, key), rows)
