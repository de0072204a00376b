"""Versioned migrations for the SQLite stores (runs, secrets)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from lockgate.errors import LockgateError

__all__ = ["migrate"]


def migrate(
    connection: sqlite3.Connection,
    *,
    versions_table: str,
    migrations: Sequence[Sequence[str]],
    error: type[LockgateError],
) -> None:
    """Apply the migrations not yet recorded in ``versions_table``, inside the caller's
    transaction.

    Raises:
        error: The file records a version newer than ``migrations`` knows.
    """
    connection.execute(f"CREATE TABLE IF NOT EXISTS {versions_table} (version INTEGER NOT NULL)")
    current = connection.execute(f"SELECT max(version) FROM {versions_table}").fetchone()[0] or 0
    if current > len(migrations):
        raise error(
            f"{versions_table} is at version {current}, newer than this Lockgate knows "
            f"({len(migrations)}); upgrade Lockgate"
        )
    for version, script in enumerate(migrations, start=1):
        if version > current:
            for statement in script:
                connection.execute(statement)
            connection.execute(f"INSERT INTO {versions_table} VALUES (?)", (version,))
