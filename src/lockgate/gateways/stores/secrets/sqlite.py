"""``SQLiteSecretStore``: secrets' envelopes in a SQLite file (the run store's file may be
shared: the tables and their version table are its own).

Secret writes are rare, so each call runs plain sqlite3 on one dedicated thread, one
transaction per call; WAL with ``synchronous=FULL`` like the run store. Writes and
rotations run in ``BEGIN IMMEDIATE`` transactions, which take the database's one write
lock first: a write that checks the current master key and the rotation that changes it
are serialised across every connection and process, and a rotation waits for the writes
in progress rather than racing them.
"""

from __future__ import annotations

import builtins
import sqlite3
from pathlib import Path

from lockgate.errors import SecretStoreError
from lockgate.gateways.stores.secrets.keyring import checked_key, rewrapped
from lockgate.gateways.stores.secrets.schema import (
    ENVELOPE_COLUMNS,
    KEY_STATE_QUERY,
    METADATA_COLUMNS,
    SQLITE_SECRET_MIGRATIONS,
    envelope,
    envelope_row,
)
from lockgate.gateways.stores.sqlite_base import SQLiteStore, SQLiteWorker
from lockgate.models.secret import (
    RewrapDataKey,
    SealSecret,
    SecretEnvelope,
    SecretKeyState,
    SecretMetadata,
)

__all__ = ["SQLiteSecretStore"]

_UPSERT = (
    f"INSERT INTO lockgate_secrets ({ENVELOPE_COLUMNS}) "  # noqa: S608 (constant columns)
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, "
    "wrapped_key = excluded.wrapped_key, nonce = excluded.nonce, "
    "ciphertext = excluded.ciphertext, created_at = excluded.created_at, "
    "updated_at = excluded.updated_at, version = excluded.version, "
    "previous_key_id = excluded.previous_key_id, "
    "previous_wrapped_key = excluded.previous_wrapped_key"
)
_CURRENT_KEY = "SELECT current_key_id FROM lockgate_secret_keyring WHERE id = 1"
_SET_CURRENT_KEY = "UPDATE lockgate_secret_keyring SET current_key_id = ? WHERE id = 1"
_OTHER_KEYS = "SELECT DISTINCT key_id FROM lockgate_secrets WHERE key_id <> ?"
_ALL = f"SELECT {ENVELOPE_COLUMNS} FROM lockgate_secrets ORDER BY name"  # noqa: S608
_REWRAP = (
    "UPDATE lockgate_secrets SET key_id = ?, wrapped_key = ?, previous_key_id = ?, "
    "previous_wrapped_key = ? WHERE name = ?"
)


class SQLiteSecretStore(SQLiteStore):
    """Envelopes in the table ``lockgate_secrets`` of the SQLite file ``path``, the current
    master key id in ``lockgate_secret_keyring``."""

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

    async def put(self, name: str, seal: SealSecret) -> SecretEnvelope:
        def write(connection: sqlite3.Connection) -> SecretEnvelope:
            # The worker's transaction began IMMEDIATE: the write lock is held from here on.
            current = connection.execute(_CURRENT_KEY).fetchone()[0]
            row = connection.execute(
                f"SELECT {METADATA_COLUMNS} FROM lockgate_secrets WHERE name = ?",  # noqa: S608
                (name,),
            ).fetchone()
            sealed = seal(None if row is None else SecretMetadata(*row))
            if sealed.name != name:
                raise SecretStoreError(f"envelope of {sealed.name!r} put under {name!r}")
            others = (
                [r[0] for r in connection.execute(_OTHER_KEYS, (sealed.key_id,))]
                if current is None
                else []
            )
            key_id = checked_key(current, sealed, others)
            if key_id != current:
                connection.execute(_SET_CURRENT_KEY, (key_id,))
            connection.execute(_UPSERT, envelope_row(sealed))
            return sealed

        return await self._run("write", write)

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

    async def key_state(self) -> SecretKeyState:
        def read(connection: sqlite3.Connection) -> SecretKeyState:
            current = connection.execute(_CURRENT_KEY).fetchone()[0]
            rows = connection.execute(KEY_STATE_QUERY).fetchall()
            return SecretKeyState(current, tuple((r[0], r[1], r[2]) for r in rows))

        return await self._run("key state", read)

    async def rewrap_all(self, key_id: str, rewrap: RewrapDataKey, *, keep_previous: bool) -> int:
        def apply(connection: sqlite3.Connection) -> int:
            # One IMMEDIATE transaction: writes from any connection wait until it commits,
            # then meet the new current key.
            stored = [envelope(row) for row in connection.execute(_ALL).fetchall()]
            for old in stored:
                new = rewrapped(old, key_id, rewrap(old), keep_previous=keep_previous)
                connection.execute(
                    _REWRAP,
                    (
                        new.key_id,
                        new.wrapped_key,
                        new.previous_key_id,
                        new.previous_wrapped_key,
                        new.name,
                    ),
                )
            connection.execute(_SET_CURRENT_KEY, (key_id,))
            return len(stored)

        return await self._run("rewrap", apply)
