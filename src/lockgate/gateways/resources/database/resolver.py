"""The ``database`` resource type: one name for two drivers.

Why: a reference says *what* it needs (``type: database``) and its config picks *how*
(``driver``), so the same steps run against PostgreSQL in production and an embedded SQLite
file elsewhere. This class only dispatches; each driver's resolver owns its config keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from lockgate.errors import ResourceConfigError
from lockgate.gateways.resources.database.postgres import PostgresDatabaseResolver
from lockgate.gateways.resources.database.sqlite import SQLiteDatabaseResolver
from lockgate.gateways.resources.database.sqlite_pool import SQLiteDatabase
from lockgate.gateways.resources.ports import IEgressGuard

__all__ = ["DatabaseResolver", "PostgresOrSQLiteDatabaseResolver"]

_DRIVERS = ("postgresql", "sqlite")


class PostgresOrSQLiteDatabaseResolver:
    """Resolves ``database`` references: ``driver`` ``"postgresql"`` (the default) gives an
    ``asyncpg.Pool``, ``"sqlite"`` a ``SQLiteDatabase`` with the same query API.

    Config keys:
        driver (str, ``"postgresql"``): ``postgresql`` or ``sqlite``. The remaining keys
            are the driver's: see ``PostgresDatabaseResolver`` and ``SQLiteDatabaseResolver``.

    Args:
        postgresql: The PostgreSQL resolver (default settings if omitted).
        sqlite: The SQLite resolver (default settings if omitted).
    """

    type_name = "database"

    def __init__(
        self,
        *,
        postgresql: PostgresDatabaseResolver | None = None,
        sqlite: SQLiteDatabaseResolver | None = None,
    ) -> None:
        self._postgresql = postgresql or PostgresDatabaseResolver()
        self._sqlite = sqlite or SQLiteDatabaseResolver()

    def _for_config(
        self, config: Mapping[str, Any]
    ) -> PostgresDatabaseResolver | SQLiteDatabaseResolver:
        driver = config.get("driver")
        if driver is None or driver == "postgresql":
            return self._postgresql
        if driver == "sqlite":
            return self._sqlite
        shown = repr(driver) if isinstance(driver, str) else type(driver).__name__
        raise ResourceConfigError(
            f"database config 'driver' must be one of {', '.join(_DRIVERS)}, got {shown}",
            key="driver",
        )

    def _for_resource(self, resource: Any) -> PostgresDatabaseResolver | SQLiteDatabaseResolver:
        if isinstance(resource, SQLiteDatabase):
            return self._sqlite
        if isinstance(resource, asyncpg.Pool):
            return self._postgresql
        raise TypeError(f"not a database resource: {type(resource).__name__}")

    def validate(self, config: Mapping[str, Any]) -> None:
        """Check ``config`` without I/O.

        Raises:
            ResourceConfigError: ``driver`` is unknown, or the driver's check fails.
        """
        self._for_config(config).validate(config)

    async def create(self, config: Mapping[str, Any], credentials: Any) -> Any:
        """Open the driver's pool.

        Returns:
            An ``asyncpg.Pool`` or a ``SQLiteDatabase``.

        Raises:
            ResourceConfigError, ResourceTimeoutError, ResourceUnavailableError: As the
                driver's resolver raises them.
        """
        return await self._for_config(config).create(config, credentials)

    def validate_inline(self, config: Mapping[str, Any]) -> None:
        """``validate``, with PostgreSQL's inline rules (no Unix socket directory).

        Raises:
            ResourceConfigError: As ``validate``, or as the driver refuses it inline.
        """
        resolver = self._for_config(config)
        if isinstance(resolver, PostgresDatabaseResolver):
            resolver.validate_inline(config)
        else:
            resolver.validate(config)

    async def create_inline(
        self, config: Mapping[str, Any], credentials: Any, egress: IEgressGuard
    ) -> Any:
        """``create`` for a caller's reference: PostgreSQL through ``egress``; SQLite as
        for a shared resource, since a file inside the config's folder is no host.

        Raises:
            ResourceConfigError, ResourceUnavailableError: As the driver raises them.
        """
        resolver = self._for_config(config)
        if isinstance(resolver, PostgresDatabaseResolver):
            return await resolver.create_inline(config, credentials, egress)
        return await resolver.create(config, credentials)

    async def health_check(self, resource: Any) -> None:
        """``SELECT 1`` through the pool, by the driver that made it.

        Raises:
            ResourceUnavailableError: It is closed or unreachable.
        """
        await self._for_resource(resource).health_check(resource)

    async def close(self, resource: Any) -> None:
        """Close the pool by the driver that made it. Idempotent."""
        await self._for_resource(resource).close(resource)


# The name before implementations were named by technology (seed 000):
# it dispatches to PostgreSQL or SQLite.
DatabaseResolver = PostgresOrSQLiteDatabaseResolver
