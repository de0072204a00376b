"""SecretManager over the in-memory store: envelope encryption, masking, failures that name
the secret and never show its value, rotation, the cache, and the master key's sources."""

from __future__ import annotations

import os
import pickle
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lockgate.errors import (
    InvalidRequestError,
    MasterKeyError,
    MasterKeyRotatedError,
    SecretDecryptionError,
    SecretNotFoundError,
    http_status,
)
from lockgate.gateways.stores.secrets.memory import InMemorySecretStore
from lockgate.models.secret import SecretValue
from lockgate.use_cases.secrets.manager import SecretManager
from lockgate.use_cases.secrets.master_key import (
    Keyring,
    MasterKey,
    create_key_file,
    generate_master_key,
    load_master_key,
)
from lockgate.use_cases.secrets.redaction import RevealedSecrets

PASSWORD = "correct-horse-battery-staple-9f3a"
CREDS = {"user": "app", "password": PASSWORD}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class CountingStore(InMemorySecretStore):
    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    async def get(self, name: str) -> Any:
        self.gets += 1
        return await super().get(name)


def new_key() -> MasterKey:
    return MasterKey.from_base64(generate_master_key())


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def manager(store: CountingStore, clock: FakeClock) -> SecretManager:
    return SecretManager(store, new_key(), cache_ttl=60.0, clock=clock)


def assert_hidden(thing: object) -> None:
    for text in (repr(thing), str(thing), f"{thing}"):
        assert PASSWORD not in text


async def test_round_trip_str_and_dict(manager: SecretManager) -> None:
    await manager.store_secret("api_token", PASSWORD)
    await manager.store_secret("db", CREDS)
    assert (await manager.get_secret("api_token")).reveal() == PASSWORD
    assert (await manager.get_secret("db")).reveal() == CREDS


async def test_replacing_bumps_the_version_and_keeps_created_at(manager: SecretManager) -> None:
    first = await manager.store_secret("db", CREDS)
    second = await manager.store_secret("db", "other")
    assert (first.version, second.version) == (1, 2)
    assert second.created_at == first.created_at
    assert (await manager.get_secret("db")).reveal() == "other"


async def test_missing_name(manager: SecretManager) -> None:
    with pytest.raises(SecretNotFoundError, match="'nope'") as caught:
        await manager.get_secret("nope")
    assert isinstance(caught.value, LookupError)
    assert http_status(caught.value) == 404
    with pytest.raises(SecretNotFoundError):
        await manager.delete_secret("nope")


async def test_invalid_name_and_value(manager: SecretManager) -> None:
    with pytest.raises(InvalidRequestError, match="name"):
        await manager.store_secret("../etc/passwd", "x")
    with pytest.raises(InvalidRequestError, match="not a JSON value") as caught:
        await manager.store_secret("s", {PASSWORD, "x"})
    assert PASSWORD not in str(caught.value)


async def test_list_shows_names_and_metadata_only(manager: SecretManager) -> None:
    await manager.store_secret("db", CREDS)
    await manager.store_secret("api_token", PASSWORD)
    listing = await manager.list_secrets()
    assert [m.name for m in listing] == ["api_token", "db"]
    assert {m.key_id for m in listing} == {manager.key_id}
    assert_hidden(listing)


async def test_value_never_shows(manager: SecretManager, store: CountingStore) -> None:
    metadata = await manager.store_secret("db", CREDS)
    value = await manager.get_secret("db")
    envelope = await store.get("db")
    for thing in (value, metadata, envelope, manager, store, [value], {"v": value}):
        assert_hidden(thing)
    assert repr(value) == "SecretValue('***')"
    assert value == SecretValue(CREDS)
    with pytest.raises(TypeError):
        pickle.dumps(value)


async def test_wrong_master_key(store: CountingStore) -> None:
    await SecretManager(store, new_key()).store_secret("db", CREDS)
    before = dict(store._secrets)
    other = SecretManager(store, new_key())
    with pytest.raises(MasterKeyRotatedError, match=r"'db'.*wrong master key") as caught:
        await other.get_secret("db")
    with pytest.raises(MasterKeyRotatedError, match="cannot store secret 'new'") as refused:
        await other.store_secret("new", "x")
    with pytest.raises(MasterKeyRotatedError, match="'db'"):
        await other.rotate_master_key(new_key())
    assert store._secrets == before
    assert PASSWORD not in str(caught.value)
    assert caught.value.fields["secret"] == "db"
    assert "Nothing was written" in refused.value.message
    assert http_status(caught.value) == http_status(refused.value) == 409


async def test_corrupted_ciphertext_affects_only_that_secret(
    manager: SecretManager, store: CountingStore
) -> None:
    await manager.store_secret("a", CREDS)
    await manager.store_secret("b", "bee")
    envelope = store._secrets["a"]
    flipped = bytes([envelope.ciphertext[0] ^ 1]) + envelope.ciphertext[1:]
    store._secrets["a"] = replace(envelope, ciphertext=flipped)
    manager._cache.clear()
    with pytest.raises(SecretDecryptionError, match=r"'a'.*failed authentication") as caught:
        await manager.get_secret("a")
    assert PASSWORD not in str(caught.value)
    assert (await manager.get_secret("b")).reveal() == "bee"


async def test_corrupted_wrapped_key(manager: SecretManager, store: CountingStore) -> None:
    await manager.store_secret("a", CREDS)
    envelope = store._secrets["a"]
    # The last byte flipped (set to 0 it was unchanged 1 time in 256: the test then failed).
    corrupted = envelope.wrapped_key[:-1] + bytes([envelope.wrapped_key[-1] ^ 1])
    store._secrets["a"] = replace(envelope, wrapped_key=corrupted)
    manager._cache.clear()
    with pytest.raises(SecretDecryptionError, match=r"'a'.*wrapped data key"):
        await manager.get_secret("a")


async def test_ciphertext_copied_to_another_name_fails(
    manager: SecretManager, store: CountingStore
) -> None:
    await manager.store_secret("a", CREDS)
    await manager.store_secret("b", "bee")
    store._secrets["b"] = replace(store._secrets["a"], name="b")
    with pytest.raises(SecretDecryptionError, match="'b'"):
        await manager.get_secret("b")


async def test_rotation_rewraps_without_reencrypting(store: CountingStore) -> None:
    old, new = new_key(), new_key()
    manager = SecretManager(store, old)
    await manager.store_secret("a", CREDS)
    await manager.store_secret("b", "bee")
    before = dict(store._secrets)
    assert await manager.rotate_master_key(new) == 2
    for name, envelope in store._secrets.items():
        assert envelope.ciphertext == before[name].ciphertext
        assert envelope.nonce == before[name].nonce
        assert envelope.version == before[name].version
        assert envelope.wrapped_key != before[name].wrapped_key
        assert envelope.key_id == new.key_id != old.key_id
        # The old wrapping is kept, so gateways still running with the old key read on.
        assert envelope.previous_key_id == old.key_id
        assert envelope.previous_wrapped_key == before[name].wrapped_key
    assert manager.key_id == new.key_id
    assert (await manager.get_secret("a")).reveal() == CREDS
    assert (await SecretManager(store, new).get_secret("b")).reveal() == "bee"
    assert (await SecretManager(store, old).get_secret("b")).reveal() == "bee"
    await manager.store_secret("c", "sea")
    assert store._secrets["c"].key_id == new.key_id
    assert store._secrets["c"].previous_key_id is None
    state = await manager.key_state()
    assert state.current_key_id == new.key_id
    assert state.previous_key_ids == [old.key_id]

    # Retired: the new key alone reads everything; the old one alone reads nothing.
    assert await SecretManager(store, new).retire_previous_keys() == 3
    assert {e.previous_key_id for e in store._secrets.values()} == {None}
    assert (await SecretManager(store, new).get_secret("b")).reveal() == "bee"
    for name in ("a", "b", "c"):
        with pytest.raises(MasterKeyRotatedError, match=f"'{name}'"):
            await SecretManager(store, old).get_secret(name)
    assert (await manager.key_state()).previous_key_ids == []


async def test_rotation_with_retire_old_drops_the_old_key_at_once(store: CountingStore) -> None:
    old, new = new_key(), new_key()
    await SecretManager(store, old).store_secret("a", CREDS)
    assert await SecretManager(store, old).rotate_master_key(new, retire_old=True) == 1
    assert store._secrets["a"].previous_key_id is None
    with pytest.raises(MasterKeyRotatedError):
        await SecretManager(store, old).get_secret("a")
    assert (await SecretManager(store, new).get_secret("a")).reveal() == CREDS


async def test_retiring_needs_the_current_key(store: CountingStore) -> None:
    old, new = new_key(), new_key()
    await SecretManager(store, old).store_secret("a", "x")
    await SecretManager(store, old).rotate_master_key(new)
    before = dict(store._secrets)
    with pytest.raises(MasterKeyRotatedError, match=f"current key is {new.key_id}"):
        await SecretManager(store, old).retire_previous_keys()
    assert store._secrets == before


class KeySource:
    """A key file stand-in: gives ``key`` (or raises ``error``) and counts the loads."""

    def __init__(self, key: MasterKey) -> None:
        self.key = key
        self.error: MasterKeyError | None = None
        self.loads = 0

    def __call__(self) -> MasterKey:
        self.loads += 1
        if self.error is not None:
            raise self.error
        return self.key


async def test_a_running_manager_follows_a_rotation_through_its_key_source(
    store: CountingStore, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = new_key(), new_key()
    source = KeySource(old)
    running = SecretManager(store, old, cache_ttl=0, key_source=source)
    await running.store_secret("a", CREDS)
    await SecretManager(store, old).rotate_master_key(new)  # `lockgate secrets rotate`

    # The source still gives the old key: reads go on through the kept wrapping, writes
    # are refused with a 409 that says what to do, and nothing is written.
    assert (await running.get_secret("a")).reveal() == CREDS
    before = dict(store._secrets)
    with pytest.raises(MasterKeyRotatedError) as refused:
        await running.store_secret("a", "other")
    assert store._secrets == before
    assert new.key_id in refused.value.message
    assert "restart the gateway with the new master key" in refused.value.message
    assert refused.value.fields["current_key_id"] == new.key_id
    assert source.loads == 2  # re-read once for the read, once for the write
    assert "still gives" in caplog.text

    # The key file now holds the new key: the next write re-loads it and goes through.
    source.key = new
    meta = await running.store_secret("a", "other")
    assert (meta.key_id, meta.version) == (new.key_id, 2)
    assert running.key_id == new.key_id
    assert (await SecretManager(store, new).get_secret("a")).reveal() == "other"
    assert "following a key rotation" in caplog.text


async def test_a_source_that_fails_to_reload_keeps_the_held_key(store: CountingStore) -> None:
    old, new = new_key(), new_key()
    source = KeySource(old)
    running = SecretManager(store, old, cache_ttl=0, key_source=source)
    await running.store_secret("a", "x")
    await SecretManager(store, old).rotate_master_key(new)
    source.error = MasterKeyError("the master key file k has mode 0644")
    assert (await running.get_secret("a")).reveal() == "x"
    with pytest.raises(MasterKeyRotatedError):
        await running.store_secret("b", "y")
    assert running.key_id == old.key_id
    assert "b" not in store._secrets


async def test_a_manager_that_meets_the_new_key_reads_with_it(store: CountingStore) -> None:
    """Retired right after the rotation: only the re-loaded key opens anything."""
    old, new = new_key(), new_key()
    source = KeySource(old)
    running = SecretManager(store, old, cache_ttl=0, key_source=source)
    await running.store_secret("a", "x")
    await SecretManager(store, old).rotate_master_key(new, retire_old=True)
    with pytest.raises(MasterKeyRotatedError, match="'a'"):
        await running.get_secret("a")
    source.key = new
    assert (await running.get_secret("a")).reveal() == "x"
    assert running.key_id == new.key_id


def test_status_codes_are_never_500() -> None:
    assert http_status(MasterKeyRotatedError("m")) == 409
    assert http_status(SecretDecryptionError("m")) == 409
    assert http_status(MasterKeyError("m")) == 503


async def test_decrypted_values_are_remembered_for_the_log_filter(store: CountingStore) -> None:
    revealed = RevealedSecrets()
    manager = SecretManager(store, new_key(), revealed=revealed)
    await manager.store_secret("db", CREDS)
    assert not revealed.redactor  # stored, never decrypted: nothing to hide yet
    await manager.get_secret("db")
    assert revealed.redactor.text(f"login app/{PASSWORD}") == "login app/***"


async def test_keyring_reads_retired_keys(store: CountingStore) -> None:
    old, new = new_key(), new_key()
    await SecretManager(store, old).store_secret("a", "x")
    manager = SecretManager(store, Keyring(new, [old]))
    assert (await manager.get_secret("a")).reveal() == "x"
    assert "Keyring(current=" in repr(Keyring(new, [old]))


async def test_cache_hit_within_ttl_and_expiry(
    manager: SecretManager, store: CountingStore, clock: FakeClock
) -> None:
    await manager.store_secret("a", "x")
    await manager.get_secret("a")
    clock.now = 59.0
    await manager.get_secret("a")
    assert store.gets == 1
    clock.now = 61.0
    await manager.get_secret("a")
    assert store.gets == 2


async def test_cache_invalidated_on_store_delete_and_rotate(
    manager: SecretManager, store: CountingStore
) -> None:
    await manager.store_secret("a", "x")
    assert (await manager.get_secret("a")).reveal() == "x"
    await manager.store_secret("a", "y")
    assert (await manager.get_secret("a")).reveal() == "y"
    await manager.delete_secret("a")
    with pytest.raises(SecretNotFoundError):
        await manager.get_secret("a")
    await manager.store_secret("b", "z")
    await manager.get_secret("b")
    gets = store.gets
    await manager.rotate_master_key(new_key())
    await manager.get_secret("b")
    assert store.gets == gets + 1  # the cache missed after the rotation


async def test_cache_off(store: CountingStore) -> None:
    manager = SecretManager(store, new_key(), cache_ttl=0)
    await manager.store_secret("a", "x")
    await manager.get_secret("a")
    await manager.get_secret("a")
    assert store.gets == 2


# -- the master key ---------------------------------------------------------------------------


def test_master_key_repr_and_id() -> None:
    text = generate_master_key()
    key = MasterKey.from_base64(text)
    assert text not in repr(key)
    assert repr(key) == f"MasterKey(key_id={key.key_id!r})"
    assert len(key.key_id) == 16
    assert MasterKey.from_base64(text).key_id == key.key_id
    with pytest.raises(TypeError):
        pickle.dumps(key)


@pytest.mark.parametrize("text", ["not base64!!", "c2hvcnQ=", ""])
def test_bad_master_keys(text: str) -> None:
    with pytest.raises(MasterKeyError, match="lockgate secrets init-key"):
        MasterKey.from_base64(text)


def test_load_from_environment() -> None:
    text = generate_master_key()
    key = load_master_key(environ={"LOCKGATE_MASTER_KEY": text})
    assert key.key_id == MasterKey.from_base64(text).key_id
    with pytest.raises(MasterKeyError, match=r"LOCKGATE_MASTER_KEY.*init-key"):
        load_master_key(environ={})


def test_key_file(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    created = create_key_file(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_master_key(key_file=path).key_id == created.key_id
    with pytest.raises(MasterKeyError, match="never overwritten"):
        create_key_file(path)


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_text(generate_master_key())
    path.chmod(0o644)
    with pytest.raises(MasterKeyError, match=r"0644.*0600") as caught:
        load_master_key(key_file=path)
    assert path.read_text() not in str(caught.value)


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError, match="cannot read"):
        MasterKey.from_file(tmp_path / "absent.key")
