"""Writes and master-key rotations on every secret store: they never interleave.

A write checks the master key in the same transaction, under the same lock, as a rotation
rewraps and changes it. The durable stores are shown waiting deterministically: a rotation
paused inside its transaction (on a loop and thread of its own, as another process would
be) holds the lock, a write started meanwhile is seen waiting for it (PostgreSQL's lock
table; SQLite's write lock held and the writer's ``BEGIN IMMEDIATE`` issued), and once the
rotation commits the write meets the new key. The other way round, a rotation waits for a
write in progress and rewraps what it wrote. Under steady writes from several connections,
and from several processes, a rotation still finishes, and afterwards every secret is under
the new key.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sqlite3
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from contextlib import closing
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from lockgate.errors import MasterKeyError, MasterKeyRotatedError, SecretStoreError
from lockgate.gateways.interfaces import ISecretStore
from lockgate.gateways.stores.postgres_base import migrate as postgres_migrate
from lockgate.gateways.stores.secrets.memory import InMemorySecretStore
from lockgate.gateways.stores.secrets.schema import (
    POSTGRES_SECRET_MIGRATIONS,
    SQLITE_SECRET_MIGRATIONS,
)
from lockgate.gateways.stores.sqlite_base import migrate as sqlite_migrate
from lockgate.models.secret import SecretEnvelope, SecretMetadata
from lockgate.use_cases.secrets.manager import SecretManager
from lockgate.use_cases.secrets.master_key import Keyring, MasterKey, create_key_file
from tests.contract.backends import PG_DSN, Backend, Makers
from tests.contract.secret_stores import (
    MAKERS,
    PAUSE_LIMIT,
    PausingStore,
    assert_sqlite_write_lock_held,
    in_thread,
    new_key,
    postgres_lock_waiters,
    sqlite_begins,
)
from tests.contract.secret_writer import read_status, write_until_stopped

Secrets = Backend[ISecretStore]


@pytest.fixture
def makers() -> Makers:
    return MAKERS


def unopened(backend: Secrets) -> ISecretStore:
    """A new store on ``backend``'s data, not yet opened (to open on another loop)."""
    store: ISecretStore = MAKERS[backend.kind](backend.path, backend.schema)
    return store


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll ``condition`` until it holds (failing, not hanging, if it never does)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PAUSE_LIMIT
    while not await condition():
        assert loop.time() < deadline, "the condition never held"
        await asyncio.sleep(0.01)


async def waiting_for_the_lock(backend: Secrets, begun: Any) -> None:
    """Returns once the other connection is provably at the lock the paused transaction
    holds: in PostgreSQL's lock table as waiting; for SQLite, the write lock is held and the
    writer has issued its BEGIN IMMEDIATE."""
    if backend.kind == "postgres":

        async def waiting() -> bool:
            return await postgres_lock_waiters(backend.schema) == 1

        await until(waiting)
        return
    assert_sqlite_write_lock_held(backend.path)
    assert await asyncio.to_thread(begun.wait, PAUSE_LIMIT)


async def assert_all_under(store: ISecretStore, key: MasterKey, values: dict[str, Any]) -> None:
    """Every secret is wrapped by ``key`` (none by another key, unless kept as its previous
    wrapping) and ``key`` alone opens each with the value expected."""
    state = await store.key_state()
    assert state.current_key_id == key.key_id
    assert {current for current, _, _ in state.wrappings} == {key.key_id}
    assert state.count == len(values)
    reader = SecretManager(store, key, cache_ttl=0)
    for name, value in values.items():
        assert (await reader.get_secret(name)).reveal() == value


# -- a write during a rotation -----------------------------------------------------------------


@pytest.mark.parametrize("follows", [False, True], ids=["old-key-kept", "key-file-updated"])
async def test_a_write_during_a_rotation_waits_and_then_meets_the_new_key(
    durable: Secrets, follows: bool
) -> None:
    old, new = new_key(), new_key()
    seed = await durable.open()
    await SecretManager(seed, old).store_secret("a", "value-a")

    rotating = PausingStore(unopened(durable))

    async def rotate() -> int:
        await rotating.open()
        try:
            return await SecretManager(rotating, old).rotate_master_key(new)
        finally:
            await rotating.close()

    # Opened first: opening a SQLite store takes the write lock briefly (its migrations).
    writer_store = await durable.open()
    rotation = asyncio.ensure_future(in_thread(rotate))
    assert await asyncio.to_thread(rotating.paused.wait, PAUSE_LIMIT)

    begun = sqlite_begins(writer_store) if durable.kind == "sqlite" else None
    # The writer's key source: its key file still holding the old key, or already the new.
    writer = SecretManager(writer_store, old, key_source=lambda: new if follows else old)
    write = asyncio.ensure_future(writer.store_secret("b", "value-b"))
    await waiting_for_the_lock(durable, begun)
    assert not write.done()
    assert not rotation.done()

    rotating.resume.set()
    assert await rotation == 1  # the write had not slipped in before it
    if follows:
        meta = await write  # refused under the old key, sealed again under the new one
        assert (meta.key_id, meta.version) == (new.key_id, 1)
        await assert_all_under(seed, new, {"a": "value-a", "b": "value-b"})
    else:
        with pytest.raises(
            MasterKeyRotatedError, match="restart the gateway with the new master key"
        ):
            await write
        await assert_all_under(seed, new, {"a": "value-a"})
        assert await seed.get("b") is None


async def test_a_rotation_waits_for_a_write_in_progress_and_rewraps_it(
    durable: Secrets,
) -> None:
    old, new = new_key(), new_key()
    seed = await durable.open()
    await SecretManager(seed, old).store_secret("a", "value-a")

    writing = PausingStore(unopened(durable))

    async def write() -> SecretMetadata:
        await writing.open()
        try:
            return await SecretManager(writing, old).store_secret("b", "value-b")
        finally:
            await writing.close()

    rotation_store = await durable.open()
    writer = asyncio.ensure_future(in_thread(write))
    assert await asyncio.to_thread(writing.paused.wait, PAUSE_LIMIT)

    begun = sqlite_begins(rotation_store) if durable.kind == "sqlite" else None
    rotation = asyncio.ensure_future(SecretManager(rotation_store, old).rotate_master_key(new))
    await waiting_for_the_lock(durable, begun)
    assert not rotation.done()

    writing.resume.set()
    assert (await writer).key_id == old.key_id  # written under the key current then
    assert await rotation == 2  # and rewrapped by the rotation that waited for it
    await assert_all_under(seed, new, {"a": "value-a", "b": "value-b"})


async def test_a_write_started_inside_a_rotation_runs_after_it(backend: Secrets) -> None:
    """On every store, memory included (where a rotation never yields to the event loop):
    a write started from inside the rotation's transaction only meets the new key."""
    old, new = new_key(), new_key()
    rotation_store = await backend.open()
    writer_store = await backend.open()
    await SecretManager(rotation_store, old).store_secret("a", "value-a")
    writer = SecretManager(writer_store, old)
    loop = asyncio.get_running_loop()
    started: list[Future[SecretMetadata]] = []

    class StartsAWrite(PausingStore):
        def _pause(self) -> None:  # called inside the transaction, on whatever thread
            if not started:
                started.append(
                    asyncio.run_coroutine_threadsafe(writer.store_secret("b", "value-b"), loop)
                )

    rotating = StartsAWrite(rotation_store)
    assert await SecretManager(rotating, old).rotate_master_key(new) == 1
    with pytest.raises(MasterKeyRotatedError):
        await asyncio.wrap_future(started[0])
    await assert_all_under(rotation_store, new, {"a": "value-a"})


# -- steady writes ---------------------------------------------------------------------------


async def test_a_rotation_finishes_while_writes_go_on(backend: Secrets) -> None:
    old, new = new_key(), new_key()
    key_file = [old]  # what every writer's key source reads
    writers = 4
    done = [0] * writers
    refused = [0] * writers
    last: dict[str, str] = {}
    stop = asyncio.Event()

    async def write_steadily(index: int) -> None:
        store = await backend.open()  # a connection of its own (memory: shared)
        manager = SecretManager(store, old, cache_ttl=0, key_source=lambda: key_file[0])
        name = f"writer-{index}"
        while not stop.is_set():
            value = f"{name}-value-{done[index] + refused[index]}"
            try:
                await manager.store_secret(name, value)
            except MasterKeyRotatedError:
                refused[index] += 1
            else:
                last[name] = value
                done[index] += 1
            # Steady, not a tight loop: SQLite's lock is not handed out in turn, and four
            # writers retrying back to back on a loaded machine could starve anyone else.
            # (The memory store never yields by itself: sleep(0) lets the others in.)
            await asyncio.sleep(0.002 if backend.kind == "sqlite" else 0)

    async def each_wrote(at_least: list[int]) -> bool:
        return all(n >= target for n, target in zip(done, at_least, strict=True))

    tasks = [asyncio.create_task(write_steadily(i)) for i in range(writers)]
    try:
        await until(lambda: each_wrote([3] * writers))
        rotation_store = await backend.open()
        rewrapped = await SecretManager(rotation_store, old).rotate_master_key(new)
        assert rewrapped == writers
        key_file[0] = new  # the operator puts the new key in place
        after = list(done)
        await until(lambda: each_wrote([n + 3 for n in after]))
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    await assert_all_under(rotation_store, new, last)
    state = await rotation_store.key_state()
    assert state.unreadable_by(old.key_id) == sum(
        count for _, previous, count in state.wrappings if previous is None
    )


async def test_a_rotation_finishes_while_other_processes_write(
    durable: Secrets, tmp_path: Path
) -> None:
    """Three processes (as three gateway nodes would) write steadily through connections of
    their own, each re-reading its key file when the store moves to another key."""
    key_file, new_file = tmp_path / "keys" / "master.key", tmp_path / "new.key"
    key_file.parent.mkdir()
    old, new = create_key_file(key_file), create_key_file(new_file)
    store = await durable.open()  # migrated before the writers connect
    names = [f"process-{i}" for i in range(3)]
    context = multiprocessing.get_context("spawn")
    writers = [
        context.Process(
            target=write_until_stopped,
            args=(
                durable.kind,
                str(durable.path),
                durable.schema,
                str(key_file),
                name,
            ),
        )
        for name in names
    ]
    for writer in writers:
        writer.start()

    async def each_wrote(at_least: dict[str, int]) -> bool:
        done = {n: int(str(read_status(key_file.parent, n)["done"])) for n in names}
        return all(done[n] >= at_least[n] for n in names)

    try:
        await until(lambda: each_wrote(dict.fromkeys(names, 3)))
        assert await SecretManager(store, old).rotate_master_key(new) == len(names)
        replace_key_file(key_file, new_file)
        before = {n: int(str(read_status(key_file.parent, n)["done"])) for n in names}
        await until(lambda: each_wrote({n: before[n] + 3 for n in names}))
    finally:
        (key_file.parent / "stop").touch()
        for writer in writers:
            await asyncio.to_thread(writer.join, PAUSE_LIMIT)
    assert [writer.exitcode for writer in writers] == [0, 0, 0]
    last = {n: read_status(key_file.parent, n)["last"] for n in names}
    await assert_all_under(store, new, last)


def replace_key_file(path: Path, new: Path) -> None:
    """Put ``new``'s key in ``path`` as an operator would: a private file renamed over it."""
    temporary = path.with_name("replacing.tmp")
    temporary.write_bytes(new.read_bytes())
    temporary.chmod(0o600)
    os.replace(temporary, path)


# -- migrating databases written before key tracking ------------------------------------------


async def create_version_1(backend: Secrets, envelopes: list[SecretEnvelope]) -> None:
    """A secrets database as Lockgate wrote it before the keyring (schema version 1)."""
    rows = [
        (e.name, e.key_id, e.wrapped_key, e.nonce, e.ciphertext, e.created_at, e.updated_at, 1)
        for e in envelopes
    ]
    insert = (
        "INSERT INTO lockgate_secrets (name, key_id, wrapped_key, nonce, ciphertext, "
        "created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )
    if backend.kind == "sqlite":
        with closing(sqlite3.connect(backend.path, isolation_level=None)) as database:
            database.execute("BEGIN")
            sqlite_migrate(
                database,
                versions_table="lockgate_secret_schema",
                migrations=SQLITE_SECRET_MIGRATIONS[:1],
                error=SecretStoreError,
            )
            database.executemany(insert.replace("$", "?"), rows)
            database.execute("COMMIT")
        return
    connection = await asyncpg.connect(PG_DSN)
    try:
        await postgres_migrate(
            connection,
            schema=backend.schema,
            versions_table="lockgate_secret_schema",
            migrations=POSTGRES_SECRET_MIGRATIONS[:1],
            lock_key=1,
            error=SecretStoreError,
        )
        await connection.executemany(
            insert.replace("lockgate_secrets", f'"{backend.schema}".lockgate_secrets'), rows
        )
    finally:
        await connection.close()


async def sealed_by(key: MasterKey, values: dict[str, str]) -> list[SecretEnvelope]:
    """Real envelopes of ``values`` under ``key``."""
    made = InMemorySecretStore()
    manager = SecretManager(made, key)
    envelopes = []
    for name, value in values.items():
        await manager.store_secret(name, value)
        envelope = await made.get(name)
        assert envelope is not None
        envelopes.append(envelope)
    return envelopes


async def test_a_version_1_database_gets_its_secrets_key_as_the_current_one(
    durable: Secrets,
) -> None:
    key = new_key()
    await create_version_1(durable, await sealed_by(key, {"a": "x", "b": "y"}))
    store = await durable.open()
    assert await store.key_state() == await store.key_state()
    state = await store.key_state()
    assert (state.current_key_id, state.wrappings) == (key.key_id, ((key.key_id, None, 2),))
    manager = SecretManager(store, key)
    assert (await manager.get_secret("a")).reveal() == "x"
    assert (await manager.store_secret("c", "z")).version == 1
    with pytest.raises(MasterKeyRotatedError):
        await SecretManager(store, new_key()).store_secret("d", "w")


async def test_a_version_1_database_left_under_two_keys_is_repaired_by_a_rotation(
    durable: Secrets,
) -> None:
    """What the old race left behind: most secrets under the new key, one under the old."""
    old, new = new_key(), new_key()
    envelopes = await sealed_by(new, {"a": "x", "b": "y"}) + await sealed_by(old, {"c": "z"})
    await create_version_1(durable, envelopes)
    store = await durable.open()
    assert (await store.key_state()).current_key_id is None
    for key in (old, new):
        with pytest.raises(MasterKeyError, match="records no current key"):
            await SecretManager(store, key).store_secret("d", "w")
    # `lockgate secrets rotate --key-file OLD --new-key-file NEW` opens both and unites them.
    assert await SecretManager(store, Keyring(old)).rotate_master_key(new) == 3
    await assert_all_under(store, new, {"a": "x", "b": "y", "c": "z"})
    await SecretManager(store, new).store_secret("d", "w")


async def test_an_empty_version_1_database_takes_the_first_writers_key(
    durable: Secrets,
) -> None:
    await create_version_1(durable, [])
    store = await durable.open()
    assert (await store.key_state()).current_key_id is None
    key = new_key()
    await SecretManager(store, key).store_secret("a", "x")
    assert (await store.key_state()).current_key_id == key.key_id
