"""What the secret-store contract suites share: the stores by kind, fixtures over them, a
store whose rotation or write pauses inside its transaction until the test lets it go, and
ways to see that another connection is waiting for that transaction's lock (PostgreSQL's
lock table; the statement SQLite was asked to begin).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from lockgate.gateways.interfaces import ISecretStore
from lockgate.gateways.stores.secrets.memory import InMemorySecretStore
from lockgate.gateways.stores.secrets.postgres import PostgresSecretStore
from lockgate.gateways.stores.secrets.sqlite import SQLiteSecretStore
from lockgate.models.secret import (
    RewrapDataKey,
    SealSecret,
    SecretEnvelope,
    SecretKeyState,
    SecretMetadata,
)
from lockgate.use_cases.secrets.master_key import MasterKey, generate_master_key
from tests.contract.backends import PG_DSN, Makers

__all__ = [
    "MAKERS",
    "PausingStore",
    "assert_sqlite_write_lock_held",
    "in_thread",
    "new_key",
    "postgres_lock_waiters",
    "sqlite_begins",
]

MAKERS: Makers = {
    "memory": lambda _path, _schema: InMemorySecretStore(),
    "sqlite": lambda path, _schema: SQLiteSecretStore(path),
    "postgres": lambda _path, schema: PostgresSecretStore(PG_DSN, schema=schema),
}
# Long enough never to be reached unless something is broken: then the test fails
# rather than hangs.
PAUSE_LIMIT = 60.0


def new_key() -> MasterKey:
    return MasterKey.from_base64(generate_master_key())


class PausingStore:
    """An ``ISecretStore`` that, once armed, pauses the next rotation (in its first
    ``rewrap`` call) or write (in its ``seal``) inside the store's transaction: ``paused`` is
    set then, and it goes on once ``resume`` is set. The pause blocks the thread the callback
    runs on, so a PostgreSQL store paused this way must run on a loop of its own."""

    def __init__(self, store: ISecretStore) -> None:
        self.store = store
        self.paused = threading.Event()
        self.resume = threading.Event()

    def _pause(self) -> None:
        if not self.paused.is_set():
            self.paused.set()
            assert self.resume.wait(PAUSE_LIMIT), "never resumed"

    async def open(self) -> None:
        await self.store.open()

    async def close(self) -> None:
        await self.store.close()

    async def put(self, name: str, seal: SealSecret) -> SecretEnvelope:
        def paused(previous: SecretMetadata | None) -> SecretEnvelope:
            self._pause()
            return seal(previous)

        return await self.store.put(name, paused)

    async def get(self, name: str) -> SecretEnvelope | None:
        return await self.store.get(name)

    async def delete(self, name: str) -> bool:
        return await self.store.delete(name)

    async def list(self) -> list[SecretMetadata]:
        return await self.store.list()

    async def key_state(self) -> SecretKeyState:
        return await self.store.key_state()

    async def rewrap_all(self, key_id: str, rewrap: RewrapDataKey, *, keep_previous: bool) -> int:
        def paused(envelope: SecretEnvelope) -> bytes:
            self._pause()
            return rewrap(envelope)

        return await self.store.rewrap_all(key_id, paused, keep_previous=keep_previous)


async def in_thread(work: Callable[[], Awaitable[Any]]) -> Any:
    """``await work()`` on an event loop of its own, in a thread of its own (as another
    process would: a pause there does not stop this loop)."""
    return await asyncio.to_thread(lambda: asyncio.run(_call(work)))


async def _call(work: Callable[[], Awaitable[Any]]) -> Any:
    return await work()


def sqlite_begins(store: ISecretStore) -> threading.Event:
    """Set once the SQLite store's own connection is asked to ``BEGIN IMMEDIATE`` (from
    then on it holds, or waits for, the file's one write lock)."""
    begun = threading.Event()

    def trace(statement: str) -> None:
        if statement.strip().upper() == "BEGIN IMMEDIATE":
            begun.set()

    connection: sqlite3.Connection = store._worker._connection  # type: ignore[attr-defined]
    connection.set_trace_callback(trace)
    return begun


def assert_sqlite_write_lock_held(path: Path) -> None:
    """Another connection holds the SQLite file's write lock: a write attempted without
    waiting at all is refused."""
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            connection.execute("BEGIN IMMEDIATE")
    finally:
        connection.close()


async def postgres_lock_waiters(schema: str) -> int:
    """How many sessions wait for a lock while holding one on ``schema``'s keyring table
    (a row lock wait shows as a wait for the holder's transaction)."""
    connection = await asyncpg.connect(PG_DSN)
    try:
        waiting: int = await connection.fetchval(
            """
            SELECT count(DISTINCT w.pid) FROM pg_locks w
            WHERE NOT w.granted AND w.pid IN (
                SELECT l.pid FROM pg_locks l
                JOIN pg_class c ON c.oid = l.relation
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relname = 'lockgate_secret_keyring')
            """,
            schema,
        )
        return waiting
    finally:
        await connection.close()
