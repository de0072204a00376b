"""What the PostgreSQL stores (runs, secrets) share: the driver's errors, the schema-name
check, messages that never show the password, and versioned migrations."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import parse_qs, urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from lockgate.errors import LockgateError

__all__ = ["DRIVER_ERRORS", "Redactor", "checked_schema", "migrate"]

if TYPE_CHECKING:  # asyncpg's classes are generic only in its stubs
    _Connection: TypeAlias = (
        asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
    )

# What asyncpg raises: its own errors, OSError (refused, reset, timed out) and, for a
# malformed DSN, ValueError or OverflowError.
DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    ValueError,
    OverflowError,
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def checked_schema(schema: str) -> str:
    """``schema`` if it is a plain identifier (it is quoted into statements).

    Raises:
        ValueError: It is not.
    """
    if not _IDENTIFIER.fullmatch(schema):
        raise ValueError(
            f"schema {schema!r} is not a PostgreSQL identifier: expected up to 63 letters, "
            "digits and underscores, not starting with a digit"
        )
    return schema


class Redactor:
    """Describes driver errors with the DSN shown without its password or options, and any
    password text scrubbed from the driver's own message."""

    def __init__(self, dsn: str, schema: str) -> None:
        shown, secrets = "postgresql://(malformed DSN)", [dsn]
        with contextlib.suppress(ValueError):  # a port out of range, an unclosed IPv6 bracket
            parts = urlsplit(dsn)
            secrets += [parts.password or "", *parse_qs(parts.query).get("password", [])]
            port = f":{parts.port}" if parts.port else ""
            user = f"{parts.username}@" if parts.username else ""
            if parts.scheme in ("postgresql", "postgres"):
                shown = f"{parts.scheme}://{user}{parts.hostname or ''}{port}{parts.path}"
        self.dsn = shown
        self.where = f"{shown}, schema {schema}"
        self._secrets = sorted(filter(None, secrets), key=len, reverse=True)

    def describe(self, action: str, exc: BaseException) -> str:
        message = f"{type(exc).__name__}: {exc}"
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return f"{action} ({self.where}): {message}"


async def migrate(
    connection: _Connection,
    *,
    schema: str,
    versions_table: str,
    migrations: Sequence[Sequence[str]],
    lock_key: int,
    error: type[LockgateError],
) -> None:
    """Create ``schema`` if missing and apply the migrations not yet recorded in
    ``versions_table``, in one transaction.

    Raises:
        error: The schema records a version newer than ``migrations`` knows.
    """
    quoted = f'"{schema}"'
    versions = f"{quoted}.{versions_table}"
    async with connection.transaction():
        # Gateways starting together would race to create the same tables; this lock,
        # held to the end of the transaction, makes them take turns.
        await connection.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", lock_key, schema)
        # Checked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when
        # the schema exists, which a role that is only granted the schema lacks.
        if not await connection.fetchval(
            "SELECT true FROM pg_namespace WHERE nspname = $1", schema
        ):
            await connection.execute(f"CREATE SCHEMA {quoted}")
        await connection.execute(
            f"CREATE TABLE IF NOT EXISTS {versions} (version integer NOT NULL)"
        )
        current = await connection.fetchval(f"SELECT max(version) FROM {versions}") or 0
        if current > len(migrations):
            raise error(
                f"{versions_table} in schema {schema} is at version {current}, newer than "
                f"this Lockgate knows ({len(migrations)}); upgrade Lockgate",
                schema=schema,
            )
        for version, script in enumerate(migrations, start=1):
            if version > current:
                for statement in script:
                    await connection.execute(statement.format(schema=quoted))
                await connection.execute(f"INSERT INTO {versions} VALUES ($1)", version)
