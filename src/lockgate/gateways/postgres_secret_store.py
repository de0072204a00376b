"""``PostgresSecretStore``: secrets' envelopes in PostgreSQL, in the run store's schema
(the table and its version table are its own). Writes are rare: each is one transaction on
a small pool."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from lockgate.errors import SecretStoreError
from lockgate.gateways.postgres_support import DRIVER_ERRORS, SchemaPool, SchemaPoolStore
from lockgate.gateways.secret_store_schema import (
    ENVELOPE_COLUMNS,
    METADATA_COLUMNS,
    POSTGRES_SECRET_MIGRATIONS,
    envelope,
    envelope_row,
)
from lockgate.models.secret import SecretEnvelope, SecretMetadata, SecretRewrap

__all__ = ["PostgresSecretStore"]

if TYPE_CHECKING:  # asyncpg's classes are generic only in its stubs
    _Connection: TypeAlias = (
        asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
    )
_MIGRATION_LOCK = 0x4C6B5363  # with hashtext(schema): one advisory lock per schema
_UPSERT = (
    "INSERT INTO lockgate_secrets (name, key_id, wrapped_key, nonce, ciphertext, created_at, "
    "updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
    "ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, "
    "wrapped_key = excluded.wrapped_key, nonce = excluded.nonce, "
    "ciphertext = excluded.ciphertext, created_at = excluded.created_at, "
    "updated_at = excluded.updated_at, version = excluded.version"
)
_GET = f"SELECT {ENVELOPE_COLUMNS} FROM lockgate_secrets WHERE name = $1"  # noqa: S608
_LIST = f"SELECT {METADATA_COLUMNS} FROM lockgate_secrets ORDER BY name"  # noqa: S608
_REWRAP = (
    "UPDATE lockgate_secrets SET wrapped_key = $1, key_id = $2 WHERE name = $3 AND version = $4"
)


class PostgresSecretStore(SchemaPoolStore):
    """Envelopes in ``{schema}.lockgate_secrets``.

    Args:
        dsn: ``postgresql://USER[:PASSWORD]@HOST:PORT/DB``; errors and the repr show it
            without its password.
        schema: The schema holding the table (created if missing).

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

    async def put(self, name: str, envelope: SecretEnvelope) -> None:
        if name != envelope.name:
            raise ValueError(f"envelope of {envelope.name!r} put under {name!r}")
        await self._tables.execute(
            f"cannot store secret {name!r}", _UPSERT, *envelope_row(envelope)
        )

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

    async def rewrap(self, updates: Sequence[SecretRewrap]) -> None:
        pool = self._tables.ready()
        conflict: str | None = None
        try:
            async with pool.acquire() as connection, connection.transaction():
                for update in updates:
                    status = await connection.execute(
                        _REWRAP, update.wrapped_key, update.key_id, update.name, update.version
                    )
                    if status != "UPDATE 1":
                        conflict = update.name
                        raise _RollbackError
        except _RollbackError:
            raise SecretStoreError(
                f"secret {conflict!r} was deleted or replaced during the rewrap; "
                "nothing was changed, retry",
                secret=conflict,
            ) from None
        except DRIVER_ERRORS as exc:
            raise self._tables.fail("cannot rewrap secrets", exc) from exc


class _RollbackError(Exception):
    """Raised inside the rewrap's transaction to roll it back."""
