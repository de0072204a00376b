"""Checks every durable store of the queue, job, credential and secret suites must pass: a
newer schema refused, a closed store refused, SQLite's durability setting, PostgreSQL's
password kept out of errors. The suites' backends come from ``backends.py`` through the
fixtures of ``conftest.py``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar

import pytest

from lockgate.errors import RunStoreError
from tests.contract.backends import Backend, Openable

__all__ = [
    "postgres_hides_the_password",
    "refuses_a_newer_schema",
    "refuses_when_closed",
    "sqlite_durability_setting",
    "sqlite_open_failure",
    "sqlite_synchronous",
]

S = TypeVar("S", bound=Openable)


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
