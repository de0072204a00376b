"""``StoreFactory``: one choice of backend for every store family, from ``run_store``."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockgate.errors import ConfigError
from lockgate.gateways.stores.factory import StoreFactory
from lockgate.settings import Settings

FAMILIES = ("runs", "events", "invocations", "jobs", "secrets", "credentials")
PREFIX = {"memory": "InMemory", "sqlite": "SQLite", "postgres": "Postgres"}


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("memory://", "memory"),
        ("sqlite:///{tmp}/runs.sqlite3", "sqlite"),
        ("postgresql://app:hunter2@127.0.0.1:5432/test", "postgres"),
    ],
)
def test_every_family_is_made_on_the_run_stores_backend(
    url: str, kind: str, tmp_path: Path
) -> None:
    factory = StoreFactory(Settings(run_store=url.format(tmp=tmp_path)))
    assert factory.kind == kind
    assert "hunter2" not in repr(factory)
    for family in FAMILIES:
        if family == "secrets" and kind == "memory":
            continue
        store = getattr(factory, family)()
        assert type(store).__name__.startswith(PREFIX[kind]), (family, type(store).__name__)
    expected = tmp_path / "runs.sqlite3" if kind == "sqlite" else None
    assert factory.sqlite_path == expected


def test_secrets_refuse_a_memory_run_store_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="memory://, so secrets would not persist") as caught:
        StoreFactory(Settings(run_store="memory://")).secrets()
    assert caught.value.fields["key"] == "run_store"
