"""The PostgreSQL half of the ``database`` resource type: an ``asyncpg.Pool`` a step uses as
``async with db.acquire() as conn: await conn.fetch(...)`` or ``await db.fetch(...)``.

Why its own module: connecting is where PostgreSQL failures show up, and each one (refused,
no answer, bad credentials, unknown database) must reach the caller as a ``Resource…Error``
that names the server and never the password. The password is passed to asyncpg as a
keyword argument, never inside a DSN string that an error or a log line could echo.

Inline (``create_inline``), asyncpg gets the egress guard's checked *addresses*, which every
connection of the pool reuses without a lookup. No ``ssl`` mode verifies certificates, so
that loses no verification, only SNI (servers routing by SNI need a shared resource).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import asyncpg

from lockgate.errors import ResourceConfigError, ResourceTimeoutError, ResourceUnavailableError
from lockgate.gateways.resources.config import ConfigReader, credential_fields
from lockgate.gateways.resources.ports import IEgressGuard
from lockgate.models.security.egress import UNREACHABLE

if TYPE_CHECKING:
    from asyncpg import Record

__all__ = ["PostgresDatabaseResolver", "PostgresSettings", "parse_postgres_config"]

_TYPE = "database"
_SSL_MODES = ("disable", "prefer", "require")
SslMode = Literal["disable", "prefer", "require"]
_CREDENTIAL_KEYS = frozenset({"user", "username", "password"})
_MAX_POOL = 1000
# What connecting can raise: the server's refusals, asyncpg's own errors, and OSError
# (refused, unreachable, unresolvable; TimeoutError is one too).
_CONNECT_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)
_QUERY_ERRORS = (*_CONNECT_ERRORS, asyncpg.InternalClientError)


@dataclass(frozen=True, slots=True)
class PostgresSettings:
    """A checked PostgreSQL ``database`` config (see ``PostgresDatabaseResolver``)."""

    host: str
    port: int
    database: str
    user: str
    min_size: int
    max_size: int
    max_queries: int
    max_inactive_connection_lifetime: float
    connect_timeout: float
    command_timeout: float | None
    ssl: SslMode
    server_settings: dict[str, str]
    statement_cache_size: int

    @property
    def target(self) -> str:
        """How messages name the server: ``PostgreSQL at 127.0.0.1:5432``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"PostgreSQL at {host}:{self.port}"


def parse_postgres_config(config: Mapping[str, Any]) -> PostgresSettings:
    """Check a PostgreSQL ``database`` config without I/O.

    Raises:
        ResourceConfigError: A key is unknown, missing or mistyped (``fields["key"]``), or
            ``min_size`` exceeds ``max_size``.
    """
    read = ConfigReader(_TYPE, config)
    read.choice("driver", ("postgresql",), "postgresql")
    settings = PostgresSettings(
        host=read.text("host", "127.0.0.1") or "127.0.0.1",
        port=read.integer("port", 5432, minimum=1, maximum=65535) or 5432,
        database=read.text("database", required=True) or "",
        user=read.text("user", "postgres") or "postgres",
        min_size=_integer(read, "min_size", 1, minimum=0, maximum=_MAX_POOL),
        max_size=_integer(read, "max_size", 10, minimum=1, maximum=_MAX_POOL),
        max_queries=_integer(read, "max_queries", 50_000, minimum=1),
        max_inactive_connection_lifetime=_number(
            read, "max_inactive_connection_lifetime", 300.0, minimum=0.0
        ),
        connect_timeout=_number(read, "connect_timeout", 5.0, minimum=0.01),
        command_timeout=read.number("command_timeout", None, minimum=0.001),
        ssl=cast(SslMode, read.choice("ssl", _SSL_MODES, "prefer")),
        server_settings=read.strings("server_settings"),
        statement_cache_size=_integer(read, "statement_cache_size", 100, minimum=0),
    )
    read.done()
    if settings.min_size > settings.max_size:
        raise ResourceConfigError(
            f"database config 'min_size' ({settings.min_size}) must not exceed 'max_size' "
            f"({settings.max_size})",
            key="min_size",
        )
    return settings


def _integer(
    read: ConfigReader, key: str, default: int, *, minimum: int, maximum: int | None = None
) -> int:
    value = read.integer(key, default, minimum=minimum, maximum=maximum)
    return default if value is None else value


def _number(read: ConfigReader, key: str, default: float, *, minimum: float) -> float:
    value = read.number(key, default, minimum=minimum)
    return default if value is None else value


class PostgresDatabaseResolver:
    """Opens an ``asyncpg.Pool`` (returned as is) for a ``database`` reference whose
    ``driver`` is ``postgresql``.

    Config keys:
        driver (str, ``"postgresql"``): Selects this resolver
            (see ``PostgresOrSQLiteDatabaseResolver``).
        host (str, ``"127.0.0.1"``): Server host name, IP address, or Unix socket directory.
        port (int, ``5432``): Server port, 1-65535.
        database (str, required): Database name. Required so that a forgotten key is an
            error rather than a silent connection to the ``postgres`` maintenance database.
        user (str, ``"postgres"``): Role to log in as. A user name is not a secret, so it may
            sit here; the credentials' ``user`` (or ``username``) wins over it. Never taken
            from the gateway's environment (``PGUSER``) or its operating-system user.
        min_size (int, ``1``): Connections opened by ``create`` and kept open, 0-1000. With
            0, ``create`` still opens one to check the server and the credentials; it closes
            after ``max_inactive_connection_lifetime``.
        max_size (int, ``10``): Most connections the pool ever holds, 1-1000, at least
            ``min_size``; further ``acquire()`` calls wait for a release.
        max_queries (int, ``50000``): Queries after which a connection is replaced.
        max_inactive_connection_lifetime (number, ``300.0``): Seconds after which an idle
            connection above ``min_size`` is closed; 0 keeps them open.
        connect_timeout (number, ``5.0``): Seconds the whole pool creation (all ``min_size``
            connections) may take; also each later connection attempt's limit.
        command_timeout (number, none): Default seconds a query may run; none means no limit.
        ssl (str, ``"prefer"``): ``disable``, ``prefer`` (TLS when the server offers it, as
            libpq does) or ``require`` (TLS or fail). Certificates are not verified.
        server_settings (object of str, ``{}``): Session settings such as
            ``application_name`` or ``search_path``.
        statement_cache_size (int, ``100``): Prepared statements cached per connection; set 0
            behind PgBouncer in transaction mode.

    Credentials (the ``credentials_ref`` secret): ``{"user" or "username", "password"}``,
    both optional. Without a password none is sent: the gateway's ``PGPASSWORD`` and
    ``~/.pgpass`` are never consulted, so a reference cannot borrow the operator's login.

    Args:
        health_timeout: Seconds ``health_check``'s ``SELECT 1`` may take.
        close_timeout: Seconds ``close`` waits for acquired connections to be released
            before terminating every connection.
    """

    type_name = _TYPE
    driver = "postgresql"

    def __init__(self, *, health_timeout: float = 5.0, close_timeout: float = 5.0) -> None:
        self._health_timeout = health_timeout
        self._close_timeout = close_timeout

    def validate(self, config: Mapping[str, Any]) -> None:
        """Check ``config`` without I/O.

        Raises:
            ResourceConfigError: See ``parse_postgres_config``.
        """
        parse_postgres_config(config)

    async def create(self, config: Mapping[str, Any], credentials: Any) -> asyncpg.Pool[Record]:
        """Open the pool with its ``min_size`` connections, within ``connect_timeout``.

        Raises:
            ResourceConfigError: ``config`` or ``credentials`` is malformed (before any I/O).
            ResourceTimeoutError: The server did not answer within ``connect_timeout``.
            ResourceUnavailableError: Refused, unreachable, credentials rejected, or no
                such database. The message never holds the password.

        Side Effects:
            Opens ``min_size`` connections to the server.
        """
        return await _create(parse_postgres_config(config), credentials, None)

    def validate_inline(self, config: Mapping[str, Any]) -> None:
        """``validate``, and ``host`` is a network host, not a Unix socket directory (which
        reaches a server on the gateway's own machine, past the egress policy).

        Raises:
            ResourceConfigError: As ``validate``, or ``host`` is a path (``key="host"``).
        """
        _inline_host(parse_postgres_config(config))

    async def create_inline(
        self, config: Mapping[str, Any], credentials: Any, egress: IEgressGuard
    ) -> asyncpg.Pool[Record]:
        """``create`` for a caller's reference: the pool connects only to addresses
        ``egress`` allows (see the module docstring).

        Raises:
            ResourceConfigError: As ``validate_inline``, or malformed credentials.
            ResourceUnavailableError: ``UNREACHABLE`` for any failure to reach the server,
                after ``connect_timeout``; otherwise as ``create``.
        """
        return await _create(_inline_host(parse_postgres_config(config)), credentials, egress)

    async def health_check(self, resource: Any) -> None:
        """Run ``SELECT 1`` through the pool within ``health_timeout``.

        Raises:
            ResourceUnavailableError: The pool is closed, the server is unreachable or did
                not answer in time.
        """
        pool = _pool(resource)
        if pool.is_closing():
            raise ResourceUnavailableError("the PostgreSQL pool is closed")
        try:
            async with asyncio.timeout(self._health_timeout):
                value = await pool.fetchval("SELECT 1")
        except TimeoutError:
            busy = pool.get_idle_size() == 0 and pool.get_size() >= pool.get_max_size()
            raise ResourceUnavailableError(
                f"PostgreSQL did not answer SELECT 1 within {self._health_timeout:g}s"
                + (f" (all {pool.get_size()} connections of the pool were in use)" if busy else "")
            ) from None
        except _QUERY_ERRORS as exc:
            raise ResourceUnavailableError(
                f"PostgreSQL health check failed: {type(exc).__name__}: {exc}"
            ) from exc
        if value != 1:
            raise ResourceUnavailableError(f"PostgreSQL answered SELECT 1 with {value!r}")

    async def close(self, resource: Any) -> None:
        """Close the pool: wait up to ``close_timeout`` for acquired connections, then
        terminate whatever is left. Idempotent; never raises for a broken server.

        Side Effects:
            Closes every connection of the pool.
        """
        pool = _pool(resource)
        with contextlib.suppress(TimeoutError, *_QUERY_ERRORS):
            # On timeout or error Pool.close() itself terminates the connections.
            await asyncio.wait_for(pool.close(), self._close_timeout)
        with contextlib.suppress(asyncpg.InterfaceError):
            pool.terminate()


def _pool(resource: Any) -> asyncpg.Pool[Record]:
    if not isinstance(resource, asyncpg.Pool):
        raise TypeError(f"expected an asyncpg.Pool, got {type(resource).__name__}")
    return resource


async def _create(
    settings: PostgresSettings, credentials: Any, egress: IEgressGuard | None
) -> asyncpg.Pool[Record]:
    """The pool, through ``egress`` when given: any failure to reach the server is then
    ``UNREACHABLE`` after ``connect_timeout``; a reached server's answer (credentials
    rejected, no such database) is reported as for a shared resource."""
    user, password = _login(settings, credentials)
    started = 0.0 if egress is None else egress.now()
    failure: ResourceUnavailableError
    try:
        async with asyncio.timeout(settings.connect_timeout):
            hosts = None if egress is None else await egress.addresses(settings.host, settings.port)
            return await _open_pool(settings, user, password, hosts)
    except Exception as exc:
        if egress is not None and not isinstance(exc, asyncpg.PostgresError):
            # Refused, silent, forbidden, not PostgreSQL: all alike to the caller. (A
            # PostgresError is the server's answer: the host was reached.)
            reason = exc
            if password and password in _chain_text(exc):
                reason = ConnectionError(_scrub(str(exc), password))
            await egress.failed(
                started, settings.connect_timeout, f"{settings.host}:{settings.port}", reason
            )
            failure = ResourceUnavailableError(UNREACHABLE)
        elif isinstance(exc, _CONNECT_ERRORS):
            failure = _translate(exc, settings, user, password)
            if not password or password not in _chain_text(exc):
                raise failure from exc
        else:
            raise
    # Raised outside the handler so that no __context__ links to text holding the password.
    raise failure


def _inline_host(settings: PostgresSettings) -> PostgresSettings:
    if settings.host.startswith("/"):
        raise ResourceConfigError(
            "database config 'host' cannot be a Unix socket directory in an inline "
            "reference: it reaches a server on the gateway's own machine, past the egress "
            "policy. Give a host name or address, or register a shared resource",
            key="host",
        )
    return settings


def _login(settings: PostgresSettings, credentials: Any) -> tuple[str, str]:
    """The user and password to send: the credentials' user wins over the config's."""
    fields = credential_fields(_TYPE, credentials, _CREDENTIAL_KEYS)
    if "user" in fields and "username" in fields and fields["user"] != fields["username"]:
        raise ResourceConfigError(
            "database credentials hold both 'user' and 'username' with different values; keep one",
            key="credentials_ref",
        )
    user = fields.get("user") or fields.get("username") or settings.user
    # "" rather than None: asyncpg would otherwise read PGPASSWORD or ~/.pgpass.
    return user, fields.get("password", "")


async def _open_pool(
    settings: PostgresSettings, user: str, password: str, hosts: list[str] | None = None
) -> asyncpg.Pool[Record]:
    # asyncpg's timeout bounds each connection attempt; the outer bound covers the whole
    # creation (the first connection, then the rest of min_size). A cancelled creation
    # terminates the connections it already opened. ``hosts``: checked addresses, tried in
    # order, which asyncpg connects to as they are (an address needs no lookup).
    async with asyncio.timeout(settings.connect_timeout):
        pool = await asyncpg.create_pool(
            host=hosts or settings.host,
            port=settings.port,
            user=user,
            password=password,
            database=settings.database,
            min_size=settings.min_size,
            max_size=settings.max_size,
            max_queries=settings.max_queries,
            max_inactive_connection_lifetime=settings.max_inactive_connection_lifetime,
            timeout=settings.connect_timeout,
            command_timeout=settings.command_timeout,
            ssl=settings.ssl,
            server_settings=settings.server_settings or None,
            statement_cache_size=settings.statement_cache_size,
        )
        if settings.min_size == 0:  # still prove the server and the credentials now
            try:
                await pool.fetchval("SELECT 1")
            except BaseException:
                pool.terminate()
                raise
        return pool


def _translate(
    exc: BaseException, settings: PostgresSettings, user: str, password: str
) -> ResourceUnavailableError:
    """The ``Resource…Error`` that reports a failed connection, password scrubbed."""
    where: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "database": settings.database,
        "user": user,
    }
    if isinstance(exc, TimeoutError):
        return ResourceTimeoutError(
            f"{settings.target} did not answer within "
            f"connect_timeout={settings.connect_timeout:g}s",
            connect_timeout=settings.connect_timeout,
            **where,
        )
    reason = _scrub(str(exc), password)
    if isinstance(exc, asyncpg.PostgresError):
        return ResourceUnavailableError(_refusal(exc, settings, user, reason), **where)
    return ResourceUnavailableError(_network_failure(exc, settings, reason), **where)


def _refusal(exc: asyncpg.PostgresError, settings: PostgresSettings, user: str, reason: str) -> str:
    """What the server answered instead of a session."""
    target = settings.target
    if isinstance(
        exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        return f"{target} rejected the credentials of user {user!r}: {reason}"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return f"{target} has no database {settings.database!r}"
    code = getattr(exc, "sqlstate", None) or "?"
    return f"{target} refused the connection: {reason} (SQLSTATE {code})"


def _network_failure(exc: BaseException, settings: PostgresSettings, reason: str) -> str:
    """What stopped the session before the server answered."""
    target = settings.target
    if isinstance(exc, ConnectionRefusedError):
        return f"{target} refused the connection (is PostgreSQL running and listening there?)"
    if isinstance(exc, socket.gaierror):
        return f"{target} is unreachable: cannot resolve host {settings.host!r}"
    if isinstance(exc, OSError):
        return f"connecting to {target} failed: {reason or type(exc).__name__}"
    return f"{target} could not be connected to: {type(exc).__name__}: {reason}"


def _scrub(text: str, password: str) -> str:
    return text.replace(password, "***") if password else text


def _chain_text(exc: BaseException) -> str:
    """Everything ``exc`` and its causes and contexts would print."""
    parts: list[str] = []
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        parts.append(f"{current!r} {current}")
        pending += [current.__cause__, current.__context__]
    return "\n".join(parts)
