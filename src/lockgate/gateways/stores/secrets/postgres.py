"""``PostgresSecretStore``: secrets' envelopes in PostgreSQL, in the run store's schema
(the tables and their version table are their own). Writes are rare: each is one
transaction on a small pool.

Every write and every rotation first locks the one keyring row (``SELECT ... FOR UPDATE``),
which holds the current master key id: a write checks the key under that lock and a
rotation changes it under that lock, so across every node sharing the database they take
turns. PostgreSQL queues lock waiters in order, so a rotation waits only for the writes
ahead of it, and the writes behind it then see the new key: steady writes cannot starve it.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeAlias, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from lockgate.errors import LockgateError, SecretStoreError
from lockgate.gateways.stores.postgres_base import DRIVER_ERRORS, SchemaPool, SchemaPoolStore
from lockgate.gateways.stores.secrets.keyring import checked_key, rewrapped
from lockgate.gateways.stores.secrets.schema import (
    ENVELOPE_COLUMNS,
    KEY_STATE_QUERY,
    METADATA_COLUMNS,
    POSTGRES_SECRET_MIGRATIONS,
    envelope,
    envelope_row,
)
from lockgate.models.secret import (
    RewrapDataKey,
    SealSecret,
    SecretEnvelope,
    SecretKeyState,
    SecretMetadata,
)

__all__ = ["PostgresSecretStore"]

T = TypeVar("T")

if TYPE_CHECKING:  # asyncpg's classes are generic only in its stubs
    _Connection: TypeAlias = (
        asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
    )
_MIGRATION_LOCK = 0x4C6B5363  # with hashtext(schema): one advisory lock per schema
_UPSERT = (
    f"INSERT INTO lockgate_secrets ({ENVELOPE_COLUMNS}) "  # noqa: S608 (constant columns)
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
    "ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, "
    "wrapped_key = excluded.wrapped_key, nonce = excluded.nonce, "
    "ciphertext = excluded.ciphertext, created_at = excluded.created_at, "
    "updated_at = excluded.updated_at, version = excluded.version, "
    "previous_key_id = excluded.previous_key_id, "
    "previous_wrapped_key = excluded.previous_wrapped_key"
)
_GET = f"SELECT {ENVELOPE_COLUMNS} FROM lockgate_secrets WHERE name = $1"  # noqa: S608
_METADATA = f"SELECT {METADATA_COLUMNS} FROM lockgate_secrets WHERE name = $1"  # noqa: S608
_LIST = f"SELECT {METADATA_COLUMNS} FROM lockgate_secrets ORDER BY name"  # noqa: S608
_LOCK_KEYRING = "SELECT current_key_id FROM lockgate_secret_keyring WHERE id = 1 FOR UPDATE"
_CURRENT_KEY = "SELECT current_key_id FROM lockgate_secret_keyring WHERE id = 1"
_SET_CURRENT_KEY = "UPDATE lockgate_secret_keyring SET current_key_id = $1 WHERE id = 1"
_OTHER_KEYS = "SELECT DISTINCT key_id FROM lockgate_secrets WHERE key_id <> $1"
# Rows locked too: a delete from another node waits rather than vanish mid-rotation.
_ALL = f"SELECT {ENVELOPE_COLUMNS} FROM lockgate_secrets ORDER BY name FOR UPDATE"  # noqa: S608
_REWRAP = (
    "UPDATE lockgate_secrets SET key_id = $1, wrapped_key = $2, previous_key_id = $3, "
    "previous_wrapped_key = $4 WHERE name = $5"
)


class PostgresSecretStore(SchemaPoolStore):
    """Envelopes in ``{schema}.lockgate_secrets``, the current master key id in
    ``{schema}.lockgate_secret_keyring``.

    Args:
        dsn: ``postgresql://USER[:PASSWORD]@HOST:PORT/DB``; errors and the repr show it
            without its password.
        schema: The schema holding the tables (created if missing).

    Raises:
        ValueError: ``schema`` is not a plain PostgreSQL identifier.
    """

    def __init__(self, dsn: str, *, schema: str = "lockgate", max_size: int = 2) -> None:
        super().__init__(
            SchemaPool(
                dsn,
                schema=schema,
                what="the secret store",
                versions_table="lockgate_secret_schema",
                migrations=POSTGRES_SECRET_MIGRATIONS,
                lock_key=_MIGRATION_LOCK,
                error=SecretStoreError,
                max_size=max_size,
            )
        )

    async def put(self, name: str, seal: SealSecret) -> SecretEnvelope:
        async def write(connection: _Connection) -> SecretEnvelope:
            current = await connection.fetchval(_LOCK_KEYRING)
            row = await connection.fetchrow(_METADATA, name)
            sealed = seal(None if row is None else SecretMetadata(*row))
            if sealed.name != name:
                raise SecretStoreError(f"envelope of {sealed.name!r} put under {name!r}")
            others = (
                [r[0] for r in await connection.fetch(_OTHER_KEYS, sealed.key_id)]
                if current is None
                else []
            )
            key_id = checked_key(current, sealed, others)
            if key_id != current:
                await connection.execute(_SET_CURRENT_KEY, key_id)
            await connection.execute(_UPSERT, *envelope_row(sealed))
            return sealed

        return await self._transaction(f"cannot store secret {name!r}", write)

    async def get(self, name: str) -> SecretEnvelope | None:
        row = await self._tables.fetchrow(f"cannot read secret {name!r}", _GET, name)
        return None if row is None else envelope(row)

    async def delete(self, name: str) -> bool:
        status = await self._tables.execute(
            f"cannot delete secret {name!r}", "DELETE FROM lockgate_secrets WHERE name = $1", name
        )
        return status != "DELETE 0"

    async def list(self) -> builtins.list[SecretMetadata]:
        rows = await self._tables.fetch("cannot list secrets", _LIST)
        return [SecretMetadata(*row) for row in rows]

    async def key_state(self) -> SecretKeyState:
        async def read(connection: _Connection) -> SecretKeyState:
            current = await connection.fetchval(_CURRENT_KEY)
            rows = await connection.fetch(KEY_STATE_QUERY)
            return SecretKeyState(current, tuple((r[0], r[1], r[2]) for r in rows))

        return await self._transaction("cannot read the secrets' key state", read)

    async def rewrap_all(self, key_id: str, rewrap: RewrapDataKey, *, keep_previous: bool) -> int:
        async def apply(connection: _Connection) -> int:
            await connection.fetchval(_LOCK_KEYRING)
            stored = [envelope(row) for row in await connection.fetch(_ALL)]
            for old in stored:
                new = rewrapped(old, key_id, rewrap(old), keep_previous=keep_previous)
                await connection.execute(
                    _REWRAP,
                    new.key_id,
                    new.wrapped_key,
                    new.previous_key_id,
                    new.previous_wrapped_key,
                    new.name,
                )
            await connection.execute(_SET_CURRENT_KEY, key_id)
            return len(stored)

        return await self._transaction("cannot rewrap secrets", apply)

    async def _transaction(self, action: str, work: Callable[[_Connection], Awaitable[T]]) -> T:
        """``await work(connection)`` in one transaction; driver errors become
        ``SecretStoreError`` naming ``action``; ours (a refused key, a failed rewrap) and a
        misuse pass through, after the rollback."""
        pool = self._tables.ready()
        try:
            async with pool.acquire() as connection, connection.transaction():
                return await work(connection)
        except LockgateError:
            raise
        except DRIVER_ERRORS as exc:
            raise self._tables.fail(action, exc) from exc
