"""What every contract suite opens its stores with: a ``Backend`` of one kind (memory, a
SQLite file, a fresh PostgreSQL schema) that opens stores on one set of data and reads or
writes that data behind the stores' back. The fixtures in ``conftest.py`` make one per kind
from the ``makers`` fixture each suite defines; PostgreSQL schemas are dropped afterwards, and
PostgreSQL being down fails the tests, never skips them.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import asyncpg

__all__ = [
    "DURABLE_KINDS",
    "KINDS",
    "PG_DSN",
    "Backend",
    "Makers",
    "Openable",
    "backend_of",
    "drop_schema",
    "fresh_schema",
]

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
DURABLE_KINDS = ("sqlite", "postgres")  # the kinds whose data outlives a store


def fresh_schema() -> str:
    return f"lockgate_test_{secrets.token_hex(6)}"


async def drop_schema(schema: str) -> None:
    connection = await asyncpg.connect(PG_DSN)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


KINDS = ("memory", "sqlite", "postgres")


class Openable(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...


S = TypeVar("S", bound=Openable)
Makers = Mapping[str, Callable[[Path, str], Any]]
"""Per kind, a store on the SQLite file and PostgreSQL schema given."""


class Backend(Generic[S]):
    """Opens stores on one set of data (in memory: the same store again).

    Args:
        kind: ``memory``, ``sqlite`` or ``postgres``.
        makers: Per kind, a store on the SQLite file and PostgreSQL schema given.
    """

    def __init__(
        self, kind: str, tmp_path: Path, makers: Mapping[str, Callable[[Path, str], S]]
    ) -> None:
        self.kind = kind
        self.path = tmp_path / "lockgate.sqlite3"
        self.schema = fresh_schema()
        self._make = makers[kind]
        self._stores: list[S] = []

    async def open(self) -> S:
        if self.kind == "memory" and self._stores:
            return self._stores[0]
        store = self._make(self.path, self.schema)
        await store.open()
        self._stores.append(store)
        return store

    @property
    def stores(self) -> list[S]:
        """The stores opened so far, first one first."""
        return self._stores

    async def close_all(self) -> None:
        for store in self._stores:
            await store.close()

    async def fetchval(self, sql: str, *args: Any) -> Any:
        """One value from the data behind the stores' back: ``{t}`` prefixes table names
        (with the schema, on PostgreSQL), ``$N`` are the arguments."""
        return await self._behind(sql, args, one=True)

    async def execute(self, sql: str, *args: Any) -> None:
        """A statement on the data behind the stores' back, written as ``fetchval``'s."""
        await self._behind(sql, args, one=False)

    async def _behind(self, sql: str, args: tuple[Any, ...], *, one: bool) -> Any:
        if self.kind == "sqlite":
            with closing(sqlite3.connect(self.path)) as database, database:
                query = re.sub(r"\$(\d+)", r"?\1", sql.format(t=""))
                cursor = database.execute(query, args)
                return cursor.fetchone()[0] if one else None
        if self.kind != "postgres":
            raise AssertionError(f"no data to read behind a {self.kind} store's back")
        connection = await asyncpg.connect(PG_DSN)
        try:
            query = sql.format(t=f'"{self.schema}".')
            if one:
                return await connection.fetchval(query, *args)
            return await connection.execute(query, *args)
        finally:
            await connection.close()


@asynccontextmanager
async def backend_of(
    kind: str, tmp_path: Path, makers: Mapping[str, Callable[[Path, str], S]]
) -> AsyncIterator[Backend[S]]:
    """A backend whose stores are closed (and PostgreSQL schema dropped) afterwards."""
    backend = Backend(kind, tmp_path, makers)
    try:
        yield backend
    finally:
        await backend.close_all()
        if kind == "postgres":
            await drop_schema(backend.schema)
