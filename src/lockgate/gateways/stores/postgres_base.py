"""What the PostgreSQL stores (runs, secrets, events, queues) share: the driver's errors, the
schema-name check, messages that never show the password, versioned migrations, and one
statement on the pool with the driver's errors translated."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import parse_qs, urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from lockgate.errors import LockgateError

__all__ = [
    "DRIVER_ERRORS",
    "Redactor",
    "SchemaPool",
    "SchemaPoolStore",
    "checked_schema",
    "migrate",
]

if TYPE_CHECKING:  # asyncpg's classes are generic only in its stubs
    _Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
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


class SchemaPool:
    """A small asyncpg pool whose connections work in one schema, which ``open`` brings up
    to date with the store's own migrations. Driver errors become ``error``, described with
    the DSN shown without its password.

    Args:
        dsn: ``postgresql://USER[:PASSWORD]@HOST:PORT/DB``.
        schema: Created if missing; must be a plain identifier.
        what: The store's name in messages (``"the secret store"``).
        versions_table, migrations, lock_key: As ``migrate`` takes them.
        error: The store's error type.
        max_size: Connections at most.

    Raises:
        ValueError: ``schema`` is not a plain PostgreSQL identifier.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str,
        what: str,
        versions_table: str,
        migrations: Sequence[Sequence[str]],
        lock_key: int,
        error: type[LockgateError],
        max_size: int,
    ) -> None:
        self.schema = checked_schema(schema)
        self.redactor = Redactor(dsn, schema)
        self._dsn = dsn
        self._what = what
        self._versions_table = versions_table
        self._migrations = migrations
        self._lock_key = lock_key
        self._error = error
        self._max_size = max_size
        self._pool: _Pool | None = None

    def fail(self, action: str, exc: BaseException) -> LockgateError:
        """``exc`` as the store's error, naming ``action`` and never the password."""
        return self._error(self.redactor.describe(action, exc))

    async def open(self) -> None:
        """Connect and migrate. Idempotent.

        Raises:
            error: The database cannot be reached, or its schema is newer than this code.
        """
        if self._pool is not None:
            return
        action = f"cannot open {self._what}"
        try:
            pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._max_size,
                server_settings={"search_path": f'"{self.schema}"'},
            )
        except DRIVER_ERRORS as exc:
            raise self.fail(action, exc) from exc
        try:
            async with pool.acquire() as connection:
                await migrate(
                    connection,
                    schema=self.schema,
                    versions_table=self._versions_table,
                    migrations=self._migrations,
                    lock_key=self._lock_key,
                    error=self._error,
                )
        except BaseException as exc:
            pool.terminate()
            if isinstance(exc, DRIVER_ERRORS):
                raise self.fail(action, exc) from exc
            raise
        self._pool = pool

    async def close(self) -> None:
        """Disconnect. Idempotent."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def ready(self) -> _Pool:
        """The open pool.

        Raises:
            error: The store is not open.
        """
        if self._pool is None:
            raise self._error(f"{self._what} is not open")
        return self._pool

    async def execute(self, action: str, query: str, *args: Any) -> str:
        """Run ``query`` on the pool; the status it answered (``"UPDATE 3"``).

        Raises:
            error: The store is not open, or the driver failed (the message names ``action``).
        """
        pool = self.ready()
        try:
            return await pool.execute(query, *args)
        except DRIVER_ERRORS as exc:
            raise self.fail(action, exc) from exc

    async def fetch(self, action: str, query: str, *args: Any) -> list[asyncpg.Record]:
        """The rows ``query`` answers; errors as ``execute``'s."""
        pool = self.ready()
        try:
            return await pool.fetch(query, *args)
        except DRIVER_ERRORS as exc:
            raise self.fail(action, exc) from exc

    async def fetchrow(self, action: str, query: str, *args: Any) -> asyncpg.Record | None:
        """The first row ``query`` answers, or None; errors as ``execute``'s."""
        pool = self.ready()
        try:
            return await pool.fetchrow(query, *args)
        except DRIVER_ERRORS as exc:
            raise self.fail(action, exc) from exc


class SchemaPoolStore:
    """What a PostgreSQL store does the same as the others through its ``SchemaPool``
    (``_tables``): ``open``, ``close``, its ``schema`` and a repr that shows the DSN without
    its password.

    Args:
        tables: The store's pool, not yet open.
    """

    def __init__(self, tables: SchemaPool) -> None:
        self._tables = tables
        self.schema = tables.schema

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._tables.redactor.dsn!r}, schema={self.schema!r})"

    async def open(self) -> None:
        """Connect and migrate, as ``SchemaPool.open``."""
        await self._tables.open()

    async def close(self) -> None:
        """Disconnect. Idempotent."""
        await self._tables.close()
