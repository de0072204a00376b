"""Run stores to test the ``IRunStore`` contract against: in memory, SQLite and the real
PostgreSQL on this machine (each test in a fresh schema, dropped afterwards).

PostgreSQL being down fails the PostgreSQL tests: ``.ci/run`` starts the server first.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from pathlib import Path

import asyncpg
import pytest

from lockgate.gateways.interfaces import IRunStore
from lockgate.gateways.stores.runs.memory import InMemoryRunStore
from lockgate.gateways.stores.runs.postgres import PostgresRunStore
from lockgate.gateways.stores.runs.sqlite import SQLiteRunStore

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


class Backend:
    """Opens stores on one set of data and pokes it directly where the API cannot."""

    def __init__(
        self, kind: str, make: Callable[[], IRunStore], *, path: Path, schema: str
    ) -> None:
        self.kind = kind
        self.path = path
        self.schema = schema
        self._make = make
        self._stores: list[IRunStore] = []

    async def open(self) -> IRunStore:
        """A new store on this backend's data (in memory: the same store again)."""
        if self.kind == "memory" and self._stores:
            return self._stores[0]
        store = self._make()
        await store.open()
        self._stores.append(store)
        return store

    async def close_all(self) -> None:
        for store in self._stores:
            await store.close()

    async def execute(self, sql: str, *args: object) -> None:
        """Run one statement on the data behind the stores' back: ``{t}`` prefixes table
        names (with the schema, on PostgreSQL), ``$N`` are the arguments."""
        if self.kind == "sqlite":
            with closing(sqlite3.connect(self.path)) as database, database:
                database.execute(re.sub(r"\$\d+", "?", sql.format(t="")), args)
            return
        connection = await asyncpg.connect(PG_DSN)
        try:
            await connection.execute(sql.format(t=f'"{self.schema}".'), *args)
        finally:
            await connection.close()

    async def disown(self, run_id: str) -> None:
        """Leave the run without an owner, as if its node had let go of it."""
        store = self._stores[0]
        if isinstance(store, InMemoryRunStore):
            store._leases[run_id] = (None, 0.0)
        else:
            await self.execute("UPDATE {t}lockgate_runs SET owner = NULL WHERE run_id = $1", run_id)


async def drop_schema(schema: str) -> None:
    connection = await asyncpg.connect(PG_DSN)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


def fresh_schema() -> str:
    return f"lockgate_test_{secrets.token_hex(6)}"


@asynccontextmanager
async def _backend(kind: str, tmp_path: Path) -> AsyncIterator[Backend]:
    schema = fresh_schema()
    path = tmp_path / "runs.sqlite3"
    makers: dict[str, Callable[[], IRunStore]] = {
        "memory": InMemoryRunStore,
        "sqlite": lambda: SQLiteRunStore(path),
        "postgres": lambda: PostgresRunStore(PG_DSN, schema=schema),
    }
    backend = Backend(kind, makers[kind], path=path, schema=schema)
    try:
        yield backend
    finally:
        await backend.close_all()
        if kind == "postgres":
            await drop_schema(schema)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with _backend(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture(params=["sqlite", "postgres"])
async def durable_backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with _backend(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture
async def store(backend: Backend) -> IRunStore:
    return await backend.open()


@pytest.fixture
async def pg_schema_name() -> AsyncIterator[str]:
    """A fresh PostgreSQL schema name, dropped after the test."""
    schema = fresh_schema()
    try:
        yield schema
    finally:
        await drop_schema(schema)
