"""What the async invocation store and job store contract suites share: a backend that
opens stores of one kind (memory, SQLite file, PostgreSQL schema) on one set of data and
reads or writes that data behind the stores' back, and the checks every durable store of
theirs must pass (a newer schema, a closed store, SQLite's durability setting, PostgreSQL's
password). PostgreSQL schemas are fresh per test and dropped afterwards; PostgreSQL being
down fails the tests, never skips them.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
import pytest

from lockgate.errors import RunStoreError
from tests.contract.conftest import PG_DSN, drop_schema, fresh_schema

__all__ = [
    "KINDS",
    "Backend",
    "Openable",
    "backend",
    "backend_of",
    "durable",
    "postgres_hides_the_password",
    "refuses_a_newer_schema",
    "refuses_when_closed",
    "sqlite_durability_setting",
    "sqlite_open_failure",
    "sqlite_synchronous",
    "store",
]

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


async def sqlite_synchronous(store: object) -> int:
    """The ``synchronous`` pragma on a SQLite store's own connection (2 FULL, 1 NORMAL):
    the setting is per connection, so another connection to the file cannot see it."""
    worker = store._worker  # type: ignore[attr-defined]
    value: int = await worker.run("probe", lambda c: c.execute("PRAGMA synchronous").fetchone()[0])
    return value


async def refuses_a_newer_schema(durable: Backend[Any], versions_table: str) -> None:
    """A store whose ``versions_table`` records a version newer than it knows will not open."""
    store = await durable.open()
    await store.close()
    await durable.execute(f"INSERT INTO {{t}}{versions_table} VALUES (999)")
    with pytest.raises(RunStoreError, match=rf"{versions_table}.*999"):
        await durable.open()


async def refuses_when_closed(
    store: S,
    what: str,
    read: Callable[[S], Awaitable[object]],
    write: Callable[[S], Awaitable[object]],
) -> None:
    """``store`` refuses ``read`` before it was opened and ``write`` once it was closed,
    saying ``what`` is not open."""
    with pytest.raises(RunStoreError, match=f"{what} is not open"):
        await read(store)
    await store.open()
    await store.close()
    with pytest.raises(RunStoreError, match=f"{what} is not open"):
        await write(store)


async def sqlite_durability_setting(make: Callable[..., Openable], path: Path) -> None:
    """Stores that ``make(path, synchronous=...)`` opens on one file keep their own
    ``synchronous`` (FULL by default), the file is in WAL mode, and another setting is
    refused."""
    full = make(path)
    normal = make(path, synchronous="NORMAL")
    await full.open()
    await normal.open()
    try:
        assert (await sqlite_synchronous(full), await sqlite_synchronous(normal)) == (2, 1)
    finally:
        await full.close()
        await normal.close()
    with closing(sqlite3.connect(path)) as database:
        assert database.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(ValueError, match="synchronous must be 'FULL' or 'NORMAL'"):
        make(path, synchronous="OFF")


async def sqlite_open_failure(make: Callable[[Path], Openable], folder: Path, what: str) -> None:
    """A store on a path that is a folder fails to open with the store's error."""
    (folder / "dir.sqlite3").mkdir()
    with pytest.raises(RunStoreError, match=f"cannot open {what}"):
        await make(folder / "dir.sqlite3").open()


async def postgres_hides_the_password(make: Callable[[str], Openable]) -> None:
    """A store that cannot reach its database names where, never the password (nor does
    its repr)."""
    store = make("postgresql://u:hunter2@127.0.0.1:1/db")
    with pytest.raises(RunStoreError) as caught:
        await store.open()
    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in repr(store)
    assert "127.0.0.1:1" in str(caught.value)


# The fixtures every queue-store suite uses; a test module imports them and sets ``MAKERS``
# (kind -> store maker) for its port.


@pytest.fixture(params=KINDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend[Any]]:
    async with backend_of(request.param, tmp_path, request.module.MAKERS) as opened:
        yield opened


@pytest.fixture(params=["sqlite", "postgres"])
async def durable(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend[Any]]:
    async with backend_of(request.param, tmp_path, request.module.MAKERS) as opened:
        yield opened


@pytest.fixture
async def store(backend: Backend[Any]) -> Any:
    return await backend.open()
