"""What the async invocation store and job store contract suites share: a backend that
opens stores of one kind (memory, SQLite file, PostgreSQL schema) on one set of data and
reads that data behind the stores' back. PostgreSQL schemas are fresh per test and dropped
afterwards; PostgreSQL being down fails the tests, never skips them.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import asyncpg

from tests.contract.conftest import PG_DSN, drop_schema, fresh_schema

__all__ = ["KINDS", "Backend", "Openable", "backend_of", "sqlite_synchronous"]

KINDS = ("memory", "sqlite", "postgres")


class Openable(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...


S = TypeVar("S", bound=Openable)


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

    async def close_all(self) -> None:
        for store in self._stores:
            await store.close()

    async def fetchval(self, sql: str, *args: Any) -> Any:
        """One value from the data behind the stores' back: ``{t}`` prefixes table names
        (with the schema, on PostgreSQL), ``$N`` are the arguments."""
        if self.kind == "sqlite":
            with closing(sqlite3.connect(self.path)) as database, database:
                query = re.sub(r"\$(\d+)", r"?\1", sql.format(t=""))
                return database.execute(query, args).fetchone()[0]
        if self.kind != "postgres":
            raise AssertionError(f"no data to read behind a {self.kind} store's back")
        connection = await asyncpg.connect(PG_DSN)
        try:
            return await connection.fetchval(sql.format(t=f'"{self.schema}".'), *args)
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


async def sqlite_synchronous(store: object) -> int:
    """The ``synchronous`` pragma on a SQLite store's own connection (2 FULL, 1 NORMAL):
    the setting is per connection, so another connection to the file cannot see it."""
    worker = store._worker  # type: ignore[attr-defined]
    value: int = await worker.run("probe", lambda c: c.execute("PRAGMA synchronous").fetchone()[0])
    return value
