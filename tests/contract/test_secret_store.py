"""The ``ISecretStore`` contract, over memory, SQLite and the real PostgreSQL on this
machine (a fresh schema per test, dropped afterwards; PostgreSQL down fails, not skips)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from lockgate.errors import MasterKeyRotatedError, SecretStoreError
from lockgate.gateways.interfaces import ISecretStore
from lockgate.gateways.stores.runs.sqlite import SQLiteRunStore
from lockgate.gateways.stores.secrets.memory import InMemorySecretStore
from lockgate.gateways.stores.secrets.postgres import PostgresSecretStore
from lockgate.gateways.stores.secrets.sqlite import SQLiteSecretStore
from lockgate.models.secret import SecretEnvelope, SecretKeyState, SecretMetadata
from lockgate.use_cases.secrets.manager import SecretManager
from lockgate.use_cases.secrets.master_key import MasterKey
from tests.contract.backends import PG_DSN, drop_schema, fresh_schema


def sealed(envelope: SecretEnvelope) -> Callable[[SecretMetadata | None], SecretEnvelope]:
    """A ``seal`` that stores ``envelope`` whatever it replaces."""
    return lambda _previous: envelope


async def put(store: ISecretStore, envelope: SecretEnvelope) -> SecretEnvelope:
    return await store.put(envelope.name, sealed(envelope))


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
    assert await put(secret_store, envelope) == envelope
    assert await secret_store.get("db/main") == envelope
    assert await secret_store.get("missing") is None


async def test_put_replaces_and_shows_seal_what_it_replaces(secret_store: ISecretStore) -> None:
    seen: list[SecretMetadata | None] = []

    def seal(version: int) -> Callable[[SecretMetadata | None], SecretEnvelope]:
        def make(previous: SecretMetadata | None) -> SecretEnvelope:
            seen.append(previous)
            return make_envelope("a", version=version)

        return make

    await secret_store.put("a", seal(1))
    second = await secret_store.put("a", seal(2))
    assert await secret_store.get("a") == second
    assert seen == [None, make_envelope("a").metadata]
    assert [m.version for m in await secret_store.list()] == [2]


async def test_the_first_write_sets_the_current_key_and_others_are_refused(
    secret_store: ISecretStore,
) -> None:
    assert await secret_store.key_state() == SecretKeyState(None, ())
    await put(secret_store, make_envelope("a"))
    with pytest.raises(MasterKeyRotatedError, match="current master key is k1") as caught:
        await put(secret_store, make_envelope("a", version=2, key_id="k2"))
    assert caught.value.fields == {"secret": "a", "key_id": "k2", "current_key_id": "k1"}
    with pytest.raises(MasterKeyRotatedError):
        await put(secret_store, make_envelope("b", key_id="k2"))
    assert await secret_store.get("a") == make_envelope("a")
    assert await secret_store.get("b") is None
    assert await secret_store.key_state() == SecretKeyState("k1", (("k1", None, 1),))


async def test_a_seal_under_the_wrong_name_is_refused(secret_store: ISecretStore) -> None:
    with pytest.raises(SecretStoreError, match="put under 'b'"):
        await secret_store.put("b", sealed(make_envelope("a")))
    assert await secret_store.list() == []


async def test_delete(secret_store: ISecretStore) -> None:
    await put(secret_store, make_envelope("a"))
    assert await secret_store.delete("a") is True
    assert await secret_store.delete("a") is False
    assert await secret_store.get("a") is None


async def test_list_is_metadata_by_name(secret_store: ISecretStore) -> None:
    for name in ("b", "a", "c"):
        await put(secret_store, make_envelope(name))
    listing = await secret_store.list()
    assert [m.name for m in listing] == ["a", "b", "c"]
    assert listing[0] == SecretMetadata(
        name="a", created_at=1000.0, updated_at=1001.0, key_id="k1", version=1
    )


def rewrap_to(key_id: str) -> Callable[[SecretEnvelope], bytes]:
    """A ``rewrap`` that makes a recognisable wrapped key for ``key_id`` and each name."""
    return lambda envelope: f"{key_id}:{envelope.name}".encode()


async def test_rewrap_all_keeps_the_previous_wrapping(secret_store: ISecretStore) -> None:
    await put(secret_store, make_envelope("a"))
    await put(secret_store, make_envelope("b", version=3))
    assert await secret_store.rewrap_all("k2", rewrap_to("k2"), keep_previous=True) == 2
    a = await secret_store.get("a")
    assert a == replace(
        make_envelope("a"),
        key_id="k2",
        wrapped_key=b"k2:a",
        previous_key_id="k1",
        previous_wrapped_key=make_envelope("a").wrapped_key,
    )
    b = await secret_store.get("b")
    assert b is not None
    assert (b.ciphertext, b.nonce, b.version) == (b"\x00\xffcipherb", b"\x02" * 12, 3)
    state = await secret_store.key_state()
    assert state.current_key_id == "k2"
    assert state.wrappings == (("k2", "k1", 2),)
    assert state.previous_key_ids == ["k1"]
    assert (state.unreadable_by("k1"), state.unreadable_by("k2"), state.unreadable_by("k3")) == (
        0,
        0,
        2,
    )

    # The new key's writes go through, the old key's are refused; a new value keeps nothing.
    with pytest.raises(MasterKeyRotatedError):
        await put(secret_store, make_envelope("a", version=2))
    await put(secret_store, make_envelope("c", key_id="k2"))
    assert set((await secret_store.key_state()).wrappings) == {("k2", "k1", 2), ("k2", None, 1)}

    # Rewrapped again for the same key, the kept wrapping stays kept.
    await secret_store.rewrap_all("k2", rewrap_to("k2"), keep_previous=True)
    a = await secret_store.get("a")
    assert a is not None
    assert (a.previous_key_id, a.previous_wrapped_key) == ("k1", make_envelope("a").wrapped_key)

    # A second rotation keeps only the wrapping it replaces.
    await secret_store.rewrap_all("k3", rewrap_to("k3"), keep_previous=True)
    a = await secret_store.get("a")
    assert a is not None
    assert (a.key_id, a.previous_key_id, a.previous_wrapped_key) == ("k3", "k2", b"k2:a")


async def test_rewrap_all_without_keeping_drops_every_old_wrapping(
    secret_store: ISecretStore,
) -> None:
    await put(secret_store, make_envelope("a"))
    await secret_store.rewrap_all("k2", rewrap_to("k2"), keep_previous=True)
    assert await secret_store.rewrap_all("k2", rewrap_to("k2"), keep_previous=False) == 1
    a = await secret_store.get("a")
    assert a is not None
    assert (a.key_id, a.wrapped_key, a.previous_key_id, a.previous_wrapped_key) == (
        "k2",
        b"k2:a",
        None,
        None,
    )
    assert await secret_store.key_state() == SecretKeyState("k2", (("k2", None, 1),))


async def test_rewrap_all_is_all_or_nothing(secret_store: ISecretStore) -> None:
    for name in ("a", "b", "c"):
        await put(secret_store, make_envelope(name))

    def fails_on_b(envelope: SecretEnvelope) -> bytes:
        if envelope.name == "b":
            raise MasterKeyRotatedError("b is under a key this rotation cannot open")
        return b"new"

    with pytest.raises(MasterKeyRotatedError, match="b is under"):
        await secret_store.rewrap_all("k2", fails_on_b, keep_previous=True)
    for name in ("a", "b", "c"):
        assert await secret_store.get(name) == make_envelope(name)
    assert (await secret_store.key_state()).current_key_id == "k1"


async def test_rewrap_all_of_nothing_sets_the_current_key(secret_store: ISecretStore) -> None:
    assert await secret_store.rewrap_all("k2", rewrap_to("k2"), keep_previous=True) == 0
    assert await secret_store.key_state() == SecretKeyState("k2", ())
    with pytest.raises(MasterKeyRotatedError):
        await put(secret_store, make_envelope("a", key_id="k1"))


async def test_survives_reopening(reopen: Callable[[], ISecretStore]) -> None:
    first = reopen()
    await first.open()
    await put(first, make_envelope("a"))
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
        await put(secrets, make_envelope("a"))
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
    assert after.previous_key_id == old.key_id
    fresh = SecretManager(secret_store, new)
    assert (await fresh.get_secret("db")).reveal() == {"user": "app", "password": "pw-1b2c"}
    assert (await SecretManager(secret_store, old).get_secret("db")).reveal()["user"] == "app"
    with pytest.raises(MasterKeyRotatedError):
        await SecretManager(secret_store, old).store_secret("db", "x")
    await fresh.retire_previous_keys()
    with pytest.raises(MasterKeyRotatedError):
        await SecretManager(secret_store, old).get_secret("db")


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
