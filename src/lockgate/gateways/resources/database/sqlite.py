"""The SQLite half of the ``database`` resource type: a ``SQLiteDatabase`` file pool.

Why: the same step code (``async with db.acquire() as conn: await conn.fetch(...)``) runs
against an embedded file when a deployment has no PostgreSQL, with ``$1`` placeholders and
asyncpg-style rows (see ``sqlite_pool`` and ``sqlite_sql``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lockgate.errors import ResourceConfigError, ResourceUnavailableError
from lockgate.gateways.resources.config import ConfigReader
from lockgate.gateways.resources.database.sqlite_pool import SQLiteDatabase

__all__ = ["SQLiteDatabaseResolver", "SQLiteSettings", "parse_sqlite_config"]

_TYPE = "database"
_MEMORY = ":memory:"
_JOURNAL_MODES = ("wal", "delete", "truncate", "persist")


@dataclass(frozen=True, slots=True)
class SQLiteSettings:
    """A checked SQLite ``database`` config (see ``SQLiteDatabaseResolver``)."""

    path: str
    max_size: int
    busy_timeout: float
    journal_mode: str


def parse_sqlite_config(config: Mapping[str, Any]) -> SQLiteSettings:
    """Check a SQLite ``database`` config without I/O.

    Raises:
        ResourceConfigError: A key is unknown, missing or mistyped (``fields["key"]``), or
            ``max_size`` is not 1 for ``":memory:"``.
    """
    read = ConfigReader(_TYPE, config)
    read.choice("driver", ("sqlite",), "sqlite")
    path = read.text("path", required=True) or ""
    memory = path == _MEMORY
    max_size = read.integer("max_size", 1 if memory else 4, minimum=1, maximum=1000) or 1
    busy_timeout = read.number("busy_timeout", 5.0, minimum=0.0)
    journal_mode = read.choice("journal_mode", _JOURNAL_MODES, "wal")
    read.done()
    if memory and max_size != 1:
        raise ResourceConfigError(
            f"database config 'max_size' must be 1 for path ':memory:' (got {max_size}): "
            "each connection would see its own empty database",
            key="max_size",
        )
    if "\x00" in path:
        raise ResourceConfigError("database config 'path' must not contain NUL", key="path")
    return SQLiteSettings(
        path, max_size, 5.0 if busy_timeout is None else busy_timeout, journal_mode
    )


class SQLiteDatabaseResolver:
    """Opens a ``SQLiteDatabase`` for a ``database`` reference whose ``driver`` is
    ``sqlite``. It takes no credentials.

    Config keys:
        driver (str, required ``"sqlite"``): Selects this resolver
            (see ``PostgresOrSQLiteDatabaseResolver``).
        path (str, required): The database file, created if missing (its directory must
            exist). A relative path is relative to the gateway's working directory (or
            ``base_dir``). ``":memory:"`` is a private in-memory database that lives as long
            as the resource and needs ``max_size`` 1.
        max_size (int, ``4``; ``1`` for ``":memory:"``): Most connections open at once,
            1-1000; further ``acquire()`` calls wait for a release.
        busy_timeout (number, ``5.0``): Seconds a statement waits for another connection's
            (or process's) lock before failing with ``database is locked``.
        journal_mode (str, ``"wal"``): ``wal`` (readers never block the writer),
            ``delete``, ``truncate`` or ``persist``. Commits are always ``synchronous=FULL``.

    Args:
        base_dir: Where relative paths point, and the folder every path must stay inside
            (outside its ``.lockgate``); without it, relative to the working directory and
            unconfined.
        forbidden: Files no reference may open (the run store's SQLite file), wherever they
            are.
        health_timeout: Seconds ``health_check``'s ``SELECT 1`` may take.
        close_timeout: Seconds ``close`` waits for acquired connections to be released.
    """

    type_name = _TYPE
    driver = "sqlite"

    def __init__(
        self,
        *,
        base_dir: Path | None = None,
        forbidden: tuple[Path, ...] = (),
        health_timeout: float = 5.0,
        close_timeout: float = 5.0,
    ) -> None:
        self._base_dir = base_dir
        # A file and its WAL and shared-memory companions.
        self._forbidden = frozenset(
            Path(f"{p.resolve()}{suffix}") for p in forbidden for suffix in ("", "-wal", "-shm")
        )
        self._health_timeout = health_timeout
        self._close_timeout = close_timeout

    def validate(self, config: Mapping[str, Any]) -> None:
        """Check ``config`` without I/O.

        Raises:
            ResourceConfigError: See ``parse_sqlite_config``.
        """
        self._confined(parse_sqlite_config(config).path)

    def _confined(self, path: str) -> str:
        """``path`` made absolute; with ``base_dir`` set it must stay inside it and out of
        the gateway's own ``.lockgate`` folder (the run store and secrets live there), so a
        request cannot open files the operator did not give it."""
        if path == _MEMORY:
            return path
        base = (self._base_dir or Path.cwd()).resolve()
        full = (base / path).resolve()
        if full in self._forbidden or (
            self._base_dir is not None
            and (not full.is_relative_to(base) or ".lockgate" in full.relative_to(base).parts)
        ):
            raise ResourceConfigError(
                f"database config 'path' must name a file inside {base} (outside its "
                f".lockgate folder, and not the run store), got {path!r}",
                key="path",
            )
        return str(full)

    async def create(self, config: Mapping[str, Any], credentials: Any) -> SQLiteDatabase:
        """Open the database's first connection and set its journal mode.

        Raises:
            ResourceConfigError: ``config`` is malformed, or credentials were given.
            ResourceUnavailableError: The file cannot be opened (missing directory, no
                permission, not a database, locked beyond ``busy_timeout``).

        Side Effects:
            Creates the file if it does not exist.
        """
        settings = parse_sqlite_config(config)
        if credentials is not None:
            raise ResourceConfigError(
                "a sqlite database takes no credentials: drop the reference's credentials_ref",
                key="credentials_ref",
            )
        path = self._confined(settings.path)
        database = SQLiteDatabase(
            path,
            max_size=settings.max_size,
            busy_timeout=settings.busy_timeout,
            journal_mode=settings.journal_mode,
            close_timeout=self._close_timeout,
        )
        try:
            await database.open()
        except BaseException as exc:  # cancelled too: never leave its thread behind
            await database.close()
            if isinstance(exc, sqlite3.Error | OSError):
                raise ResourceUnavailableError(
                    f"{database.target} cannot be opened: {exc}", path=path
                ) from exc
            raise
        return database

    async def health_check(self, resource: Any) -> None:
        """Run ``SELECT 1`` within ``health_timeout``.

        Raises:
            ResourceUnavailableError: The database is closed, locked or broken.
        """
        database = _database(resource)
        if database.is_closing():
            raise ResourceUnavailableError(f"the {database.target} is closed")
        try:
            async with asyncio.timeout(self._health_timeout):
                value = await database.fetchval("SELECT 1")
        except TimeoutError:
            raise ResourceUnavailableError(
                f"the {database.target} did not answer SELECT 1 within {self._health_timeout:g}s"
            ) from None
        except sqlite3.Error as exc:
            raise ResourceUnavailableError(
                f"the {database.target} failed its health check: {exc}"
            ) from exc
        if value != 1:
            raise ResourceUnavailableError(
                f"the {database.target} answered SELECT 1 with {value!r}"
            )

    async def close(self, resource: Any) -> None:
        """Close every connection of the database. Idempotent."""
        await _database(resource).close()


def _database(resource: Any) -> SQLiteDatabase:
    if not isinstance(resource, SQLiteDatabase):
        raise TypeError(f"expected a SQLiteDatabase, got {type(resource).__name__}")
    return resource
