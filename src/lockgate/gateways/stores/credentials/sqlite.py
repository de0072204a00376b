"""``SQLiteCredentialStore``: tokens and API keys in the run store's SQLite file (tables of
their own). Each call is one ``BEGIN IMMEDIATE`` transaction on the store's own thread."""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Mapping
from pathlib import Path

from lockgate.errors import CredentialExistsError, RunStoreError
from lockgate.gateways.stores.credentials.ports import UsageKey
from lockgate.gateways.stores.credentials.schema import (
    COLUMNS,
    SQLITE_MIGRATIONS,
    VERSIONS,
    credential,
    credential_row,
)
from lockgate.gateways.stores.sqlite_base import SQLiteStore, SQLiteWorker
from lockgate.models.security.principals import Credential, CredentialKind

__all__ = ["SQLiteCredentialStore"]

_INSERT = f"INSERT INTO lockgate_credentials ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
_FIND = f"SELECT {COLUMNS} FROM lockgate_credentials WHERE secret_hash = ?"  # noqa: S608
_LIST = f"SELECT {COLUMNS} FROM lockgate_credentials WHERE kind = ? ORDER BY name"  # noqa: S608
_TOUCH = (
    "UPDATE lockgate_credentials SET last_used_at = ?2 "
    "WHERE credential_id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)"
)
_ADD_USAGE = (
    "INSERT INTO lockgate_credential_usage (credential_id, period, count) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (credential_id, period) DO UPDATE SET count = count + excluded.count "
    "RETURNING count"
)
_DROP_OLD_USAGE = "DELETE FROM lockgate_credential_usage WHERE credential_id = ?1 AND period <> ?2"


class SQLiteCredentialStore(SQLiteStore):
    """Credentials in the tables ``lockgate_credentials`` and ``lockgate_credential_usage``
    of the SQLite file ``path``."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(
            SQLiteWorker(
                Path(path),
                what="the credential store",
                versions_table=VERSIONS,
                migrations=SQLITE_MIGRATIONS,
                error=RunStoreError,
            )
        )

    async def add(self, credential: Credential) -> None:
        row = credential_row(credential)

        def insert(connection: sqlite3.Connection) -> bool:
            try:
                connection.execute(_INSERT, row)
            except sqlite3.IntegrityError:
                return False
            return True

        if not await self._run(f"adding {credential.kind.value} {credential.name!r}", insert):
            raise CredentialExistsError(
                f"a {credential.kind.value} named {credential.name!r} exists already",
                name=credential.name,
            )

    async def find(self, secret_hash: str) -> Credential | None:
        def read(connection: sqlite3.Connection) -> Credential | None:
            row = connection.execute(_FIND, (secret_hash,)).fetchone()
            return None if row is None else credential(row)

        return await self._run("looking up a credential", read)

    async def list(self, kind: CredentialKind) -> builtins.list[Credential]:
        def read(connection: sqlite3.Connection) -> builtins.list[Credential]:
            return [credential(row) for row in connection.execute(_LIST, (kind.value,))]

        return await self._run(f"listing {kind.value}s", read)

    async def revoke(self, kind: CredentialKind, name: str) -> bool:
        def delete(connection: sqlite3.Connection) -> bool:
            row = connection.execute(
                "DELETE FROM lockgate_credentials WHERE kind = ? AND name = ? "
                "RETURNING credential_id",
                (kind.value, name),
            ).fetchone()
            if row is None:
                return False
            connection.execute(
                "DELETE FROM lockgate_credential_usage WHERE credential_id = ?", (row[0],)
            )
            return True

        return await self._run(f"revoking {kind.value} {name!r}", delete)

    async def touch(self, last_used: Mapping[str, float]) -> None:
        rows = list(last_used.items())
        if rows:
            await self._run("recording credential use", lambda c: c.executemany(_TOUCH, rows))

    async def add_usage(self, counts: Mapping[UsageKey, int]) -> dict[UsageKey, int]:
        def add(connection: sqlite3.Connection) -> dict[UsageKey, int]:
            totals: dict[UsageKey, int] = {}
            for (credential_id, period), count in counts.items():
                connection.execute(_DROP_OLD_USAGE, (credential_id, period))
                row = connection.execute(_ADD_USAGE, (credential_id, period, count)).fetchone()
                totals[credential_id, period] = int(row[0])
            return totals

        return await self._run("counting API key usage", add) if counts else {}
