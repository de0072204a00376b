"""``SecretManager()`` as seed 002 makes it: no store and no key given, both found at first use.

    secret_manager = SecretManager(cache_ttl=300)  # Cache secrets for 5 minutes
    await secret_manager.store_secret("db_creds", {"user": "app", "password": "..."})

The store is the run store's database (``Settings().run_store``: the SQLite file beside the
config, or PostgreSQL), as the gateway's own secrets are; the master key is
``LOCKGATE_MASTER_KEY`` or ``master_key_file``. Without a key it fails closed, at first use,
saying how to make one. With a ``memory://`` run store nothing persists, so the secrets are
kept in memory under a key made for this process.

The use-case class (``lockgate.use_cases.secrets.manager.SecretManager``) stays strict: it
takes a store and a key and never looks anything up. This subclass only finds them.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

from lockgate.bootstrap import secret_store
from lockgate.config.locations import store_kind
from lockgate.config.settings import Settings
from lockgate.gateways.interfaces import ISecretStore
from lockgate.gateways.stores.secrets.memory import InMemorySecretStore
from lockgate.models.secret import SecretKeyState, SecretMetadata, SecretValue
from lockgate.use_cases.secrets.manager import SecretManager as _StrictSecretManager
from lockgate.use_cases.secrets.master_key import (
    KEY_BYTES,
    MASTER_KEY_ENV,
    Keyring,
    MasterKey,
    load_master_key,
)
from lockgate.use_cases.secrets.setup import check_key

__all__ = ["SecretManager"]

logger = logging.getLogger(__name__)


class SecretManager(_StrictSecretManager):
    """The ``SecretManager`` with defaults: what is not given is found at first use.

    Args:
        store: Where the envelopes are kept; the run store's database by default.
        keyring: The master key (or a keyring); the configured one by default.
        cache_ttl: Seconds a decrypted value is served from memory (0 turns it off).
        settings: Where the defaults come from; ``Settings()`` (the environment) by default,
            or the gateway's when this manager is handed to ``EnhancedDurableAPIGateway``
            before its first use.
        **kwargs: The strict class's other keywords (``clock``, ``wall_clock``,
            ``key_source``, ``revealed``).

    Raises (at first use, from any method):
        MasterKeyError: No master key is configured (the message says how to make one), it
            is invalid, or the store holds secrets it does not open.
        ConfigError, SecretStoreError: The store cannot be opened.
    """

    def __init__(
        self,
        store: ISecretStore | None = None,
        keyring: Keyring | MasterKey | None = None,
        *,
        cache_ttl: float = 300.0,
        settings: Settings | None = None,
        **kwargs: Any,
    ) -> None:
        self._given = (store, keyring)
        self._options: dict[str, Any] = {"cache_ttl": cache_ttl, **kwargs}
        self._settings = settings
        self._opened = False
        self._owned: ISecretStore | None = None  # a store opened here, closed by aclose
        self._opening: asyncio.Lock | None = None
        if store is not None and keyring is not None:  # nothing to find: strict at once
            super().__init__(store, keyring, **self._options)
            self._opened = True

    def __repr__(self) -> str:
        if not self._opened:
            return "SecretManager(not opened yet)"
        return super().__repr__()

    @property
    def key_id(self) -> str:
        """The id of the current master key.

        Raises:
            RuntimeError: The manager has not been used yet (its key is found then).
        """
        if not self._opened:
            raise RuntimeError("the SecretManager finds its master key at first use")
        return super().key_id

    def use_settings(self, settings: Settings) -> None:
        """Find the defaults in ``settings`` (a gateway's), unless this manager was given
        settings of its own or is open already."""
        if self._settings is None and not self._opened:
            self._settings = settings

    async def open(self) -> None:
        """Find the store and the key now (every method does it at first use).

        Raises:
            MasterKeyError, ConfigError, SecretStoreError: As the class says.
        """
        if self._opened:
            return
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if not self._opened:
                await self._open(self._settings or Settings())

    async def _open(self, settings: Settings) -> None:
        store, keyring = self._given
        source: Callable[[], MasterKey] | None = None
        if keyring is None:
            keyring, source = _configured_key(settings)
        if store is None:
            memory = store_kind(settings) == "memory"
            store = InMemorySecretStore() if memory else secret_store(settings)
            await store.open()
            current = keyring if isinstance(keyring, MasterKey) else keyring.current
            try:
                check_key(current, await store.key_state())
            except BaseException:
                await store.close()
                raise
            self._owned = store
        options = dict(self._options)
        if source is not None:
            options.setdefault("key_source", source)
        _StrictSecretManager.__init__(self, store, keyring, **options)
        self._opened = True
        logger.info("secrets opened (%s)", type(store).__name__)

    async def aclose(self) -> None:
        """Close the store this manager opened itself (not one it was given); the next
        use opens it again."""
        owned, self._owned = self._owned, None
        if owned is not None:
            self._opened = False
            await owned.close()

    async def store_secret(self, name: str, value: Any, *, encrypt: bool = True) -> SecretMetadata:
        await self.open()
        return await super().store_secret(name, value, encrypt=encrypt)

    async def get_secret(self, name: str) -> SecretValue:
        await self.open()
        return await super().get_secret(name)

    async def delete_secret(self, name: str) -> None:
        await self.open()
        await super().delete_secret(name)

    async def list_secrets(self) -> list[SecretMetadata]:
        await self.open()
        return await super().list_secrets()

    async def key_state(self) -> SecretKeyState:
        await self.open()
        return await super().key_state()

    async def rotate_master_key(self, new_key: MasterKey, *, retire_old: bool = False) -> int:
        await self.open()
        return await super().rotate_master_key(new_key, retire_old=retire_old)

    async def retire_previous_keys(self) -> int:
        await self.open()
        return await super().retire_previous_keys()


def _configured_key(settings: Settings) -> tuple[MasterKey, Callable[[], MasterKey] | None]:
    """The configured master key and how to read it again (a rotation is followed); with a
    ``memory://`` run store and no key configured, one made for this process.

    Raises:
        MasterKeyError: No key is configured for a durable store (saying how to make one),
            or the one configured is invalid.
    """
    configured = settings.master_key_file is not None or bool(os.environ.get(MASTER_KEY_ENV))
    if not configured and store_kind(settings) == "memory":
        # Nothing outlives the process, so neither need the key: it guards what is in memory.
        return MasterKey(os.urandom(KEY_BYTES)), None

    def load() -> MasterKey:
        return load_master_key(key_file=settings.master_key_file)

    return load(), load
