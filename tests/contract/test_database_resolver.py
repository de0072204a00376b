"""The ``database`` resource type's contract, run against the real PostgreSQL on this machine
and against SQLite files: one step text (``$1`` placeholders, ``dict(row)``) serves both.

PostgreSQL being down fails these tests. The server trusts every login from 127.0.0.1
(``pg_hba.conf``: ``host all all 127.0.0.1/32 trust``), so it accepts any password: rejected
credentials are exercised with a role that does not exist and, for a real ``28P01`` answer
to a password that was sent, with a loopback listener that speaks just enough of the
protocol to ask for a password and refuse it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from lockgate.errors import ResourceTimeoutError, ResourceUnavailableError
from lockgate.gateways.interfaces import IResourceResolver
from lockgate.gateways.resources.database.resolver import DatabaseResolver
from lockgate.gateways.resources.database.sqlite import SQLiteDatabaseResolver
from lockgate.gateways.resources.database.sqlite_pool import SQLiteDatabase

PG: dict[str, Any] = {"host": "127.0.0.1", "port": 5432, "database": "test", "user": "postgres"}
MAX_SIZE = 4


async def admin() -> asyncpg.Connection[asyncpg.Record]:
    return await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="test")


@dataclass
class Target:
    driver: str
    config: dict[str, Any]
    app_name: str = ""


@pytest.fixture(params=["postgresql", "sqlite"])
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    if request.param == "sqlite":
        yield Target("sqlite", {"driver": "sqlite", "path": str(tmp_path / "db.sqlite3")})
        return
    name = f"lockgate_dbres_{secrets.token_hex(6)}"
    connection = await admin()
    try:
        await connection.execute(f'CREATE SCHEMA "{name}"')
        settings = {"application_name": name, "search_path": name}
        yield Target("postgresql", {**PG, "server_settings": settings}, app_name=name)
    finally:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await connection.close()


@pytest.fixture
async def db(target: Target) -> AsyncIterator[Any]:
    resolver = DatabaseResolver()
    resource = await resolver.create({**target.config, "max_size": MAX_SIZE}, None)
    try:
        yield resource
    finally:
        await resolver.close(resource)


def test_database_resolver_is_a_resource_resolver() -> None:
    assert isinstance(DatabaseResolver(), IResourceResolver)
    assert DatabaseResolver.type_name == "database"


async def test_queries_round_trip_with_dollar_placeholders(db: Any) -> None:
    async with db.acquire() as conn:
        create = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, status TEXT)"
        assert await conn.execute(create) == "CREATE TABLE"
        insert = "INSERT INTO items (id, name, status) VALUES ($1, $2, $3)"
        assert await conn.execute(insert, 1, "ada", "active") == "INSERT 0 1"
        await conn.executemany(insert, [(2, "bob", "idle"), (3, "cy", "active")])

        rows = await conn.fetch(
            "SELECT id, name FROM items WHERE status = $1 ORDER BY id", "active"
        )
        assert [dict(row) for row in rows] == [{"id": 1, "name": "ada"}, {"id": 3, "name": "cy"}]
        assert rows[1]["name"] == "cy"
        assert rows[1][0] == 3
        row = await conn.fetchrow("SELECT name, status FROM items WHERE id = $1", 2)
        assert row is not None
        assert dict(row) == {"name": "bob", "status": "idle"}
        assert await conn.fetchrow("SELECT name FROM items WHERE id = $1", 99) is None
        assert await conn.fetchval("SELECT count(*) FROM items") == 3
        # A $1 inside a string literal is text, not a placeholder.
        literal = "SELECT name FROM items WHERE name <> '$1' AND id = $1"
        assert await conn.fetchval(literal, 2) == "bob"
        assert await conn.execute("UPDATE items SET status = $1", "gone") == "UPDATE 3"
        assert await conn.execute("DELETE FROM items WHERE id = $1", 3) == "DELETE 1"

    assert await db.fetchval("SELECT name FROM items WHERE id = $1", 1) == "ada"
    assert dict(await db.fetchrow("SELECT id FROM items WHERE id = $1", 2)) == {"id": 2}
    assert len(await db.fetch("SELECT id FROM items")) == 2
    assert await db.execute("DELETE FROM items") == "DELETE 2"


async def test_transactions_commit_roll_back_and_nest(db: Any) -> None:
    await db.execute("CREATE TABLE ledger (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL)")
    insert = "INSERT INTO ledger (id, amount) VALUES ($1, $2)"

    async def insert_then_fail(conn: Any, row_id: int) -> None:
        async with conn.transaction():
            await conn.execute(insert, row_id, row_id * 10)
            raise RuntimeError("abort")

    async with db.acquire() as conn:
        async with conn.transaction():
            await conn.execute(insert, 1, 10)
        with pytest.raises(RuntimeError, match="abort"):
            await insert_then_fail(conn, 2)
        async with conn.transaction():
            await conn.execute(insert, 3, 30)
            with pytest.raises(RuntimeError, match="abort"):
                await insert_then_fail(conn, 4)  # a savepoint, rolled back alone
    # Seen from whichever connection the pool hands out next: only the committed rows.
    assert [r["id"] for r in await db.fetch("SELECT id FROM ledger ORDER BY id")] == [1, 3]


async def test_health_check_then_close_is_idempotent(target: Target) -> None:
    resolver = DatabaseResolver()
    resource = await resolver.create(target.config, None)
    await resolver.health_check(resource)
    await resolver.close(resource)
    with pytest.raises(ResourceUnavailableError, match="closed"):
        await resolver.health_check(resource)
    await resolver.close(resource)


async def test_pool_never_holds_more_than_max_size(target: Target, db: Any) -> None:
    held = peak = peak_server = 0
    backends: set[Any] = set()
    count_app = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"

    async def use() -> None:
        nonlocal held, peak, peak_server
        async with db.acquire() as conn:
            held += 1
            peak = max(peak, held, db.get_size())
            if target.driver == "postgresql":
                backends.add(await conn.fetchval("SELECT pg_backend_pid()"))
                peak_server = max(peak_server, await conn.fetchval(count_app, target.app_name))
            else:
                backends.add(conn)
                assert await conn.fetchval("SELECT $1 + 1", 1) == 2
            held -= 1

    await asyncio.gather(*(use() for _ in range(200)))
    assert held == 0
    assert 1 <= peak <= MAX_SIZE
    assert 1 <= len(backends) <= MAX_SIZE
    assert db.get_size() <= MAX_SIZE
    assert peak_server <= MAX_SIZE


# --- PostgreSQL only ---------------------------------------------------------------------


def assert_no_secret(error: BaseException, secret: str) -> None:
    """``secret`` appears nowhere ``error`` or its chain would show."""
    seen: list[BaseException | None] = [error]
    while seen:
        current = seen.pop()
        if current is None:
            continue
        assert secret not in f"{current} {current!r} {getattr(current, 'fields', '')}"
        seen += [current.__cause__, current.__context__]


async def test_postgres_pool_opens_min_size_connections() -> None:
    app = f"lockgate_dbres_{secrets.token_hex(6)}"
    resolver = DatabaseResolver()
    config = {**PG, "min_size": 3, "max_size": 5, "server_settings": {"application_name": app}}
    pool = await resolver.create(config, None)
    try:
        count = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app
        )
        assert count == 3
    finally:
        await resolver.close(pool)


async def test_postgres_unknown_role_is_rejected_without_showing_the_password() -> None:
    password = f"pw-{secrets.token_hex(8)}"
    role = f"lockgate_nobody_{secrets.token_hex(4)}"
    credentials = {"user": role, "password": password}
    with pytest.raises(ResourceUnavailableError) as caught:
        await DatabaseResolver().create(PG, credentials)
    error = caught.value
    assert not isinstance(error, ResourceTimeoutError)
    assert f"PostgreSQL at 127.0.0.1:5432 rejected the credentials of user '{role}'" in str(error)
    assert error.retryable
    assert_no_secret(error, password)


async def test_postgres_credentials_user_wins_over_config_user() -> None:
    resolver = DatabaseResolver()
    pool = await resolver.create({**PG, "user": "no_such_role"}, {"username": "postgres"})
    await resolver.close(pool)


async def test_postgres_unknown_database_is_named() -> None:
    name = f"lockgate_missing_{secrets.token_hex(4)}"
    with pytest.raises(ResourceUnavailableError, match=f"has no database '{name}'") as caught:
        await DatabaseResolver().create({**PG, "database": name}, {"password": "s3cret-x"})
    assert caught.value.fields["database"] == name
    assert_no_secret(caught.value, "s3cret-x")


class Listener:
    """A loopback server whose connection handlers the test waits for, so that no socket
    outlives the test's event loop."""

    def __init__(self, handler: Callable[..., Awaitable[None]]) -> None:
        self._handler = handler
        self._handled: list[asyncio.Future[None]] = []
        self.port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        done = asyncio.get_running_loop().create_future()
        self._handled.append(done)
        try:
            await self._handler(reader, writer)
        finally:
            writer.close()
            await writer.wait_closed()
            done.set_result(None)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Listener]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            yield self
            # The client hung up on every connection (else this times out).
            await asyncio.wait_for(asyncio.gather(*self._handled), 10)


async def test_postgres_password_refused_by_server_is_translated() -> None:
    """A listener asks for a cleartext password and answers 28P01, as a server whose
    pg_hba.conf wants passwords would (this machine's trusts 127.0.0.1)."""
    password = f"pw-{secrets.token_hex(8)}"
    received: list[bytes] = []

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def message(typed: bool) -> bytes:
            if typed:
                await reader.readexactly(1)
            size = int.from_bytes(await reader.readexactly(4), "big")
            return await reader.readexactly(size - 4)

        startup = await message(typed=False)
        if int.from_bytes(startup[:4], "big") == 80877103:  # SSLRequest: no TLS here
            writer.write(b"N")
            await message(typed=False)
        writer.write(b"R" + (8).to_bytes(4, "big") + (3).to_bytes(4, "big"))
        received.append(await message(typed=True))
        fields = b'SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "alice"\0\0'
        writer.write(b"E" + (len(fields) + 4).to_bytes(4, "big") + fields)
        await writer.drain()

    async with Listener(refuse).running() as listener:
        port = listener.port
        with pytest.raises(ResourceUnavailableError) as caught:
            await DatabaseResolver().create(
                {**PG, "port": port, "min_size": 1}, {"user": "alice", "password": password}
            )
    assert received == [password.encode() + b"\0"]  # the password did go out
    message = str(caught.value)
    assert f"PostgreSQL at 127.0.0.1:{port} rejected the credentials of user 'alice'" in message
    assert_no_secret(caught.value, password)


async def test_postgres_silent_server_times_out_within_connect_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up

    async with Listener(silent).running() as listener:
        port = listener.port
        started = time.monotonic()
        with pytest.raises(ResourceTimeoutError) as caught:
            await DatabaseResolver().create({**PG, "port": port, "connect_timeout": 0.5}, None)
        elapsed = time.monotonic() - started
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "connect_timeout=0.5s" in str(caught.value)
    assert elapsed < 5.0  # a generous "does not hang" bound, not a timing assertion


async def test_postgres_refused_port_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ResourceUnavailableError, match=f"127.0.0.1:{port} refused") as caught:
        await DatabaseResolver().create({**PG, "port": port}, None)
    assert not isinstance(caught.value, ResourceTimeoutError)


async def test_postgres_ssl_require_against_a_server_without_tls_is_unavailable() -> None:
    with pytest.raises(ResourceUnavailableError, match="rejected SSL upgrade"):
        await DatabaseResolver().create({**PG, "ssl": "require"}, None)


async def test_postgres_min_size_zero_still_checks_the_server() -> None:
    name = f"lockgate_missing_{secrets.token_hex(4)}"
    with pytest.raises(ResourceUnavailableError, match="has no database"):
        await DatabaseResolver().create({**PG, "database": name, "min_size": 0}, None)


async def test_postgres_pool_recovers_after_its_backends_are_terminated() -> None:
    """As after a server restart. Observed with asyncpg 0.32 (30 trials): the first query on
    each dead connection fails, untranslated (the pool is asyncpg's own), with
    ``ConnectionDoesNotExistError`` or ``InternalClientError`` ("cannot switch to state
    12; another operation is in progress"); at most one failure per killed connection,
    then the pool reconnects."""
    app = f"lockgate_dbres_{secrets.token_hex(6)}"
    resolver = DatabaseResolver()
    config = {**PG, "min_size": 2, "max_size": 2, "server_settings": {"application_name": app}}
    pool = await resolver.create(config, None)
    connection = await admin()
    try:
        assert await pool.fetchval("SELECT 1") == 1
        killed = await connection.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = $1",
            app,
        )
        assert killed == 2
        failures: list[BaseException] = []
        for _ in range(5):
            try:
                assert await pool.fetchval("SELECT 1") == 1
                break
            except (
                asyncpg.PostgresConnectionError,
                asyncpg.InterfaceError,
                asyncpg.InternalClientError,
            ) as exc:
                failures.append(exc)
        else:
            pytest.fail(f"the pool never recovered: {failures!r}")
        assert len(failures) <= killed
        await resolver.health_check(pool)
    finally:
        await connection.close()
        await resolver.close(pool)


# --- SQLite only ---------------------------------------------------------------------------


async def test_sqlite_timeout_interrupts_the_statement_and_keeps_the_connection(
    tmp_path: Path,
) -> None:
    resolver = DatabaseResolver()
    database = await resolver.create({"driver": "sqlite", "path": str(tmp_path / "t.db")}, None)
    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c"
    try:
        async with database.acquire() as conn:
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                await conn.fetchval(endless, timeout=0.2)
            assert time.monotonic() - started < 10.0  # interrupted, not left running
            assert await conn.fetchval("SELECT $1", 5) == 5
    finally:
        await resolver.close(database)


async def test_sqlite_release_rolls_back_what_the_holder_left_open(tmp_path: Path) -> None:
    database = SQLiteDatabase(str(tmp_path / "r.db"), max_size=1)
    await database.open()
    try:
        await database.execute("CREATE TABLE t (x INTEGER)")
        async with database.acquire() as conn:
            await conn.execute("BEGIN IMMEDIATE")
            await conn.execute("INSERT INTO t VALUES ($1)", 1)
        assert await database.fetchval("SELECT count(*) FROM t") == 0
        assert await database.execute("INSERT INTO t VALUES ($1)", 2) == "INSERT 0 1"
    finally:
        await database.close()


async def test_sqlite_close_wakes_waiters_and_refuses_new_acquires(tmp_path: Path) -> None:
    database = SQLiteDatabase(str(tmp_path / "c.db"), max_size=1)
    await database.open()
    held = await database.acquire()
    waiter = asyncio.ensure_future(database.fetchval("SELECT 1"))
    await asyncio.sleep(0)
    closing = asyncio.ensure_future(database.close())
    with pytest.raises(ResourceUnavailableError, match="closed"):
        await waiter
    await database.release(held)
    await closing
    assert database.get_size() == 0
    with pytest.raises(ResourceUnavailableError, match="closed"):
        await database.fetchval("SELECT 1")


async def test_sqlite_close_does_not_wait_forever_for_a_holder(tmp_path: Path) -> None:
    database = SQLiteDatabase(str(tmp_path / "h.db"), max_size=2, close_timeout=0.2)
    await database.open()
    async with database.acquire() as conn:
        await database.close()  # gives up waiting after close_timeout, closes under it
        with pytest.raises(ResourceUnavailableError, match="closed"):
            await conn.fetchval("SELECT 1")
    assert database.get_size() == 0


async def test_sqlite_in_memory_and_relative_paths(tmp_path: Path) -> None:
    resolver = DatabaseResolver(sqlite=SQLiteDatabaseResolver(base_dir=tmp_path))
    memory = await resolver.create({"driver": "sqlite", "path": ":memory:"}, None)
    relative = await resolver.create({"driver": "sqlite", "path": "sub.db"}, None)
    try:
        await memory.execute("CREATE TABLE m (x INTEGER)")
        assert await memory.fetchval("SELECT count(*) FROM m") == 0
        assert relative.path == str(tmp_path / "sub.db")
        assert (tmp_path / "sub.db").exists()
        assert await relative.fetchval("PRAGMA journal_mode") == "wal"
    finally:
        await resolver.close(memory)
        await resolver.close(relative)


async def test_sqlite_unopenable_path_is_unavailable(tmp_path: Path) -> None:
    path = str(tmp_path / "missing-dir" / "x.db")
    with pytest.raises(ResourceUnavailableError, match="cannot be opened") as caught:
        await DatabaseResolver().create({"driver": "sqlite", "path": path}, None)
    assert path in str(caught.value)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database, just bytes " * 100)
    with pytest.raises(ResourceUnavailableError, match="not a database"):
        await DatabaseResolver().create({"driver": "sqlite", "path": str(garbage)}, None)


async def test_sqlite_rows_act_like_asyncpg_records(tmp_path: Path) -> None:
    database = SQLiteDatabase(str(tmp_path / "rows.db"))
    await database.open()
    try:
        row = await database.fetchrow("SELECT 1 AS a, 'x' AS b")
        assert row is not None
        assert (row["a"], row[1], len(row), list(row)) == (1, "x", 2, [1, "x"])
        assert (row.get("b"), row.get("nope", 7)) == ("x", 7)
        assert (list(row.items()), list(row.values())) == ([("a", 1), ("b", "x")], [1, "x"])
        script = "CREATE TABLE s (v TEXT); INSERT INTO s VALUES ('a;b'); INSERT INTO s VALUES ('c')"
        assert await database.execute(script) == "INSERT 0 1"
        assert [r["v"] for r in await database.fetch("SELECT v FROM s ORDER BY v")] == ["a;b", "c"]
    finally:
        await database.close()
