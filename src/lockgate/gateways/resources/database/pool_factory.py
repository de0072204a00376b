"""``DatabasePoolFactory``: seed 002's factory for a shared database pool, in Kailash's words.

    registry.register_factory(
        "main_db",
        DatabasePoolFactory(backend="postgresql", host="127.0.0.1", database="app",
                            user="app", password=password, min_size=5, max_size=20),
        health_check=database_health_check,
    )

It makes what the ``database`` resource type makes (an ``asyncpg.Pool``, or Lockgate's
``SQLiteDatabase`` with the same query API) through the same resolvers, so the same checks
and error messages apply. The user name and password are handed to the resolver as
credentials: they are never part of the config, its repr or an error message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lockgate.errors import ResourceConfigError
from lockgate.gateways.resources.database.postgres import PostgresDatabaseResolver
from lockgate.gateways.resources.database.sqlite import SQLiteDatabaseResolver

__all__ = ["DatabasePoolFactory"]

_POSTGRES = ("postgresql", "postgres")


class DatabasePoolFactory:
    """Makes one database pool, on ``await create()`` (``register_factory`` calls it on
    first use, and closes the pool at shutdown).

    Args:
        backend: ``postgresql`` (or ``postgres``) or ``sqlite``.
        host: PostgreSQL's host (``localhost`` is resolved to loopback as usual).
        port: PostgreSQL's port; 5432 when None.
        database: The PostgreSQL database, or the SQLite file's path.
        user: The role to log in as (PostgreSQL).
        password: Its password; kept out of ``get_config()`` and the repr.
        min_size: Connections opened at once and kept (PostgreSQL).
        max_size: Most connections at once.
        **kwargs: The driver's other config keys (``connect_timeout``, ``server_settings``,
            ``max_queries``, ``ssl`` ... for PostgreSQL; ``busy_timeout``, ``journal_mode``
            for SQLite): see ``PostgresDatabaseResolver`` and ``SQLiteDatabaseResolver``.

    Raises:
        ResourceConfigError: The backend is unknown or a value is invalid (checked now,
            without I/O); the message names the key and never the password.
    """

    def __init__(
        self,
        backend: str = "postgresql",
        host: str = "localhost",
        port: int | None = None,
        *,
        database: str,
        user: str | None = None,
        password: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
        **kwargs: Any,
    ) -> None:
        self.backend = backend.lower()
        self._user = user
        self._password = password
        if self.backend in _POSTGRES:
            config: dict[str, Any] = {
                "host": host,
                "port": port or 5432,
                "database": database,
                "min_size": min_size,
                "max_size": max_size,
                **kwargs,
            }
            self._resolver: PostgresDatabaseResolver | SQLiteDatabaseResolver = (
                PostgresDatabaseResolver()
            )
        elif self.backend == "sqlite":
            config = {"driver": "sqlite", "path": database, "max_size": max_size, **kwargs}
            self._resolver = SQLiteDatabaseResolver()
        else:
            raise ResourceConfigError(
                f"DatabasePoolFactory backend must be postgresql or sqlite, got {backend!r}",
                key="backend",
            )
        _no_credentials_in(kwargs)
        self._resolver.validate(config)
        self._config = config

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"DatabasePoolFactory({shown}{', password=***' if self._password else ''})"

    def get_config(self) -> dict[str, Any]:
        """The pool's settings, with ``user`` and without the password (for logs, docs)."""
        config = {"backend": self.backend, **self._config}
        if self._user is not None:
            config["user"] = self._user
        return config

    async def create(self) -> Any:
        """Open the pool: ``min_size`` connections are open when it returns.

        Returns:
            An ``asyncpg.Pool`` (PostgreSQL) or a ``SQLiteDatabase``.

        Raises:
            ResourceTimeoutError: Connecting took longer than ``connect_timeout``.
            ResourceUnavailableError: Refused, unreachable, or the credentials were
                rejected; the message names the server, never the password.

        Side Effects:
            Opens connections.

        Note:
            Calls ``asyncpg.create_pool`` (PostgreSQL) or opens the file (SQLite).
        """
        given = {"user": self._user, "password": self._password}
        credentials = {k: v for k, v in given.items() if v is not None} or None
        return await self._resolver.create(self._config, credentials)


def _no_credentials_in(config: Mapping[str, Any]) -> None:
    if "username" in config:  # password= and user= are parameters of their own
        raise ResourceConfigError(
            "DatabasePoolFactory takes the role as user=, not username=", key="username"
        )
