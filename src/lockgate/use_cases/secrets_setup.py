"""Choosing and opening the gateway's secrets at start-up, failing closed.

With secrets configured (``secrets = "database"``, a shared resource that names
``credentials_ref``, or a secrets table that already holds secrets) and no master key, the
gateway refuses to start and says how to make one; it never runs with credentials it cannot
read, and never writes under a key other than the one the database was created with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from lockgate.errors import ConfigError, MasterKeyError
from lockgate.gateways.interfaces import ISecretStore
from lockgate.models.secret import SecretMetadata, SecretValue
from lockgate.use_cases.master_key import NO_KEY, MasterKey
from lockgate.use_cases.secret_manager import SecretManager

__all__ = ["OpenSecrets", "SecretBackend", "open_secrets"]


class SecretBackend(Protocol):
    """What the gateway asks of its secrets: the ``SecretManager`` or the read-only
    environment backend."""

    async def get_secret(self, name: str) -> SecretValue: ...

    async def store_secret(
        self, name: str, value: Any, *, encrypt: bool = True
    ) -> SecretMetadata: ...

    async def delete_secret(self, name: str) -> None: ...

    async def list_secrets(self) -> list[SecretMetadata]: ...


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
            invalid or its file not private); None when no key is configured at all.
        make_store: The encrypted store on the run store's database; None when the run store
            is ``memory://`` (secrets there would not persist).
        environment: Makes the read-only environment backend.
        needed_by: Shared resource name → the secret it names, for the fail-closed message.
        cache_ttl: Seconds decrypted values stay cached.

    Raises:
        MasterKeyError: Secrets are configured and no master key is given, the key given
            is invalid, or the database holds secrets under another key; the message says
            how to fix it.
        ConfigError: Secrets were asked for (``database``, a shared resource's credentials,
            or a master key) on a ``memory://`` run store.
        SecretStoreError: The store cannot be opened.
    """
    if mode == "off":
        return OpenSecrets(None, None, "off")
    if mode == "env":
        return OpenSecrets(environment(), None, "env")
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
        foreign = sorted({m.key_id for m in stored} - {key.key_id})
        if foreign:
            raise MasterKeyError(
                f"wrong master key: the secrets database holds secrets under master key(s) "
                f"{', '.join(foreign)}, but the configured key is {key.key_id}; configure the "
                "key they were stored with (nothing was read or written)",
                key_ids=foreign,
            )
    except BaseException:
        await store.close()
        raise
    return OpenSecrets(SecretManager(store, key, cache_ttl=cache_ttl), store, "database")


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
