"""Opening the secrets at start-up: each mode, and failing closed without (or with the
wrong) master key, leaving the stored secrets exactly as they were."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pytest

from lockgate.errors import (
    ConfigError,
    MasterKeyError,
    MasterKeyRotatedError,
    SecretsReadOnlyError,
)
from lockgate.gateways.stores.secrets.env import EnvironmentSecrets
from lockgate.gateways.stores.secrets.memory import InMemorySecretStore
from lockgate.models.secret import SecretEnvelope
from lockgate.use_cases.secrets.manager import SecretManager
from lockgate.use_cases.secrets.master_key import MasterKey, generate_master_key, load_master_key
from lockgate.use_cases.secrets.redaction import RevealedSecrets
from lockgate.use_cases.secrets.setup import (
    OpenSecrets,
    RevealingBackend,
    SecretBackend,
    open_secrets,
)

PASSWORD = "pw-setup-0c8e2f61b4"


class TrackedStore(InMemorySecretStore):
    """Counts opens and closes, and shows its envelopes for byte-for-byte comparison."""

    def __init__(self) -> None:
        super().__init__()
        self.opens = 0
        self.closes = 0

    async def open(self) -> None:
        self.opens += 1

    async def close(self) -> None:
        self.closes += 1

    async def envelopes(self) -> dict[str, SecretEnvelope]:
        found = {m.name: await self.get(m.name) for m in await self.list()}
        return {name: envelope for name, envelope in found.items() if envelope is not None}


def new_key() -> MasterKey:
    return MasterKey.from_base64(generate_master_key())


def unusable_key() -> MasterKey:
    return load_master_key(environ={"LOCKGATE_MASTER_KEY": "not base64!"})


def environment() -> SecretBackend:
    return EnvironmentSecrets({"LOCKGATE_SECRET_DB_CREDS": '{"password": "x"}'})


async def open_with(
    mode: str,
    store: TrackedStore | None,
    *,
    load_key: Callable[[], MasterKey] | None = None,
    needed_by: Mapping[str, str] | None = None,
) -> OpenSecrets:
    return await open_secrets(
        mode,
        load_key=load_key,
        make_store=None if store is None else (lambda: store),
        environment=environment,
        needed_by=needed_by or {},
        cache_ttl=0.0,
    )


async def holding_a_secret(key: MasterKey) -> TrackedStore:
    store = TrackedStore()
    await SecretManager(store, key).store_secret("db_creds", {"password": PASSWORD})
    return store


# -- modes -----------------------------------------------------------------------------------


async def test_off_opens_nothing() -> None:
    store = TrackedStore()
    opened = await open_with("off", store, load_key=new_key)
    assert (opened.backend, opened.store, opened.kind) == (None, None, "off")
    assert store.opens == 0


async def test_env_is_the_read_only_environment_backend() -> None:
    store = TrackedStore()
    opened = await open_with("env", store, needed_by={"main_db": "db_creds"})
    assert isinstance(opened.backend, RevealingBackend)
    assert isinstance(opened.backend.backend, EnvironmentSecrets)
    assert opened.kind == "env"
    assert opened.store is None
    assert (await opened.backend.get_secret("db_creds")).reveal() == {"password": "x"}
    assert store.opens == 0


async def test_values_read_from_the_environment_are_hidden_from_logs() -> None:
    revealed = RevealedSecrets()
    backend = RevealingBackend(
        EnvironmentSecrets({"LOCKGATE_SECRET_TOKEN": "tok-from-env-5d1c"}), revealed
    )
    assert [m.name for m in await backend.list_secrets()] == ["token"]
    assert (await backend.get_secret("token")).reveal() == "tok-from-env-5d1c"
    assert revealed.redactor.text("sent tok-from-env-5d1c") == "sent ***"
    with pytest.raises(SecretsReadOnlyError):
        await backend.store_secret("token", "x")
    with pytest.raises(SecretsReadOnlyError):
        await backend.delete_secret("token")


@pytest.mark.parametrize("mode", ["database", "auto"])
async def test_a_master_key_opens_the_encrypted_store(mode: str) -> None:
    key = new_key()
    store = await holding_a_secret(key)
    opened = await open_with(mode, store, load_key=lambda: key)
    assert isinstance(opened.backend, SecretManager)
    assert opened.backend.key_id == key.key_id
    assert opened.kind == "database"
    assert opened.store is store
    assert (await opened.backend.get_secret("db_creds")).reveal() == {"password": PASSWORD}
    assert (store.opens, store.closes) == (1, 0)
    await opened.close()
    assert store.closes == 1


async def test_auto_without_a_key_and_an_empty_store_runs_without_secrets() -> None:
    store = TrackedStore()
    opened = await open_with("auto", store)
    assert (opened.backend, opened.store, opened.kind) == (None, None, "off")
    assert (store.opens, store.closes) == (1, 1)


async def test_a_memory_run_store_without_secrets_configured_runs_without_them() -> None:
    opened = await open_with("auto", None)
    assert (opened.backend, opened.kind) == (None, "off")


# -- failing closed --------------------------------------------------------------------------


async def test_auto_without_a_key_but_stored_secrets_refuses_to_start() -> None:
    store = await holding_a_secret(new_key())
    before = await store.envelopes()
    with pytest.raises(MasterKeyError) as caught:
        await open_with("auto", store)
    message = caught.value.message
    assert "the database holds 1 secret(s)" in message
    assert "no master key" in message
    assert "`lockgate secrets init-key`" in message
    assert "nothing was read or written" in message
    assert PASSWORD not in str(caught.value)
    assert await store.envelopes() == before
    assert (store.opens, store.closes) == (1, 1)


async def test_database_mode_without_a_key_refuses_to_start() -> None:
    store = TrackedStore()
    with pytest.raises(MasterKeyError) as caught:
        await open_with("database", store)
    assert "secrets = database" in caught.value.message
    assert "`lockgate secrets init-key`" in caught.value.message
    assert store.closes == 1


async def test_a_shared_resource_naming_credentials_without_a_key_refuses_to_start() -> None:
    store = TrackedStore()
    with pytest.raises(MasterKeyError) as caught:
        await open_with("auto", store, needed_by={"main_db": "db_creds"})
    assert "main_db needs 'db_creds'" in caught.value.message
    assert "`lockgate secrets init-key`" in caught.value.message
    assert store.closes == 1


async def test_the_wrong_master_key_refuses_to_start_and_touches_nothing() -> None:
    right, wrong = new_key(), new_key()
    store = await holding_a_secret(right)
    before = await store.envelopes()
    for mode in ("auto", "database"):
        with pytest.raises(MasterKeyError) as caught:
            await open_with(mode, store, load_key=lambda: wrong)
        message = caught.value.message
        assert message.startswith("wrong master key")
        assert right.key_id in message
        assert wrong.key_id in message
        assert caught.value.fields["key_ids"] == [right.key_id]
        assert PASSWORD not in str(caught.value)
    assert await store.envelopes() == before  # byte-identical envelopes
    assert store.closes == 2


async def test_an_invalid_key_is_reported_even_in_auto_mode_when_secrets_exist() -> None:
    store = await holding_a_secret(new_key())

    def short_key() -> MasterKey:
        return MasterKey.from_base64("c2hvcnQ=")

    with pytest.raises(MasterKeyError, match="is 5 bytes, expected 32"):
        await open_with("auto", store, load_key=short_key)


@pytest.mark.parametrize(
    ("mode", "needed_by"), [("database", {}), ("auto", {"main_db": "db_creds"})]
)
async def test_secrets_on_a_memory_run_store_are_a_config_error(
    mode: str, needed_by: dict[str, Any]
) -> None:
    with pytest.raises(ConfigError) as caught:
        await open_with(mode, None, load_key=new_key, needed_by=needed_by)
    assert "memory://" in caught.value.message
    assert caught.value.fields["key"] == "run_store"


async def test_a_configured_but_unusable_key_refuses_to_start_even_with_nothing_stored() -> None:
    store = TrackedStore()
    with pytest.raises(MasterKeyError, match="not base64"):
        await open_with("auto", store, load_key=unusable_key)
    assert store.opens == 0


async def test_a_master_key_on_a_memory_run_store_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"memory://"):
        await open_with("auto", None, load_key=new_key)


# -- after a rotation ------------------------------------------------------------------------


async def test_after_a_rotation_the_previous_key_starts_reading_but_not_writing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    old, new = new_key(), new_key()
    store = await holding_a_secret(old)
    await SecretManager(store, old).rotate_master_key(new)

    with_new = await open_with("database", store, load_key=lambda: new)
    assert isinstance(with_new.backend, SecretManager)
    assert (await with_new.backend.get_secret("db_creds")).reveal() == {"password": PASSWORD}
    assert "was given the previous key" not in caplog.text

    with_old = await open_with("database", store, load_key=lambda: old)
    assert isinstance(with_old.backend, SecretManager)
    assert "was given the previous key" in caplog.text
    assert (await with_old.backend.get_secret("db_creds")).reveal() == {"password": PASSWORD}
    with pytest.raises(MasterKeyRotatedError):
        await with_old.backend.store_secret("db_creds", "x")


async def test_after_retiring_the_previous_key_refuses_to_start() -> None:
    old, new = new_key(), new_key()
    store = await holding_a_secret(old)
    await SecretManager(store, old).rotate_master_key(new)
    await SecretManager(store, new).retire_previous_keys()
    with pytest.raises(MasterKeyError, match="wrong master key") as caught:
        await open_with("database", store, load_key=lambda: old)
    assert caught.value.fields["key_ids"] == [new.key_id]


async def test_the_opened_manager_re_loads_its_key_from_the_same_source() -> None:
    old, new = new_key(), new_key()
    store = await holding_a_secret(old)
    configured = [old]
    opened = await open_with("database", store, load_key=lambda: configured[0])
    assert isinstance(opened.backend, SecretManager)
    await SecretManager(store, old).rotate_master_key(new, retire_old=True)
    configured[0] = new  # the key file was replaced
    assert (await opened.backend.get_secret("db_creds")).reveal() == {"password": PASSWORD}
    assert opened.backend.key_id == new.key_id


async def test_a_database_left_under_two_keys_says_how_to_unite_them() -> None:
    old, new = new_key(), new_key()
    store = await holding_a_secret(new)
    await SecretManager(store, new).store_secret("other", "x")
    # What the old race left: one secret still under the old key, no current key recorded.
    store._secrets["other"] = replace(
        (await holding_a_secret(old))._secrets["db_creds"], name="other"
    )
    store._current_key_id = None
    with pytest.raises(MasterKeyError) as caught:
        await open_with("database", store, load_key=lambda: new)
    assert "--key-file OLD --new-key-file NEW" in caught.value.message
    assert caught.value.fields["key_ids"] == [old.key_id]
