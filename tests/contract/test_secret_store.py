"""The ``ISecretStore`` contract, over memory, SQLite and the real PostgreSQL on this
machine (a fresh schema per test, dropped afterwards; PostgreSQL down fails, not skips)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from lockgate.errors import SecretStoreError
from lockgate.gateways.interfaces import ISecretStore
from lockgate.gateways.memory_secret_store import InMemorySecretStore
from lockgate.gateways.postgres_secret_store import PostgresSecretStore
from lockgate.gateways.sqlite_run_store import SQLiteRunStore
from lockgate.gateways.sqlite_secret_store import SQLiteSecretStore
from lockgate.models.secret import SecretEnvelope, SecretMetadata, SecretRewrap
from lockgate.use_cases.master_key import MasterKey
from lockgate.use_cases.secret_manager import SecretManager
from tests.contract.conftest import PG_DSN, drop_schema, fresh_schema


def make_envelope(name: str, *, version: int = 1, key_id: str = "k1") -> SecretEnvelope:
    return SecretEnvelope(
        name=name,
        key_id=key_id,
        wrapped_key=b"\x01" * 60,
        nonce=b"\x02" * 12,
        ciphertext=b"\x00\xffcipher" + name.encode(),
        created_at=1000.0,
        updated_at=1000.0 + version,
        version=version,
    )


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def reopen(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[[], ISecretStore]]:
    """Makes stores on one set of data (in memory: the same store again)."""
    schema = fresh_schema()
    memory = InMemorySecretStore()
    makers: dict[str, Callable[[], ISecretStore]] = {
        "memory": lambda: memory,
        "sqlite": lambda: SQLiteSecretStore(tmp_path / "lockgate.sqlite3"),
        "postgres": lambda: PostgresSecretStore(PG_DSN, schema=schema),
    }
    try:
        yield makers[request.param]
    finally:
        if request.param == "postgres":
            await drop_schema(schema)


@pytest.fixture
async def secret_store(reopen: Callable[[], ISecretStore]) -> AsyncIterator[ISecretStore]:
    store = reopen()
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def test_implements_the_protocol(secret_store: ISecretStore) -> None:
    assert isinstance(secret_store, ISecretStore)


async def test_put_get_round_trip(secret_store: ISecretStore) -> None:
    envelope = make_envelope("db/main")
    await secret_store.put("db/main", envelope)
    assert await secret_store.get("db/main") == envelope
    assert await secret_store.get("missing") is None


async def test_put_replaces(secret_store: ISecretStore) -> None:
    await secret_store.put("a", make_envelope("a"))
    second = make_envelope("a", version=2, key_id="k2")
    await secret_store.put("a", second)
    assert await secret_store.get("a") == second
    assert [m.version for m in await secret_store.list()] == [2]


async def test_delete(secret_store: ISecretStore) -> None:
    await secret_store.put("a", make_envelope("a"))
    assert await secret_store.delete("a") is True
    assert await secret_store.delete("a") is False
    assert await secret_store.get("a") is None


async def test_list_is_metadata_by_name(secret_store: ISecretStore) -> None:
    for name in ("b", "a", "c"):
        await secret_store.put(name, make_envelope(name))
    listing = await secret_store.list()
    assert [m.name for m in listing] == ["a", "b", "c"]
    assert listing[0] == SecretMetadata(
        name="a", created_at=1000.0, updated_at=1001.0, key_id="k1", version=1
    )


async def test_rewrap_changes_only_wrapped_key_and_key_id(secret_store: ISecretStore) -> None:
    await secret_store.put("a", make_envelope("a"))
    await secret_store.put("b", make_envelope("b", version=3))
    await secret_store.rewrap(
        [SecretRewrap("a", b"\x09" * 60, "k2", 1), SecretRewrap("b", b"\x08" * 60, "k2", 3)]
    )
    a = await secret_store.get("a")
    assert a == replace(make_envelope("a"), wrapped_key=b"\x09" * 60, key_id="k2")
    b = await secret_store.get("b")
    assert b is not None
    assert b.key_id == "k2"
    assert b.ciphertext == make_envelope("b").ciphertext


@pytest.mark.parametrize("stale", ["version", "missing"])
async def test_rewrap_is_all_or_nothing(secret_store: ISecretStore, stale: str) -> None:
    await secret_store.put("a", make_envelope("a"))
    await secret_store.put("b", make_envelope("b", version=2))
    last = (
        SecretRewrap("b", b"\x08" * 60, "k2", 1)
        if stale == "version"
        else (SecretRewrap("zz", b"\x08" * 60, "k2", 1))
    )
    with pytest.raises(SecretStoreError, match="during the rewrap"):
        await secret_store.rewrap([SecretRewrap("a", b"\x09" * 60, "k2", 1), last])
    assert await secret_store.get("a") == make_envelope("a")
    assert await secret_store.get("b") == make_envelope("b", version=2)


async def test_survives_reopening(reopen: Callable[[], ISecretStore]) -> None:
    first = reopen()
    await first.open()
    await first.put("a", make_envelope("a"))
    await first.close()
    second = reopen()
    await second.open()
    await second.open()  # idempotent
    try:
        assert await second.get("a") == make_envelope("a")
    finally:
        await second.close()
        await second.close()


async def test_sqlite_shares_the_run_stores_file(tmp_path: Path) -> None:
    path = tmp_path / "lockgate.sqlite3"
    runs = SQLiteRunStore(path)
    secrets = SQLiteSecretStore(path)
    await runs.open()
    await secrets.open()
    try:
        await secrets.put("a", make_envelope("a"))
        assert await secrets.get("a") == make_envelope("a")
    finally:
        await secrets.close()
        await runs.close()


async def test_closed_store_refuses(tmp_path: Path) -> None:
    for store in (SQLiteSecretStore(tmp_path / "x.sqlite3"), PostgresSecretStore(PG_DSN)):
        with pytest.raises(SecretStoreError, match="not open"):
            await store.get("a")


def test_postgres_schema_is_validated() -> None:
    with pytest.raises(ValueError, match="identifier"):
        PostgresSecretStore(PG_DSN, schema='x"; DROP TABLE y; --')


async def test_postgres_down_is_a_store_error_without_password() -> None:
    store = PostgresSecretStore("postgresql://u:hunter2@127.0.0.1:1/db")
    with pytest.raises(SecretStoreError) as caught:
        await store.open()
    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in repr(store)


async def test_manager_round_trip_and_rotation(secret_store: ISecretStore) -> None:
    old, new = MasterKey(os.urandom(32)), MasterKey(os.urandom(32))
    manager = SecretManager(secret_store, old)
    await manager.store_secret("db", {"user": "app", "password": "pw-1b2c"})
    before = await secret_store.get("db")
    await manager.rotate_master_key(new)
    after = await secret_store.get("db")
    assert before is not None
    assert after is not None
    assert after.ciphertext == before.ciphertext
    assert after.key_id == new.key_id
    fresh = SecretManager(secret_store, new)
    assert (await fresh.get_secret("db")).reveal() == {"user": "app", "password": "pw-1b2c"}


async def test_sqlite_file_never_holds_the_plaintext(tmp_path: Path) -> None:
    path = tmp_path / "lockgate.sqlite3"
    store = SQLiteSecretStore(path)
    await store.open()
    plaintext = "plaintext-canary-7c1e9b2d44"
    try:
        manager = SecretManager(store, MasterKey(os.urandom(32)))
        await manager.store_secret("canary", plaintext)
        await manager.store_secret("canary_dict", {"password": plaintext})
        assert (await manager.get_secret("canary")).reveal() == plaintext
    finally:
        await store.close()
    assert _files_holding(tmp_path, b"canary_dict") == [path]  # the scan sees the rows
    assert _files_holding(tmp_path, plaintext.encode()) == []


def _files_holding(folder: Path, needle: bytes) -> list[Path]:
    """The database files (the database, any WAL or journal left) that contain ``needle``."""
    return [p for p in sorted(folder.iterdir()) if needle in p.read_bytes()]
