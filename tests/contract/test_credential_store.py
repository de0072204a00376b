"""The ``ICredentialStore`` contract, one suite run against memory, SQLite and the real
PostgreSQL on this machine (a fresh schema per test, dropped afterwards; PostgreSQL down
fails, not skips)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from lockgate.errors import CredentialExistsError
from lockgate.gateways.interfaces import ICredentialStore
from lockgate.gateways.stores.credentials.memory import InMemoryCredentialStore
from lockgate.gateways.stores.credentials.postgres import PostgresCredentialStore
from lockgate.gateways.stores.credentials.sqlite import SQLiteCredentialStore
from lockgate.models.security.principals import Credential, CredentialKind
from tests.contract.backends import PG_DSN, Backend, Makers
from tests.contract.queue_stores import (
    postgres_hides_the_password,
    refuses_a_newer_schema,
    refuses_when_closed,
    sqlite_open_failure,
)

NOW = 1_700_000_000.0
Store = ICredentialStore
MAKERS: dict[str, Callable[[Path, str], Store]] = {
    "memory": lambda _path, _schema: InMemoryCredentialStore(),
    "sqlite": lambda path, _schema: SQLiteCredentialStore(path),
    "postgres": lambda _path, schema: PostgresCredentialStore(PG_DSN, schema=schema),
}


@pytest.fixture
def makers() -> Makers:
    return MAKERS


def token(name: str, *, scopes: tuple[str, ...] = ("runs:read",), digest: str = "") -> Credential:
    return Credential(
        credential_id=f"id-{name}",
        kind=CredentialKind.TOKEN,
        name=name,
        secret_hash=digest or f"hash-of-{name}",
        created_at=NOW,
        scopes=scopes,
    )


def api_key(name: str, plan: str = "basic") -> Credential:
    return Credential(
        credential_id=f"key-{name}",
        kind=CredentialKind.API_KEY,
        name=name,
        secret_hash=f"key-hash-of-{name}",
        created_at=NOW,
        plan=plan,
    )


async def test_implements_the_protocol(store: Store) -> None:
    assert isinstance(store, ICredentialStore)


async def test_add_find_list_and_revoke(store: Store) -> None:
    ann = token("ann", scopes=("workflows:run", "functions:invoke:reports-*"))
    await store.add(ann)
    await store.add(token("bob"))
    await store.add(api_key("ann"))  # names are unique per kind

    assert await store.find("hash-of-ann") == ann
    assert await store.find("key-hash-of-ann") == api_key("ann")
    assert await store.find("unknown") is None
    assert [c.name for c in await store.list(CredentialKind.TOKEN)] == ["ann", "bob"]
    assert await store.list(CredentialKind.API_KEY) == [api_key("ann")]

    assert await store.revoke(CredentialKind.TOKEN, "ann") is True
    assert await store.revoke(CredentialKind.TOKEN, "ann") is False
    assert await store.find("hash-of-ann") is None
    assert await store.find("key-hash-of-ann") is not None


async def test_a_name_in_use_is_refused_and_nothing_is_written(store: Store) -> None:
    await store.add(token("ann"))
    with pytest.raises(CredentialExistsError, match="a token named 'ann' exists already"):
        await store.add(replace(token("ann"), credential_id="other", secret_hash="other"))
    assert await store.list(CredentialKind.TOKEN) == [token("ann")]


async def test_touch_keeps_the_latest_use(store: Store) -> None:
    await store.add(token("ann"))
    await store.touch({"id-ann": NOW + 10, "id-unknown": NOW})
    await store.touch({"id-ann": NOW + 5})  # an older report (another node) changes nothing
    [found] = await store.list(CredentialKind.TOKEN)
    assert found.last_used_at == NOW + 10


async def test_usage_counts_add_up_per_period_and_drop_old_periods(store: Store) -> None:
    await store.add(api_key("ann"))
    day1, day2 = ("key-ann", "day:2026-12-07"), ("key-ann", "day:2026-12-08")

    assert await store.add_usage({day1: 3}) == {day1: 3}
    assert await store.add_usage({day1: 4}) == {day1: 7}
    assert await store.add_usage({day1: 0}) == {day1: 7}
    assert await store.add_usage({day2: 1}) == {day2: 1}
    assert await store.add_usage({day1: 0}) == {day1: 0}  # the old period was dropped
    assert await store.add_usage({}) == {}


async def test_concurrent_usage_from_several_stores_is_counted_once_each(
    backend: Backend[Store],
) -> None:
    stores = [await backend.open() for _ in range(3)]
    key = ("key-ann", "day:2026-12-07")
    await asyncio.gather(*(s.add_usage({key: 1}) for s in stores for _ in range(20)))
    assert await stores[0].add_usage({key: 0}) == {key: 60}


async def test_a_reopened_store_keeps_everything(durable: Backend[Store]) -> None:
    store = await durable.open()
    await store.add(token("ann"))
    await store.add_usage({("id-ann", "day:x"): 2})
    await store.close()
    reopened = await durable.open()
    assert await reopened.find("hash-of-ann") == token("ann")
    assert await reopened.add_usage({("id-ann", "day:x"): 0}) == {("id-ann", "day:x"): 2}


async def test_a_newer_schema_is_refused(durable: Backend[Store]) -> None:
    await refuses_a_newer_schema(durable, "lockgate_credential_schema")


async def test_a_closed_store_refuses(tmp_path: Path, pg_schema_name: str) -> None:
    for made in (
        SQLiteCredentialStore(tmp_path / "c.sqlite3"),
        PostgresCredentialStore(PG_DSN, schema=pg_schema_name),
    ):
        await refuses_when_closed(
            made,
            "the credential store",
            lambda s: s.find("x"),
            lambda s: s.add(token("ann")),
        )


async def test_sqlite_failure_to_open_says_which_store(tmp_path: Path) -> None:
    await sqlite_open_failure(SQLiteCredentialStore, tmp_path, "the credential store")


async def test_postgres_errors_hide_the_password() -> None:
    await postgres_hides_the_password(PostgresCredentialStore)
