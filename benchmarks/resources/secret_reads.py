"""Target 2: what ``SecretManager.get_secret`` costs, cached and uncached.

- cached: ``cache_ttl`` 300 s, after the first read (a dict look-up and a clock read);
- uncached on the real SQLite store (a new file, WAL): a query on the store's own thread,
  then two AES-GCM decryptions (the data key, then the value) on the event loop;
- uncached on the in-memory store: the decryption alone;
- uncached on PostgreSQL (a new schema, dropped afterwards): one round trip through the
  store's pool, then the decryption.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from benchmarks.resources.common import master_key
from benchmarks.resources.timing import each_timed, per_op_batches

from lockgate.gateways.interfaces import ISecretStore
from lockgate.gateways.stores.secrets.memory import InMemorySecretStore
from lockgate.gateways.stores.secrets.postgres import PostgresSecretStore
from lockgate.gateways.stores.secrets.sqlite import SQLiteSecretStore
from lockgate.use_cases.secrets.manager import SecretManager
from lockgate.use_cases.secrets.master_key import MasterKey

__all__ = ["measure_secrets"]

NAME = "bench_db_credentials"
VALUE = {"user": "app", "password": "s3cr3t-bench-value"}  # kailash.md §8's example shape
WARM_UP = 50


async def measure_secrets(
    scratch: Path,
    dsn: str | None,
    schema: str | None,
    *,
    cached_reads: int,
    uncached_reads: int,
    batch_size: int,
) -> dict[str, Any]:
    """Microseconds per ``get_secret`` in each of the cases above (PostgreSQL when ``dsn``
    and ``schema`` are given)."""
    key = master_key()
    path = scratch / "secrets.sqlite3"
    results: dict[str, Any] = {}
    sqlite_store = SQLiteSecretStore(path)
    await sqlite_store.open()
    try:
        await SecretManager(sqlite_store, key, cache_ttl=0).store_secret(NAME, VALUE)
        cached = SecretManager(sqlite_store, key, cache_ttl=300.0)
        start = time.perf_counter()
        await _read(cached)
        results["cached_first_read_us"] = (time.perf_counter() - start) * 1e6

        async def cached_batch(n: int) -> float:
            start = time.perf_counter()
            for _ in range(n):
                await cached.get_secret(NAME)
            return time.perf_counter() - start

        results["cached"] = await per_op_batches(cached_batch, cached_reads, batch_size)
        results["sqlite"] = await _uncached(sqlite_store, key, uncached_reads)
        results["sqlite"]["journal_mode"] = _journal_mode(path)
    finally:
        await sqlite_store.close()

    memory = SecretManager(InMemorySecretStore(), key, cache_ttl=0)
    await memory.store_secret(NAME, VALUE)
    await _read(memory)

    async def memory_batch(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            await memory.get_secret(NAME)
        return time.perf_counter() - start

    results["memory"] = await per_op_batches(memory_batch, cached_reads // 10, batch_size // 10)
    if dsn is not None and schema is not None:
        postgres_store = PostgresSecretStore(dsn, schema=schema)
        await postgres_store.open()
        try:
            await SecretManager(postgres_store, key, cache_ttl=0).store_secret(NAME, VALUE)
            results["postgres"] = await _uncached(postgres_store, key, uncached_reads)
        finally:
            await postgres_store.close()
    return results


async def _read(manager: SecretManager) -> None:
    if (await manager.get_secret(NAME)).reveal() != VALUE:
        raise RuntimeError("the secret read back is not the one stored")


async def _uncached(store: ISecretStore, key: MasterKey, reads: int) -> dict[str, Any]:
    """Each uncached read timed on its own, after ``WARM_UP`` unmeasured ones."""
    manager = SecretManager(store, key, cache_ttl=0)
    for _ in range(WARM_UP):
        await _read(manager)
    return await each_timed(lambda: manager.get_secret(NAME), reads)


def _journal_mode(path: Path) -> str:
    """The file's journal mode as the store left it (WAL persists in the file)."""
    connection = sqlite3.connect(path)
    try:
        return str(connection.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        connection.close()
