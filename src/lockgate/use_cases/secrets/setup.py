"""Choosing and opening the gateway's secrets at start-up, failing closed.

With secrets configured (``secrets = "database"``, a shared resource that names
``credentials_ref``, or a secrets table that already holds secrets) and no master key, the
gateway refuses to start and says how to make one; it never runs with credentials it cannot
read, and never writes under a key other than the one the database was created with.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lockgate.errors import ConfigError, MasterKeyError
from lockgate.gateways.interfaces import ISecretBackend, ISecretStore
from lockgate.models.secret import SecretKeyState, SecretMetadata, SecretValue
from lockgate.use_cases.secrets.manager import SecretManager
from lockgate.use_cases.secrets.master_key import NO_KEY, MasterKey
from lockgate.use_cases.secrets.redaction import REVEALED, RevealedSecrets

__all__ = ["OpenSecrets", "RevealingBackend", "SecretBackend", "check_key", "open_secrets"]

logger = logging.getLogger(__name__)


SecretBackend = ISecretBackend
"""The name before ports were ``I``-named (``lockgate.gateways.interfaces.ISecretBackend``)."""


class RevealingBackend:
    """A backend whose values the log filter learns as they are read (the environment
    backend, which does not tell ``REVEALED`` itself: gateways do not import use cases).

    Args:
        backend: The backend read through.
        revealed: Told every value read.
    """

    def __init__(self, backend: SecretBackend, revealed: RevealedSecrets = REVEALED) -> None:
        self.backend = backend
        self._revealed = revealed

    def __repr__(self) -> str:
        return f"RevealingBackend({self.backend!r})"

    async def get_secret(self, name: str) -> SecretValue:
        value = await self.backend.get_secret(name)
        self._revealed.add(value.reveal())
        return value

    async def store_secret(self, name: str, value: Any, *, encrypt: bool = True) -> SecretMetadata:
        return await self.backend.store_secret(name, value, encrypt=encrypt)

    async def delete_secret(self, name: str) -> None:
        await self.backend.delete_secret(name)

    async def list_secrets(self) -> list[SecretMetadata]:
        return await self.backend.list_secrets()


@dataclass(frozen=True, slots=True)
class OpenSecrets:
    """The backend in use (None: no secrets) and the store to close at shutdown."""

    backend: SecretBackend | None
    store: ISecretStore | None
    kind: str

    async def close(self) -> None:
        if self.store is not None:
            await self.store.close()


async def open_secrets(
    mode: str,
    *,
    load_key: Callable[[], MasterKey] | None,
    make_store: Callable[[], ISecretStore] | None,
    environment: Callable[[], SecretBackend],
    needed_by: Mapping[str, str],
    cache_ttl: float,
) -> OpenSecrets:
    """Open the secrets ``mode`` names (``auto``, ``database``, ``env`` or ``off``).

    Args:
        load_key: Reads the configured master key (raising ``MasterKeyError`` when it is
            invalid or its file not private); None when no key is configured at all. The
            manager calls it again to follow a rotation.
        make_store: The encrypted store on the run store's database; None when the run store
            is ``memory://`` (secrets there would not persist).
        environment: Makes the read-only environment backend.
        needed_by: Shared resource name → the secret it names, for the fail-closed message.
        cache_ttl: Seconds decrypted values stay cached.

    Raises:
        MasterKeyError: Secrets are configured and no master key is given, the key given
            is invalid, or the database holds secrets the key does not open (a kept
            wrapping by it counts: a gateway given the previous key after a rotation starts,
            reads, and refuses writes); the message says how to fix it.
        ConfigError: Secrets were asked for (``database``, a shared resource's credentials,
            or a master key) on a ``memory://`` run store.
        SecretStoreError: The store cannot be opened.
    """
    if mode == "off":
        return OpenSecrets(None, None, "off")
    if mode == "env":
        return OpenSecrets(RevealingBackend(environment()), None, "env")
    if make_store is None:
        if mode == "database" or needed_by or load_key is not None:
            raise ConfigError(
                "secrets are configured but the run store is memory://, where they would "
                "not persist: set run_store to sqlite:/// or postgresql://, or secrets = env",
                key="run_store",
            )
        return OpenSecrets(None, None, "off")
    # A key that is configured but unusable is an error, never "no secrets".
    key = load_key() if load_key is not None else None
    store = make_store()
    try:
        await store.open()
        stored = await store.list()
        if key is None:
            reasons = _reasons(mode, needed_by, stored)
            if reasons:
                raise MasterKeyError(
                    f"secrets are configured ({'; '.join(reasons)}) but {NO_KEY} "
                    "(nothing was read or written)"
                )
            await store.close()
            return OpenSecrets(None, None, "off")
        check_key(key, await store.key_state())
    except BaseException:
        await store.close()
        raise
    # The manager re-loads the key from the same source when a rotation moves the store on.
    manager = SecretManager(store, key, cache_ttl=cache_ttl, key_source=load_key)
    return OpenSecrets(manager, store, "database")


def check_key(key: MasterKey, state: SecretKeyState) -> None:
    """Refuses a key that cannot open every stored secret; warns when it opens them only
    through the wrappings a rotation kept (the gateway then reads but cannot write).

    Raises:
        MasterKeyError: Some secret is wrapped by neither ``key`` nor a kept wrapping by it.
    """
    foreign = state.foreign_key_ids(key.key_id)
    if foreign:
        mixed = (
            "; secrets under two keys with none recorded as current were left by an older "
            "Lockgate: `lockgate secrets rotate --key-file OLD --new-key-file NEW` unites them"
            if state.current_key_id is None and state.count > state.unreadable_by(key.key_id)
            else ""
        )
        raise MasterKeyError(
            f"wrong master key: the secrets database holds {state.unreadable_by(key.key_id)} "
            f"secret(s) under master key(s) {', '.join(foreign)} that the configured key "
            f"{key.key_id} does not open; configure the current key (nothing was read or "
            f"written){mixed}",
            key_ids=foreign,
        )
    if state.current_key_id not in (None, key.key_id):
        logger.warning(
            "the secrets were rotated to master key %s; this gateway was given the previous "
            "key %s, which still opens them (until `lockgate secrets retire-key`): it reads, "
            "but refuses writes (409 MasterKeyRotated) until restarted with the new key",
            state.current_key_id,
            key.key_id,
        )


def _reasons(mode: str, needed_by: Mapping[str, str], stored: list[SecretMetadata]) -> list[str]:
    reasons = []
    if mode == "database":
        reasons.append("secrets = database")
    if needed_by:
        named = ", ".join(f"{r} needs {s!r}" for r, s in sorted(needed_by.items()))
        reasons.append(f"shared resources name credentials: {named}")
    if stored:
        reasons.append(f"the database holds {len(stored)} secret(s)")
    return reasons
