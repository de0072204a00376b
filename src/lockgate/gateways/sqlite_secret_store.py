"""``SQLiteSecretStore``: secrets' envelopes in a SQLite file (the run store's file may be
shared: the table and its version table are its own).

Secret writes are rare, so each call runs plain sqlite3 on one dedicated thread, one
transaction per call; WAL with ``synchronous=FULL`` like the run store.
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from lockgate.errors import SecretStoreError
from lockgate.gateways.secret_store_schema import (
    ENVELOPE_COLUMNS,
    METADATA_COLUMNS,
    SQLITE_SECRET_MIGRATIONS,
    envelope,
    envelope_row,
)
from lockgate.gateways.sqlite_support import SQLiteStore, SQLiteWorker
from lockgate.models.secret import SecretEnvelope, SecretMetadata, SecretRewrap

__all__ = ["SQLiteSecretStore"]

_UPSERT = (
    "INSERT INTO lockgate_secrets (name, key_id, wrapped_key, nonce, ciphertext, created_at, "
    "updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, "
    "wrapped_key = excluded.wrapped_key, nonce = excluded.nonce, "
    "ciphertext = excluded.ciphertext, created_at = excluded.created_at, "
    "updated_at = excluded.updated_at, version = excluded.version"
)
_REWRAP = "UPDATE lockgate_secrets SET wrapped_key = ?, key_id = ? WHERE name = ? AND version = ?"


class _ConflictError(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


class SQLiteSecretStore(SQLiteStore):
    """Envelopes in the table ``lockgate_secrets`` of the SQLite file ``path``."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(
            SQLiteWorker(
                Path(path),
                what="the secret store",
                versions_table="lockgate_secret_schema",
                migrations=SQLITE_SECRET_MIGRATIONS,
                error=SecretStoreError,
                # Overwrite deleted rows' bytes, so an old ciphertext does not linger in the file.
                pragmas=("PRAGMA secure_delete = ON",),
            )
        )

    async def put(self, name: str, envelope: SecretEnvelope) -> None:
        if name != envelope.name:
            raise ValueError(f"envelope of {envelope.name!r} put under {name!r}")
        row = envelope_row(envelope)
        await self._run("write", lambda c: c.execute(_UPSERT, row))

    async def get(self, name: str) -> SecretEnvelope | None:
        def read(connection: sqlite3.Connection) -> SecretEnvelope | None:
            row = connection.execute(
                f"SELECT {ENVELOPE_COLUMNS} FROM lockgate_secrets WHERE name = ?",  # noqa: S608
                (name,),
            ).fetchone()
            return None if row is None else envelope(row)

        return await self._run("read", read)

    async def delete(self, name: str) -> bool:
        def remove(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute("DELETE FROM lockgate_secrets WHERE name = ?", (name,))
            return cursor.rowcount > 0

        return await self._run("delete", remove)

    async def list(self) -> builtins.list[SecretMetadata]:
        def read(connection: sqlite3.Connection) -> builtins.list[SecretMetadata]:
            rows = connection.execute(
                f"SELECT {METADATA_COLUMNS} FROM lockgate_secrets ORDER BY name"  # noqa: S608
            )
            return [SecretMetadata(*row) for row in rows]

        return await self._run("listing", read)

    async def rewrap(self, updates: Sequence[SecretRewrap]) -> None:
        def apply(connection: sqlite3.Connection) -> None:
            for update in updates:
                cursor = connection.execute(
                    _REWRAP, (update.wrapped_key, update.key_id, update.name, update.version)
                )
                if cursor.rowcount != 1:
                    raise _ConflictError(update.name)

        try:
            await self._run("rewrap", apply)
        except _ConflictError as conflict:
            raise SecretStoreError(
                f"secret {conflict.name!r} was deleted or replaced during the rewrap; "
                "nothing was changed, retry",
                secret=conflict.name,
            ) from None
