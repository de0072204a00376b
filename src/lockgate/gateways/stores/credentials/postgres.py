"""``PostgresCredentialStore``: tokens and API keys in PostgreSQL, in the run store's schema
(tables of their own), shared by every node."""

from __future__ import annotations

import builtins
from collections.abc import Mapping

import asyncpg

from lockgate.errors import CredentialExistsError, RunStoreError
from lockgate.gateways.stores.credentials.ports import UsageKey
from lockgate.gateways.stores.credentials.schema import (
    COLUMNS,
    POSTGRES_MIGRATIONS,
    VERSIONS,
    credential,
    credential_row,
)
from lockgate.gateways.stores.postgres_base import DRIVER_ERRORS, SchemaPool, SchemaPoolStore
from lockgate.models.security.principals import Credential, CredentialKind

__all__ = ["PostgresCredentialStore"]

_MIGRATION_LOCK = 0x4C6B4372  # with hashtext(schema): one advisory lock per schema
_INSERT = (
    f"INSERT INTO lockgate_credentials ({COLUMNS}) "  # noqa: S608
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)
_FIND = f"SELECT {COLUMNS} FROM lockgate_credentials WHERE secret_hash = $1"  # noqa: S608
_LIST = f"SELECT {COLUMNS} FROM lockgate_credentials WHERE kind = $1 ORDER BY name"  # noqa: S608
_REVOKE = (
    "WITH gone AS (DELETE FROM lockgate_credentials WHERE kind = $1 AND name = $2 "
    "RETURNING credential_id), usage AS (DELETE FROM lockgate_credential_usage "
    "WHERE credential_id IN (SELECT credential_id FROM gone)) SELECT count(*) FROM gone"
)
_TOUCH = (
    "UPDATE lockgate_credentials AS c SET last_used_at = u.at "
    "FROM unnest($1::text[], $2::double precision[]) AS u(id, at) "
    "WHERE c.credential_id = u.id AND (c.last_used_at IS NULL OR c.last_used_at < u.at)"
)
_DROP_OLD_USAGE = "DELETE FROM lockgate_credential_usage WHERE credential_id = $1 AND period <> $2"
_ADD_USAGE = (
    "INSERT INTO lockgate_credential_usage (credential_id, period, count) VALUES ($1, $2, $3) "
    "ON CONFLICT (credential_id, period) DO UPDATE "
    "SET count = lockgate_credential_usage.count + excluded.count RETURNING count"
)


class PostgresCredentialStore(SchemaPoolStore):
    """Credentials in ``{schema}.lockgate_credentials`` and their usage counts.

    Args:
        dsn: ``postgresql://USER[:PASSWORD]@HOST:PORT/DB``; errors and the repr show it
            without its password.
        schema: The schema holding the tables (created if missing).
        max_size: Connections in the store's pool.

    Raises:
        ValueError: ``schema`` is not a plain PostgreSQL identifier.
    """

    def __init__(self, dsn: str, *, schema: str = "lockgate", max_size: int = 2) -> None:
        super().__init__(
            SchemaPool(
                dsn,
                schema=schema,
                what="the credential store",
                versions_table=VERSIONS,
                migrations=POSTGRES_MIGRATIONS,
                lock_key=_MIGRATION_LOCK,
                error=RunStoreError,
                max_size=max_size,
            )
        )

    async def add(self, credential: Credential) -> None:
        action = f"cannot add {credential.kind.value} {credential.name!r}"
        pool = self._tables.ready()
        try:
            await pool.execute(_INSERT, *credential_row(credential))
        except asyncpg.UniqueViolationError:
            raise CredentialExistsError(
                f"a {credential.kind.value} named {credential.name!r} exists already",
                name=credential.name,
            ) from None
        except DRIVER_ERRORS as exc:
            raise self._tables.fail(action, exc) from exc

    async def find(self, secret_hash: str) -> Credential | None:
        row = await self._tables.fetchrow("cannot look up a credential", _FIND, secret_hash)
        return None if row is None else credential(row)

    async def list(self, kind: CredentialKind) -> builtins.list[Credential]:
        rows = await self._tables.fetch(f"cannot list {kind.value}s", _LIST, kind.value)
        return [credential(row) for row in rows]

    async def revoke(self, kind: CredentialKind, name: str) -> bool:
        row = await self._tables.fetchrow(
            f"cannot revoke {kind.value} {name!r}", _REVOKE, kind.value, name
        )
        return row is not None and row[0] > 0

    async def touch(self, last_used: Mapping[str, float]) -> None:
        if last_used:
            await self._tables.execute(
                "cannot record credential use", _TOUCH, list(last_used), list(last_used.values())
            )

    async def add_usage(self, counts: Mapping[UsageKey, int]) -> dict[UsageKey, int]:
        if not counts:
            return {}
        pool = self._tables.ready()
        totals: dict[UsageKey, int] = {}
        try:
            async with pool.acquire() as connection, connection.transaction():
                for (credential_id, period), count in counts.items():
                    await connection.execute(_DROP_OLD_USAGE, credential_id, period)
                    total = await connection.fetchval(_ADD_USAGE, credential_id, period, count)
                    totals[credential_id, period] = int(total)
        except DRIVER_ERRORS as exc:
            raise self._tables.fail("cannot count API key usage", exc) from exc
        return totals
