"""``StoreFactory``: every store on the run store's database, chosen in one place.

``run_store`` names one database (``memory://``, a SQLite file, or a PostgreSQL DSN and
schema), and every family keeps its tables there: workflow runs, event deliveries, ``Event``
invocations, job runs, secrets, tokens and API keys. Each family is one row of ``_FAMILIES``
(its adapters by backend); the choice among them is made once, in ``_make``. Drivers are
imported when a store of theirs is made, so a CLI command on SQLite never loads asyncpg.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from lockgate.config.locations import sqlite_path, store_kind, store_url
from lockgate.config.settings import Settings
from lockgate.errors import ConfigError
from lockgate.gateways.interfaces import (
    IAsyncInvocationStore,
    ICredentialStore,
    IEventStore,
    IJobStore,
    IRunStore,
    ISecretStore,
)

__all__ = ["StoreFactory"]


@dataclass(frozen=True, slots=True)
class _Family:
    """One store family's adapters, as ``module:Class`` under ``gateways.stores``."""

    memory: str
    sqlite: str
    postgres: str
    synchronous: bool = False  # whether its SQLite store takes ``sqlite_synchronous``


_FAMILIES = {
    "runs": _Family(
        "runs.memory:InMemoryRunStore",
        "runs.sqlite:SQLiteRunStore",
        "runs.postgres:PostgresRunStore",
        synchronous=True,
    ),
    "events": _Family(
        "events.memory:InMemoryEventStore",
        "events.sqlite:SQLiteEventStore",
        "events.postgres:PostgresEventStore",
    ),
    "invocations": _Family(
        "invocations.memory:InMemoryAsyncInvocationStore",
        "invocations.sqlite:SQLiteAsyncInvocationStore",
        "invocations.postgres:PostgresAsyncInvocationStore",
        synchronous=True,
    ),
    "jobs": _Family(
        "jobs.memory:InMemoryJobStore",
        "jobs.sqlite:SQLiteJobStore",
        "jobs.postgres:PostgresJobStore",
        synchronous=True,
    ),
    "secrets": _Family(
        "secrets.memory:InMemorySecretStore",
        "secrets.sqlite:SQLiteSecretStore",
        "secrets.postgres:PostgresSecretStore",
    ),
    "credentials": _Family(
        "credentials.memory:InMemoryCredentialStore",
        "credentials.sqlite:SQLiteCredentialStore",
        "credentials.postgres:PostgresCredentialStore",
    ),
}


def _adapter(spec: str) -> Any:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(f"lockgate.gateways.stores.{module}"), name)


class StoreFactory:
    """Makes the stores ``settings.run_store`` names (SQLite beside the config by default).

    Args:
        settings: Where the run store is, and SQLite's ``synchronous`` setting.
    """

    def __init__(self, settings: Settings) -> None:
        self.kind = store_kind(settings)  # "memory", "sqlite" or "postgres"
        self._settings = settings

    def __repr__(self) -> str:
        return f"StoreFactory({self.kind})"  # never the DSN: it may hold a password

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file every store shares, or None on another backend."""
        return sqlite_path(self._settings) if self.kind == "sqlite" else None

    def runs(self) -> IRunStore:
        return cast(IRunStore, self._make("runs"))

    def events(self) -> IEventStore:
        return cast(IEventStore, self._make("events"))

    def invocations(self) -> IAsyncInvocationStore:
        return cast(IAsyncInvocationStore, self._make("invocations"))

    def jobs(self) -> IJobStore:
        return cast(IJobStore, self._make("jobs"))

    def credentials(self) -> ICredentialStore:
        return cast(ICredentialStore, self._make("credentials"))

    def secrets(self) -> ISecretStore:
        """The secret store.

        Raises:
            ConfigError: The run store is ``memory://``: secrets stored there would vanish
                with the process.
        """
        if self.kind == "memory":
            raise ConfigError(
                "the run store is memory://, so secrets would not persist: set run_store to "
                "a sqlite:/// or postgresql:// URL (LOCKGATE_RUN_STORE or [gateway] run_store)",
                key="run_store",
            )
        return cast(ISecretStore, self._make("secrets"))

    def _make(self, name: str) -> Any:
        family = _FAMILIES[name]
        if self.kind == "memory":
            return _adapter(family.memory)()
        if self.kind == "postgres":
            return _adapter(family.postgres)(store_url(self._settings))
        sqlite = _adapter(family.sqlite)
        path = sqlite_path(self._settings)
        if family.synchronous:
            return sqlite(path, synchronous=self._settings.sqlite_synchronous)
        return sqlite(path)
